"""Settings › Webhooks: add (secret shown once), edit, delete, test event, delivery log, resend;
every page and form of it is 404 to other tenants."""

import pytest
from django.urls import reverse

from imports.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from imports.webhooks import services
from imports.webhooks.signing_secrets import secret_decrypt
from tests.support import Answer

EVENTS = ["import.succeeded", "import.failed"]


@pytest.fixture(autouse=True)
def _local_receiver_allowed(settings):
    settings.WEBHOOKS_ALLOW_INSECURE = True
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 0
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1


@pytest.fixture
def endpoint(project):
    return services.webhook_endpoint_create(project=project, url="https://hooks.example.com/a")[0]


def page(project):
    return reverse("dashboard:webhooks", args=[project.app_id])


def test_adding_a_webhook_shows_its_secret_once(alice_client, project, alice):
    data = {"url": "https://hooks.example.com/repro", "format": "json", "events": EVENTS, "enabled": "on"}
    response = alice_client.post(page(project), data)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    endpoint = WebhookEndpoint.objects.get(project=project)
    secret = secret_decrypt(endpoint.secret_encrypted)
    html = response.content.decode()
    assert f'<code class="secret" id="new-webhook-secret">{secret}</code>' in html
    assert (endpoint.url, endpoint.events, endpoint.enabled, endpoint.created_by) == (
        "https://hooks.example.com/repro", EVENTS, True, alice
    )
    assert secret not in alice_client.get(page(project)).content.decode()


def test_a_private_or_http_url_is_refused_with_a_reason(alice_client, project, settings):
    settings.WEBHOOKS_ALLOW_INSECURE = False
    for url, reason in [
        ("http://hooks.example.com/", "Only https:// URLs can be used"),
        ("https://10.1.2.3/hook", "This address is not on the public internet."),
    ]:
        response = alice_client.post(page(project), {"url": url, "format": "json", "events": EVENTS})
        assert response.status_code == 400
        assert reason in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_limit_of_webhooks_per_project(alice_client, project, settings):
    settings.WEBHOOKS_MAX_PER_PROJECT = 1
    data = {"url": "https://hooks.example.com/1", "format": "json", "events": EVENTS}
    alice_client.post(page(project), data)
    response = alice_client.post(page(project), {**data, "url": "https://hooks.example.com/2"})
    assert "A project can have at most 1 webhooks. Delete one first." in response.content.decode()
    assert WebhookEndpoint.objects.count() == 1


def test_editing_a_webhook_turns_it_off_and_changes_its_events(alice_client, project, endpoint):
    url = reverse("dashboard:webhook_edit", args=[project.app_id, endpoint.pk])
    assert alice_client.get(url).status_code == 200
    response = alice_client.post(url, {"url": "https://hooks.example.com/b", "format": "slack", "events": ["import.failed"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.format, endpoint.events, endpoint.enabled) == (
        "https://hooks.example.com/b", "slack", ["import.failed"], False
    )


def test_turning_on_again_clears_why_it_was_turned_off(alice_client, project, endpoint):
    services.webhook_endpoint_turn_off(endpoint_id=endpoint.pk, reason="the receiver answered 410 Gone")
    assert "the receiver answered 410 Gone" in alice_client.get(page(project)).content.decode()
    url = reverse("dashboard:webhook_edit", args=[project.app_id, endpoint.pk])
    alice_client.post(url, {"url": endpoint.url, "format": "json", "events": EVENTS, "enabled": "on"})
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""


def test_deleting_a_webhook(alice_client, project, endpoint):
    alice_client.post(reverse("dashboard:webhook_delete", args=[project.app_id, endpoint.pk]))
    assert not WebhookEndpoint.objects.exists()


def test_test_event_and_resend_from_the_delivery_log(
    alice_client, project, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = services.webhook_endpoint_create(project=project, url=receiver.url)
    receiver.answers = [Answer(500, b"receiver down for maintenance")]
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("dashboard:webhook_test", args=[project.app_id, endpoint.pk]), follow=True)
    assert "A test event is on its way" in response.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDelivery.State.FAILED
    html = alice_client.get(page(project)).content.decode()
    assert "<strong>500</strong>" in html
    assert "receiver down for maintenance" in html
    resend = reverse("dashboard:webhook_delivery_resend", args=[project.app_id, delivery.delivery_id])
    assert f'action="{resend}"' in html
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(resend)
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.SUCCEEDED
    assert len(receiver.requests) == 2
    html = alice_client.get(page(project)).content.decode()
    assert "<strong>200</strong>" in html and f'action="{resend}"' not in html
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


def webhook_urls(project, endpoint, delivery):
    """Every new page (GET) and form target (POST) with objects of ``project``."""
    args = [project.app_id, endpoint.pk]
    return (
        [reverse("dashboard:webhooks", args=[project.app_id]), reverse("dashboard:webhook_edit", args=args)],
        [
            reverse("dashboard:webhooks", args=[project.app_id]),
            reverse("dashboard:webhook_edit", args=args),
            reverse("dashboard:webhook_delete", args=args),
            reverse("dashboard:webhook_test", args=args),
            reverse("dashboard:webhook_delivery_resend", args=[project.app_id, delivery.delivery_id]),
        ],
    )


@pytest.fixture
def failed_delivery(endpoint):
    return WebhookDelivery.objects.create(endpoint=endpoint, event="test", body="{}", state="failed")


def test_every_webhook_page_is_404_to_another_project(client, project, endpoint, failed_delivery, make_project, make_user):
    mallory = make_user("mallory")
    own = make_project("Other", owner=mallory)
    client.force_login(mallory)
    gets, posts = webhook_urls(project, endpoint, failed_delivery)
    data = {"url": "https://evil.example.com/", "format": "json", "events": EVENTS, "enabled": "on"}
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, data).status_code == 404, url
    # With her own project's app ID, the other project's endpoint and delivery are not found either.
    for url in webhook_urls(project, endpoint, failed_delivery)[1][1:]:
        assert client.post(url.replace(project.app_id, own.app_id), data).status_code == 404, url
    assert client.get(reverse("dashboard:webhook_edit", args=[own.app_id, endpoint.pk])).status_code == 404
    endpoint.refresh_from_db()
    failed_delivery.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/a" and failed_delivery.state == "failed"
    assert WebhookEndpoint.objects.filter(project=own).count() == 0
    assert endpoint.project.webhook_endpoints.count() == 1


def test_webhook_pages_need_a_login(client, project, endpoint, failed_delivery):
    gets, posts = webhook_urls(project, endpoint, failed_delivery)
    for url in gets:
        assert client.get(url).url.startswith(reverse("login")), url
    for url in posts:
        assert client.post(url).url.startswith(reverse("login")), url


def test_webhooks_page_in_japanese(alice_client, project, endpoint):
    html = alice_client.get(page(project), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "配信ログ" in html and "テストイベントを送信" in html
