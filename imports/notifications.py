"""The completion email (SPEC 2): one per member with notifications on, in the member's language."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from imports import selectors
from imports.models import ImportJob
from imports.webhooks import services as webhooks


def job_finished_notify(*, job: ImportJob) -> int:
    """Email the job's outcome once; returns how many emails were sent."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().select_related("project").get(pk=job.pk)
        if locked.notified_at is not None or not locked.is_final:
            return 0
        locked.notified_at = timezone.now()
        locked.save(update_fields=["notified_at"])
    webhooks.job_finished_enqueue(job=locked)
    # Marked first: a crash here loses an email rather than sending duplicates on every retry.
    links = {
        "job_url": settings.SITE_URL + reverse("dashboard:job_detail", args=[locked.project.app_id, locked.pk]),
        "error_csv_url": settings.SITE_URL
        + reverse("dashboard:job_error_csv", args=[locked.project.app_id, locked.pk]),
    }
    sent = 0
    for email, language in selectors.notification_recipients(project=locked.project):
        with translation.override(language):
            context = {"job": locked, "project": locked.project, **links}
            subject = render_to_string("emails/job_finished_subject.txt", context).strip()
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("emails/job_finished.txt", context),
                to=[email],
            )
            message.attach_alternative(render_to_string("emails/job_finished.html", context), "text/html")
            sent += message.send()
    return sent
