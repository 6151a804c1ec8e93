"""Every change to webhook endpoints and deliveries (STYLE.md: services named <entity>_<action>)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_q.tasks import async_task

from imports.core import webhooks as core
from imports.models import ImportJob, Project, WebhookDelivery, WebhookEndpoint, WebhookEvent
from imports.webhooks.signing_secrets import secret_encrypt, secret_generate

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# What a new endpoint is sent unless chosen otherwise: everything that can happen to a job.
DEFAULT_EVENTS = [event for event in WebhookEvent.values if event != WebhookEvent.TEST]


class EndpointLimitReached(Exception):
    """The project already has WEBHOOKS_MAX_PER_PROJECT endpoints."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class UrlRefused(ValueError):
    """The URL may not be called (a core.URL_* code): not https, a private address, …"""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


URL_REFUSAL_TEXTS = {
    core.URL_NOT_HTTP: _("Enter an https:// URL."),
    core.URL_NOT_HTTPS: _("Only https:// URLs can be used: requests are signed, and must not be readable on the way."),
    core.URL_NO_HOST: _("Enter a complete URL with a host name, e.g. https://hooks.example.com/repro."),
    core.URL_CREDENTIALS: _("Leave the user name and password out of the URL: requests are signed instead."),
    core.URL_PRIVATE_ADDRESS: _("This address is not on the public internet. Webhooks go to public addresses only."),
}


def insecure_allowed() -> bool:
    """http:// and loopback/private addresses: for local development and the tests' receiver only."""
    return bool(settings.DEBUG or settings.WEBHOOKS_ALLOW_INSECURE)


def webhook_url_check(url: str) -> str:
    """The URL, stripped, if it may be saved; raises UrlRefused otherwise."""
    if code := core.url_refusal(url, allow_insecure=insecure_allowed()):
        raise UrlRefused(code)
    return url.strip()


def webhook_endpoint_create(
    *,
    project: Project,
    url: str,
    format: str = WebhookEndpoint.Format.JSON,
    events: list[str] | None = None,
    enabled: bool = True,
    by: AbstractBaseUser | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is returned here and never shown again."""
    url = webhook_url_check(url)
    secret = secret_generate()
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)  # two clicks cannot both pass the limit
        if WebhookEndpoint.objects.filter(project=project).count() >= settings.WEBHOOKS_MAX_PER_PROJECT:
            raise EndpointLimitReached(settings.WEBHOOKS_MAX_PER_PROJECT)
        endpoint = WebhookEndpoint.objects.create(
            project=project,
            url=url,
            format=format,
            events=_known_events(DEFAULT_EVENTS if events is None else events),
            enabled=enabled,
            secret_encrypted=secret_encrypt(secret),
            created_by=by,
        )
    return endpoint, secret


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str, format: str, events: list[str], enabled: bool
) -> WebhookEndpoint:
    endpoint.url = webhook_url_check(url)
    endpoint.format = format
    endpoint.events = _known_events(events)
    if enabled and not endpoint.enabled:
        endpoint.disabled_reason = ""
    endpoint.enabled = enabled
    endpoint.save(update_fields=["url", "format", "events", "enabled", "disabled_reason"])
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_endpoint_turn_off(*, endpoint_id: int, reason: str) -> None:
    """The receiver asked for no more requests (410 Gone): the endpoint stays Off until turned On."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(enabled=False, disabled_reason=reason[:255])


def _known_events(events: list[str]) -> list[str]:
    chosen = set(events)
    return [event for event in DEFAULT_EVENTS if event in chosen]


# --- Deliveries ---------------------------------------------------------------------------------


def job_event(job: ImportJob) -> str:
    """The event a finished job is: a dry run's is one event whatever its outcome."""
    if job.dry_run:
        return WebhookEvent.DRY_RUN_FINISHED
    return f"import.{job.state}"


def job_finished_enqueue(*, job: ImportJob) -> int:
    """Deliver the finished job's event to every endpoint of its project that is On and wants it.

    Called once the job's final state is committed; safe to call again (a resumed job, a retried
    task): each endpoint gets at most one delivery per job and event. Returns how many were new.
    """
    return webhook_event_enqueue(job=job, event=job_event(job))


def webhook_event_enqueue(*, job: ImportJob, event: str) -> int:
    """One delivery per endpoint of the job's project that is On and chose ``event``."""
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(project_id=job.project_id, enabled=True).select_related("project")
        if event in endpoint.events
    ]
    created = 0
    for endpoint in endpoints:
        delivery = _delivery_create(endpoint=endpoint, event=event, job=job)
        if delivery is not None:
            webhook_delivery_enqueue(delivery=delivery)
            created += 1
    return created


