"""Every state change of tenant data (STYLE.md: services named <entity>_<action>)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from imports.credentials import TOKEN_PREFIX_CHARS, api_token_digest, api_token_generate
from imports import selectors, sources
from imports.models import (
    ApiRequestCount,
    ApiToken,
    EventDefinition,
    ImportJob,
    ImportPart,
    Membership,
    ProfileKey,
    Project,
)

if TYPE_CHECKING:
    from datetime import datetime
    from typing import IO

    from django.contrib.auth.models import AbstractBaseUser

    from imports.core.reader import Message


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


def import_job_create(
    *,
    project: Project,
    kind: str,
    source: str,
    file_name: str,
    content: IO[bytes],
    created_by: AbstractBaseUser | None = None,
    started_by: str = "",
    dry_run: bool = False,
    checksum: str = "",
) -> ImportJob:
    """Store the file and create its job in ``queued``; the caller enqueues it (import_job_enqueue)."""
    key, size = sources.job_file_store(project=project, kind=kind, file_name=file_name, content=content)
    return ImportJob.objects.create(
        project=project,
        kind=kind,
        source=source,
        file_name=file_name[:1024],
        storage_key=key,
        byte_size=size,
        checksum=checksum,
        created_by=created_by,
        started_by=started_by,
        dry_run=dry_run,
    )


def import_job_rename(*, job: ImportJob, file_name: str) -> ImportJob:
    """The name the history, the job page and the emails give the job's file."""
    job.file_name = file_name[:1024]
    job.save(update_fields=["file_name"])
    return job


def import_job_enqueue(*, job: ImportJob) -> None:
    """Hand the job to a django-q2 worker once the transaction that created it has committed."""
    transaction.on_commit(lambda: async_task("imports.tasks.import_job_run", job.pk, task_name=f"import-job-{job.pk}"))


def import_part_enqueue(*, part: ImportPart) -> None:
    """One task per part of a big file, so several workers (or hosts) share it."""
    transaction.on_commit(
        lambda: async_task("imports.tasks.import_part_run", part.pk, task_name=f"import-job-{part.job_id}-part-{part.index}")
    )


def import_job_fail(*, job_id: int, message: Message) -> None:
    """Give the job its final ``failed`` state; the message is kept in English and as a template to translate."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.is_final:
            return
        job.state = ImportJob.State.FAILED
        job.failure_message = str(message)
        job.summary = {**job.summary, "failure": {"template": message.template, "params": message.params}}
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "failure_message", "summary", "finished_at"])


# --- Dashboard: dry runs, event and profile-key settings, member preferences ------------------


def import_job_create_from_dry_run(*, job: ImportJob, created_by: AbstractBaseUser | None) -> tuple[ImportJob, bool]:
    """Import the file a finished dry run checked, for real; (job, created).

    Asking twice (a double click, two members) returns the import already made from that file.
    """
    if not job.dry_run or job.state != ImportJob.State.VALIDATED:
        raise ValueError(f"job {job.pk} is not a finished dry run")
    with transaction.atomic():
        ImportJob.objects.select_for_update().get(pk=job.pk)
        if earlier := selectors.import_job_imported_from(job=job):
            return earlier, False
        new = ImportJob.objects.create(
            project_id=job.project_id,
            kind=job.kind,
            source=job.source,
            file_name=job.file_name,
            storage_key=job.storage_key,
            byte_size=job.byte_size,
            checksum=job.checksum,
            created_by=created_by,
            summary={"dry_run_job": job.pk},
        )
        import_job_enqueue(job=new)
    return new, True


class EnabledLimitReached(Exception):
    """Turning one more event or profile key On would go over the project's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _enabled_set(model: type[EventDefinition | ProfileKey], item_id: int, enabled: bool, limit_field: str):
    """Switch one item; On is refused at the limit. The project row is locked, as the importers lock it
    before adding definitions, so an import and a click cannot both take the last free place."""
    with transaction.atomic():
        project_id = model.objects.values_list("project_id", flat=True).get(pk=item_id)
        project = Project.objects.select_for_update().get(pk=project_id)
        item = model.objects.select_for_update().get(pk=item_id)
        if item.enabled == enabled:
            return item
        limit = getattr(project, limit_field)
        if enabled and model.objects.filter(project=project, enabled=True).count() >= limit:
            raise EnabledLimitReached(limit)
        item.enabled = enabled
        item.save(update_fields=["enabled"])
    return item


def event_definition_set_enabled(*, definition: EventDefinition, enabled: bool) -> EventDefinition:
    """Turn an event On (refused with EnabledLimitReached at project.max_enabled_events) or Off."""
    return _enabled_set(EventDefinition, definition.pk, enabled, "max_enabled_events")


def profile_key_set_enabled(*, key: ProfileKey, enabled: bool) -> ProfileKey:
    """Turn a profile key On (refused with EnabledLimitReached at project.max_enabled_profile_keys) or Off."""
    return _enabled_set(ProfileKey, key.pk, enabled, "max_enabled_profile_keys")


def event_definition_rename(*, definition: EventDefinition, display_name: str) -> EventDefinition:
    """A blank display name goes back to the event's name (its default, SPEC 3)."""
    definition.display_name = display_name.strip()[:191] or definition.name
    definition.save(update_fields=["display_name"])
    return definition


def membership_set_language(*, membership: Membership, language: str) -> Membership:
    """The language of the member's import emails."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unsupported language {language!r}")
    membership.language = language
    membership.save(update_fields=["language"])
    return membership


# --- HTTP API: rate limit counts, API v3 direct uploads ----------------------------------------


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


def import_job_await_upload(
    *,
    project: Project,
    kind: str,
    storage_key: str,
    byte_size: int,
    checksum: str,
    started_by: str,
    upload: dict[str, Any],
) -> ImportJob:
    """An API v3 job in ``awaiting_upload``: its file is to be PUT at ``storage_key`` in the bucket.

    ``upload`` (content type, when the URL expires and until when an upload is accepted) is kept
    in the summary; byte size and checksum are what the request declared, checked before importing.
    """
    return ImportJob.objects.create(
        project=project,
        kind=kind,
        source=ImportJob.Source.API_V3,
        state=ImportJob.State.AWAITING_UPLOAD,
        file_name=storage_key.rsplit("/", 1)[-1],
        storage_key=storage_key,
        byte_size=byte_size,
        checksum=checksum,
        started_by=started_by,
        summary={"direct_upload": upload},
    )


@transaction.atomic
def import_job_upload_arrive(*, job_id: int, etag: str, size: int, arrived_at: datetime) -> ImportJob | None:
    """Bind an awaiting API v3 job to the object that arrived (its ETag) and queue it; its run checks
    the object before importing. None if the job is no longer awaiting its upload."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.state != ImportJob.State.AWAITING_UPLOAD:
        return None
    upload = {**job.summary.get("direct_upload", {}), "size": size, "arrived_at": arrived_at.isoformat()}
    job.s3_etag = etag
    job.summary = {**job.summary, "direct_upload": upload}
    job.state = ImportJob.State.QUEUED
    job.save(update_fields=["s3_etag", "summary", "state"])
    import_job_enqueue(job=job)
    return job
