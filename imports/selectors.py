"""Every read of tenant data, always scoped by project or by the user's memberships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from imports.credentials import api_token_digest
from imports.models import (
    ApiToken,
    EventDefinition,
    ImportJob,
    ImportRowError,
    Membership,
    ProfileKey,
    Project,
    S3AccessKey,
)

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user)


def project_list() -> QuerySet[Project]:
    """Every project, for the work done for all of them (S3 discovery)."""
    return Project.objects.order_by("pk").only("pk", "app_id")


def project_get_by_app_id(*, app_id: str) -> Project | None:
    return Project.objects.filter(app_id=app_id).first()


def user_get_by_username(*, username: str) -> AbstractBaseUser | None:
    return get_user_model().objects.filter(username=username).first()


def membership_get_for_user(*, user: AbstractBaseUser, app_id: str) -> Membership:
    """The user's membership of the project, or 404: non-members cannot tell the project exists."""
    return get_object_or_404(Membership.objects.select_related("project"), user=user, project__app_id=app_id)


def project_for_api_token(*, token: str) -> Project | None:
    """The project whose current token is ``token``; the lookup is by digest, so timing reveals nothing."""
    api_token = ApiToken.objects.select_related("project").filter(token_hash=api_token_digest(token)).first()
    return api_token.project if api_token else None


def api_token_exists(*, project: Project) -> bool:
    return ApiToken.objects.filter(project=project).exists()


def import_job_list(*, project: Project, kind: str | None = None) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.filter(project=project).select_related("created_by")
    return jobs.filter(kind=kind) if kind else jobs


def import_job_get(*, project: Project, job_id: int) -> ImportJob:
    return get_object_or_404(ImportJob, project=project, pk=job_id)


def import_job_find(*, project: Project, job_id: int) -> ImportJob | None:
    """The project's job, or None (the API answers its own 404 body)."""
    if not 0 < job_id < 2**63:  # beyond a database id, and some backends overflow on it
        return None
    return ImportJob.objects.select_related("project").filter(project=project, pk=job_id).first()


def notification_recipients(*, project: Project) -> list[tuple[str, str]]:
    """(email, language) of every member of the project who has notifications on."""
    return list(
        Membership.objects.filter(project=project, email_notifications=True)
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", "language")
    )


# --- Dashboard ---------------------------------------------------------------------------------


def import_job_list_by_ids(*, project: Project, job_ids: list[int]) -> QuerySet[ImportJob]:
    return import_job_list(project=project).filter(pk__in=job_ids)


def s3_access_key_list_active(*, project: Project) -> QuerySet[S3AccessKey]:
    return S3AccessKey.objects.filter(project=project, revoked_at__isnull=True)


def s3_access_key_active(*, project: Project) -> S3AccessKey | None:
    return s3_access_key_list_active(project=project).first()


def s3_access_key_get_active(*, project: Project, access_key_id: str) -> S3AccessKey:
    return get_object_or_404(s3_access_key_list_active(project=project), access_key_id=access_key_id)


def s3_access_key_get(*, access_key_id: str) -> S3AccessKey | None:
    """Any project's key (operators name the key alone; its project follows from it)."""
    return S3AccessKey.objects.select_related("project").filter(access_key_id=access_key_id).first()


def event_definition_list(*, project: Project, search: str = "") -> QuerySet[EventDefinition]:
    definitions = EventDefinition.objects.filter(project=project).select_related("created_by_job")
    if search:
        definitions = definitions.filter(Q(name__icontains=search) | Q(display_name__icontains=search))
    return definitions.order_by("name")


def event_definition_get(*, project: Project, definition_id: int) -> EventDefinition:
    return get_object_or_404(EventDefinition, project=project, pk=definition_id)


def event_definition_enabled_count(*, project: Project) -> int:
    return EventDefinition.objects.filter(project=project, enabled=True).count()


def profile_key_list(*, project: Project) -> QuerySet[ProfileKey]:
    return ProfileKey.objects.filter(project=project).select_related("created_by_job").order_by("name")


def profile_key_get(*, project: Project, key_id: int) -> ProfileKey:
    return get_object_or_404(ProfileKey, project=project, pk=key_id)


def profile_key_enabled_count(*, project: Project) -> int:
    return ProfileKey.objects.filter(project=project, enabled=True).count()


@dataclass
class ReasonGroup:
    reason: str
    rows: int
    samples: list[ImportRowError] = field(default_factory=list)


