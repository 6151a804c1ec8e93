"""The completion email (SPEC 2): one per member with notifications on, in the member's language.

Sent only by ``jobs._on_final``, which makes sure it goes out once per job (an undo's email:
``undo.undo_finished_notify``, once per undo)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from imports import selectors
from imports.models import ImportJob, Project


def job_finished_email(*, job: ImportJob) -> int:
    """Email the finished job's outcome to the members; returns how many emails were sent."""
    links = {
        "job_url": settings.SITE_URL + reverse("dashboard:job_detail", args=[job.project.app_id, job.pk]),
        "error_csv_url": settings.SITE_URL
        + reverse("dashboard:job_error_csv", args=[job.project.app_id, job.pk]),
        "remainder_csv_url": settings.SITE_URL
        + reverse("dashboard:job_remainder_csv", args=[job.project.app_id, job.pk]),
    }
    return members_email(project=job.project, template="emails/job_finished", context={"job": job, **links})


def members_email(*, project: Project, template: str, context: dict) -> int:
    """Send ``template`` (``_subject.txt``, ``.txt``, ``.html``) to every member with notifications
    on, each in their own language; returns how many were sent."""
    sent = 0
    for email, language in selectors.notification_recipients(project=project):
        with translation.override(language):
            context = {"project": project, **context}
            message = EmailMultiAlternatives(
                subject=render_to_string(f"{template}_subject.txt", context).strip(),
                body=render_to_string(f"{template}.txt", context),
                to=[email],
            )
            message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
            sent += message.send()
    return sent
