"""Reads of webhook endpoints and deliveries, always scoped by project."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from imports.models import Project, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, project: Project) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(project=project)


def webhook_endpoint_get(*, project: Project, endpoint_id: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, project=project, pk=endpoint_id)


def webhook_delivery_log(*, project: Project, limit: int = 50) -> list[WebhookDelivery]:
    """The project's latest deliveries, each with its attempts in order."""
    return list(
        WebhookDelivery.objects.filter(endpoint__project=project)
        .select_related("endpoint", "job")
        .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number")))[:limit]
    )


def webhook_delivery_get(*, project: Project, delivery_id: str) -> WebhookDelivery:
    return get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), endpoint__project=project,
                             delivery_id=delivery_id)