def import_row_error_groups(*, job: ImportJob, limit: int = 20, samples: int = 3) -> tuple[list[ReasonGroup], int]:
    """The job's row-error reasons, most frequent first, with the first rows of each; and how many
    distinct reasons there are in all. Reasons are unnested in SQL: a job can have a million failed rows."""
    if connection.vendor == "postgresql":
        unnest, reason = "CROSS JOIN LATERAL jsonb_array_elements_text(e.reasons) AS x(reason)", "x.reason"
    else:
        unnest, reason = ", json_each(e.reasons) AS x", "x.value"
    table = ImportRowError._meta.db_table
    rows_cte = f"SELECT DISTINCT e.id, e.number, {reason} AS reason FROM {table} e {unnest} WHERE e.job_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH r AS ({rows_cte}),
                top AS (SELECT reason, COUNT(*) AS n FROM r GROUP BY reason ORDER BY n DESC, reason LIMIT %s),
                ranked AS (SELECT r.reason, r.id, ROW_NUMBER() OVER (PARTITION BY r.reason ORDER BY r.number) AS k
                           FROM r JOIN top ON top.reason = r.reason)
            SELECT top.reason, top.n, ranked.id FROM top JOIN ranked ON ranked.reason = top.reason AND ranked.k <= %s
            ORDER BY top.n DESC, top.reason, ranked.k""",
            [job.pk, limit, samples],
        )
        found = cursor.fetchall()
        cursor.execute(f"WITH r AS ({rows_cte}) SELECT COUNT(DISTINCT reason) FROM r", [job.pk])
        (total,) = cursor.fetchone()
    errors = ImportRowError.objects.in_bulk([row_id for _, _, row_id in found])
    groups: dict[str, ReasonGroup] = {}
    for text, count, row_id in found:
        groups.setdefault(text, ReasonGroup(text, count)).samples.append(errors[row_id])
    return list(groups.values()), total


def import_job_imported_from(*, job: ImportJob) -> ImportJob | None:
    """The real import of the file a dry run checked, if someone started it."""
    return (
        ImportJob.objects.filter(project_id=job.project_id, storage_key=job.storage_key, dry_run=False)
        .order_by("created_at", "id")
        .first()
    )


# --- HTTP API ----------------------------------------------------------------------------------


def import_job_awaiting_upload_list() -> QuerySet[ImportJob]:
    """API v3 jobs of every project still waiting for their file (S3 discovery looks for each)."""
    return ImportJob.objects.filter(
        state=ImportJob.State.AWAITING_UPLOAD, source=ImportJob.Source.API_V3
    ).order_by("pk")


def import_job_direct_upload_get(*, job_id: int) -> ImportJob | None:
    """An API v3 job by id alone, for the PUT to the server's own upload URL: there is no project
    at hand there, the URL's signature is what authorises it (as S3's does)."""
    return ImportJob.objects.select_related("direct_upload").filter(pk=job_id, source=ImportJob.Source.API_V3).first()


def import_job_embedded_uploads_expired(*, now: datetime) -> QuerySet[ImportJob]:
    """Jobs awaiting an upload to this server's own URL after it stopped accepting one."""
    return import_job_awaiting_upload_list().filter(direct_upload__embedded=True, direct_upload__accept_until__lt=now)


def import_job_s3_objects(*, project: Project, keys: list[str]) -> set[tuple[str, str]]:
    """(key, ETag) of the bucket objects among ``keys`` that already have their job."""
    # s3_etag != "" lets the database use the partial index of job_unique_s3_object.
    return set(
        ImportJob.objects.filter(project=project, storage_key__in=keys)
        .exclude(s3_etag="")
        .values_list("storage_key", "s3_etag")
    )


def import_job_direct_upload_keys(*, project: Project, keys: list[str]) -> set[str]:
    """Which of these bucket keys belong to API v3 jobs: only those jobs ever import them."""
    return set(
        ImportJob.objects.filter(project=project, source=ImportJob.Source.API_V3, storage_key__in=keys).values_list(
            "storage_key", flat=True
        )
    )


def event_definition_created_by(*, job: ImportJob) -> list[tuple[str, bool]]:
    """(name, on now) of the events the job created, by name."""
    return list(
        EventDefinition.objects.filter(project_id=job.project_id, created_by_job=job)
        .order_by("name")
        .values_list("name", "enabled")
    )
