"""The completion email (SPEC 2): one per member with notifications on, in the member's language.

Sent only by ``jobs._on_final``, which makes sure it goes out once per job."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from imports import selectors
from imports.models import ImportJob


def job_finished_email(*, job: ImportJob) -> int:
    """Email the finished job's outcome to the members; returns how many emails were sent."""
    links = {
        "job_url": settings.SITE_URL + reverse("dashboard:job_detail", args=[job.project.app_id, job.pk]),
        "error_csv_url": settings.SITE_URL
        + reverse("dashboard:job_error_csv", args=[job.project.app_id, job.pk]),
        "remainder_csv_url": settings.SITE_URL
        + reverse("dashboard:job_remainder_csv", args=[job.project.app_id, job.pk]),
    }
    sent = 0
    for email, language in selectors.notification_recipients(project=job.project):
        with translation.override(language):
            context = {"job": job, "project": job.project, **links}
            subject = render_to_string("emails/job_finished_subject.txt", context).strip()
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("emails/job_finished.txt", context),
                to=[email],
            )
            message.attach_alternative(render_to_string("emails/job_finished.html", context), "text/html")
            sent += message.send()
    return sent
