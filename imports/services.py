"""Every state change of tenant data (STYLE.md: services named <entity>_<action>)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from imports.credentials import TOKEN_PREFIX_CHARS, api_token_digest, api_token_generate
from imports import sources
from imports.models import ApiToken, ImportJob, Membership, Project

if TYPE_CHECKING:
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
        created_by=created_by,
        started_by=started_by,
        dry_run=dry_run,
    )


def import_job_enqueue(*, job: ImportJob) -> None:
    """Hand the job to a django-q2 worker once the transaction that created it has committed."""
    transaction.on_commit(lambda: async_task("imports.tasks.import_job_run", job.pk, task_name=f"import-job-{job.pk}"))


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