def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test event, sent whether the endpoint is On or Off (to try it before turning it On)."""
    delivery = _delivery_create(endpoint=endpoint, event=WebhookEvent.TEST, job=None)
    webhook_delivery_enqueue(delivery=delivery)
    return delivery


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> bool:
    """Start a failed delivery again (same body and delivery ID, a new series of attempts)."""
    restarted = WebhookDelivery.objects.filter(pk=delivery.pk, state=WebhookDelivery.State.FAILED).update(
        state=WebhookDelivery.State.PENDING, attempts=0, next_attempt_at=None, finished_at=None
    )
    if restarted:
        webhook_delivery_enqueue(delivery=delivery)
    return bool(restarted)


def webhook_delivery_enqueue(*, delivery: WebhookDelivery, delay_seconds: int = 0) -> None:
    """Hand the delivery to a django-q2 worker after the current transaction commits: at once,
    or as a one-off schedule whose ``next_run`` is the retry time (the cluster's scheduler
    turns it into a task then, and deletes it)."""
    from django_q.models import Schedule
    from django_q.tasks import schedule

    def enqueue() -> None:
        if delay_seconds <= 0:
            async_task("imports.tasks.webhook_delivery_send", delivery.pk, task_name=f"webhook-{delivery.delivery_id}")
        else:
            schedule(
                "imports.tasks.webhook_delivery_send",
                delivery.pk,
                name=f"webhook-{delivery.delivery_id}-{uuid.uuid4().hex[:8]}",
                schedule_type=Schedule.ONCE,
                next_run=timezone.now() + timedelta(seconds=delay_seconds),
            )

    transaction.on_commit(enqueue)


def _delivery_create(*, endpoint: WebhookEndpoint, event: str, job: ImportJob | None) -> WebhookDelivery | None:
    """The delivery with its body fixed now; None if the endpoint already has this job's event."""
    delivery_id = uuid.uuid4()
    payload = webhook_payload(project=endpoint.project, event=event, delivery_id=delivery_id, job=job)
    body = core.slack_message(payload) if endpoint.format == WebhookEndpoint.Format.SLACK else payload
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                endpoint=endpoint,
                job=job,
                event=event,
                delivery_id=delivery_id,
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            )
    except IntegrityError:
        return None  # webhook_delivery_unique_event: delivered (or being delivered) already


def webhook_payload(*, project: Project, event: str, delivery_id: uuid.UUID, job: ImportJob | None) -> dict[str, Any]:
    """The ``json`` format's body (documented field by field in docs/webhooks.md)."""
    return {
        "type": event,
        "delivery_id": str(delivery_id),
        "created_at": _iso(timezone.now()),
        "app_id": project.app_id,
        "job": _job_payload(project, job) if job is not None else None,
    }


def _job_payload(project: Project, job: ImportJob) -> dict[str, Any]:
    def link(name: str) -> str:
        return settings.SITE_URL + reverse(f"dashboard:{name}", args=[project.app_id, job.pk])

    return {
        "id": job.pk,
        "kind": job.kind,
        "source": job.source,
        "file_name": job.file_name,
        "state": job.state,
        "dry_run": job.dry_run,
        "rows_read": job.rows_read,
        "imported": job.imported,
        "failed": job.failed,
        "failure_message": job.failure_message,
        "url": link("job_detail"),
        "error_csv_url": link("job_error_csv") if job.error_csv_key else None,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
