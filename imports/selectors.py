"""Every read of tenant data, always scoped by project or by the user's memberships."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from imports.credentials import api_token_digest
from imports.models import ApiToken, ImportJob, Membership, Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user)


def membership_get_for_user(*, user: AbstractBaseUser, app_id: str) -> Membership:
    """The user's membership of the project, or 404: non-members cannot tell the project exists."""
    return get_object_or_404(Membership.objects.select_related("project"), user=user, project__app_id=app_id)


def project_for_api_token(*, token: str) -> Project | None:
    """The project whose current token is ``token``; the lookup is by digest, so timing reveals nothing."""
    api_token = ApiToken.objects.select_related("project").filter(token_hash=api_token_digest(token)).first()
    return api_token.project if api_token else None


def import_job_list(*, project: Project, kind: str | None = None) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.filter(project=project).select_related("created_by")
    return jobs.filter(kind=kind) if kind else jobs


def import_job_get(*, project: Project, job_id: int) -> ImportJob:
    return get_object_or_404(ImportJob, project=project, pk=job_id)


def notification_recipients(*, project: Project) -> list[tuple[str, str]]:
    """(email, language) of every member of the project who has notifications on."""
    return list(
        Membership.objects.filter(project=project, email_notifications=True)
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", "language")
    )
