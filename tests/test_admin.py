"""Every admin changelist and add page loads for an operator."""

import pytest
from django.contrib import admin
from django.urls import reverse


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_changelist_and_add_pages_load(admin_client, model, project):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    add = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code in (200, 403)  # 403: records only services create (jobs, tokens, keys)


def test_webhook_added_in_admin_shows_its_secret_once(admin_client, project, settings):
    from imports.models import WebhookEndpoint
    from imports.webhooks.signing_secrets import secret_decrypt

    data = {"project": project.pk, "url": "https://hooks.example.com/ops", "format": "json",
            "events": ["import.failed"], "enabled": "on"}
    response = admin_client.post(reverse("admin:imports_webhookendpoint_add"), data, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.project, endpoint.events) == (project, ["import.failed"])
    assert secret_decrypt(endpoint.secret_encrypted) in response.content.decode()
    settings.WEBHOOKS_MAX_PER_PROJECT = 1
    again = admin_client.post(reverse("admin:imports_webhookendpoint_add"), data)
    assert "This project has 1 webhooks already" in again.content.decode()
    settings.WEBHOOKS_ALLOW_INSECURE = False
    refused = admin_client.post(reverse("admin:imports_webhookendpoint_change", args=[endpoint.pk]),
                                {**data, "url": "https://127.0.0.1/"})
    assert "not on the public internet" in refused.content.decode()


def test_delivery_admin_shows_attempts_and_resends(admin_client, project, django_capture_on_commit_callbacks):
    from imports.models import WebhookAttempt, WebhookDelivery
    from imports.webhooks import services

    endpoint, _ = services.webhook_endpoint_create(project=project, url="https://hooks.example.com/")
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test", body="{}", state="failed", attempts=1)
    WebhookAttempt.objects.create(delivery=delivery, number=1, started_at=delivery.created_at, status_code=502,
                                  duration_ms=12, response_excerpt="bad gateway from upstream")
    page = admin_client.get(reverse("admin:imports_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "bad gateway from upstream" in page and "502" in page
    with django_capture_on_commit_callbacks(execute=False) as queued:
        admin_client.post(reverse("admin:imports_webhookdelivery_changelist"),
                          {"action": "resend", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.state == "pending" and len(queued) == 1


def test_undo_records_are_read_only_in_admin(admin_client, project, import_file):
    """Undos and the audit trail are written by services only: shown, never changed or deleted."""
    from imports import undo
    from imports.models import AuditRecord, ImportUndo

    job, _ = import_file(b"user_id,event_name,event_properties\nu1,signup,\n")
    record = undo.run(undo.import_undo_request(job=job, enqueue=False).pk)
    for model, pk in ((ImportUndo, record.pk), (AuditRecord, AuditRecord.objects.first().pk)):
        opts = model._meta
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
        response = admin_client.get(change)
        assert response.status_code == 200 and b'name="_save"' not in response.content
        assert admin_client.post(change, {}).status_code == 403
        delete = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ImportUndo.objects.count() == 1 and AuditRecord.objects.count() == 2
