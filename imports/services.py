"""Every state change of tenant data (STYLE.md: services named <entity>_<action>)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction

from imports.credentials import TOKEN_PREFIX_CHARS, api_token_digest, api_token_generate
from imports.models import ApiToken, Membership, Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def user_get_or_create(*, email: str) -> AbstractBaseUser:
    """Find a login by email (case-insensitive) or create one without a usable password."""
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).order_by("id").first()
    if user is None:
        user = User.objects.create_user(username=email, email=email)
    return user


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
