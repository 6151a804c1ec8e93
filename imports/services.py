"""Every state change of tenant data (STYLE.md: services named <entity>_<action>), except the state of
import jobs and their parts, which ``imports.jobs`` owns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F

from imports import selectors
from imports.core.limits import MAX_NAME_CHARS
from imports.credentials import TOKEN_PREFIX_CHARS, api_token_digest, api_token_generate
from imports.models import ApiRequestCount, ApiToken, EventDefinition, Membership, ProfileKey, Project

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import AbstractBaseUser


def user_get_or_create(*, email: str) -> AbstractBaseUser:
    """Find a login by email (case-insensitive) or create one without a usable password."""
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).order_by("id").first()
    if user is None:
        user = User.objects.create_user(username=email, email=email)
    return user


def superuser_create(*, username: str, email: str, password: str) -> AbstractBaseUser:
    """A login that may also use /admin/ (the embedded mode's demo login)."""
    return get_user_model().objects.create_superuser(username, email, password)


@transaction.atomic
def project_create(*, name: str, owner: AbstractBaseUser) -> Project:
    project = Project.objects.create(name=name)
    membership_add(project=project, user=owner)
    return project


def membership_add(*, project: Project, user: AbstractBaseUser) -> Membership:
    membership, _ = Membership.objects.get_or_create(project=project, user=user)
    return membership


def membership_set_notifications(*, membership: Membership, enabled: bool) -> Membership:
    membership.email_notifications = enabled
    membership.save(update_fields=["email_notifications"])
    return membership


@transaction.atomic
def api_token_reissue(*, project: Project, by: AbstractBaseUser | None = None) -> str:
    """Replace the project's token; returns the full new token, which is never stored or shown again."""
    token = api_token_generate()
    ApiToken.objects.filter(project=project).delete()
    ApiToken.objects.create(
        project=project,
        token_hash=api_token_digest(token),
        prefix=token[:TOKEN_PREFIX_CHARS],
        created_by=by,
    )
    return token


# --- Dashboard: event and profile-key settings, member preferences -----------------------------


class EnabledLimitReached(Exception):
    """Turning one more event or profile key On would go over the project's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _enabled_set(
    model: type[EventDefinition | ProfileKey], item_id: int, enabled: bool, limit_field: str,
    enabled_count: Callable[..., int],
):
    """Switch one item; On is refused at the limit. The project row is locked, as the importers lock it
    before adding definitions, so an import and a click cannot both take the last free place."""
    with transaction.atomic():
        project_id = model.objects.values_list("project_id", flat=True).get(pk=item_id)
        project = Project.objects.select_for_update().get(pk=project_id)
        item = model.objects.select_for_update().get(pk=item_id)
        if item.enabled == enabled:
            return item
        limit = getattr(project, limit_field)
        if enabled and enabled_count(project=project) >= limit:
            raise EnabledLimitReached(limit)
        item.enabled = enabled
        item.save(update_fields=["enabled"])
    return item


def event_definition_set_enabled(*, definition: EventDefinition, enabled: bool) -> EventDefinition:
    """Turn an event On (refused with EnabledLimitReached at project.max_enabled_events) or Off."""
    return _enabled_set(
        EventDefinition, definition.pk, enabled, "max_enabled_events", selectors.event_definition_enabled_count
    )


def profile_key_set_enabled(*, key: ProfileKey, enabled: bool) -> ProfileKey:
    """Turn a profile key On (refused with EnabledLimitReached at project.max_enabled_profile_keys) or Off."""
    return _enabled_set(ProfileKey, key.pk, enabled, "max_enabled_profile_keys", selectors.profile_key_enabled_count)


def event_definition_rename(*, definition: EventDefinition, display_name: str) -> EventDefinition:
    """A blank display name goes back to the event's name (its default, SPEC 3)."""
    definition.display_name = display_name.strip()[:MAX_NAME_CHARS] or definition.name
    definition.save(update_fields=["display_name"])
    return definition


def membership_set_language(*, membership: Membership, language: str) -> Membership:
    """The language of the member's import emails."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unsupported language {language!r}")
    membership.language = language
    membership.save(update_fields=["language"])
    return membership


# --- HTTP API: rate limit counts ------------------------------------------------------------------


def api_request_count(*, feature: str, token_digest: str, window_start: int) -> int:
    """Count one API request in its rate-limit window; returns the window's count so far.

    One INSERT … ON CONFLICT DO UPDATE … RETURNING (PostgreSQL; SQLite since 3.35) is atomic
    however many web processes count at once. A window's first request clears the older windows.
    """
    table = ApiRequestCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (feature, token_digest, window_start, requests) VALUES (%s, %s, %s, 1) "
            f"ON CONFLICT (feature, token_digest, window_start) DO UPDATE SET requests = {table}.requests + 1 "
            "RETURNING requests",
            [feature, token_digest, window_start],
        )
        (count,) = cursor.fetchone()
    if count == 1:
        ApiRequestCount.objects.filter(window_start__lt=window_start).delete()
    return count


def api_request_uncount(*, feature: str, token_digest: str, window_start: int) -> None:
    """Give back one counted request of the window (one atomic UPDATE, never below 0)."""
    ApiRequestCount.objects.filter(
        feature=feature, token_digest=token_digest, window_start=window_start, requests__gt=0
    ).update(requests=F("requests") - 1)
