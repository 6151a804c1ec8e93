"""Deliveries to a real receiver on 127.0.0.1: signed once per job and event, retried, logged."""

import json
import re
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django_q.models import Schedule

from imports import pipeline
from imports.core import webhooks as core
from imports.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from imports.webhooks import delivery as delivery_module
from imports.webhooks import services
from tests.support import Answer

HEADER = b"user_id,event_name,event_properties\n"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def docs_verify():
    """The verification function exactly as docs/webhooks.md shows it to receivers."""
    text = DOCS.read_text().split("## Verifying the signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(code, namespace)
    return namespace["verify"]


def test_finished_import_delivers_one_signed_payload(import_file, receiver, make_endpoint, run_on_commit, project):
    endpoint, secret = make_endpoint(receiver.url)
    with run_on_commit():
        job, _ = import_file(HEADER + b"u1,e,\n,e,\n", "events", "daily.csv")
    (request,) = receiver.requests
    verify = docs_verify()
    assert verify(secret, request.body, request.headers["X-Repro-Signature"])
    assert not verify("whsec_wrong", request.body, request.headers["X-Repro-Signature"])
    assert not verify(secret, request.body + b" ", request.headers["X-Repro-Signature"])
    payload = json.loads(request.body)
    delivery = WebhookDelivery.objects.get()
    assert request.headers["X-Repro-Delivery"] == payload["delivery_id"] == str(delivery.delivery_id)
    assert request.headers["Content-Type"] == "application/json"
    assert payload["type"] == "import.succeeded_with_errors"
    assert payload["app_id"] == project.app_id
    assert payload["job"] | {"created_at": None, "started_at": None, "finished_at": None} == {
        "id": job.pk, "kind": "events", "source": "command", "file_name": "daily.csv",
        "state": "succeeded_with_errors", "dry_run": False, "rows_read": 2, "imported": 1, "failed": 1,
        "failure_message": "",
        "url": f"https://repro.example/p/{project.app_id}/jobs/{job.pk}/",
        "error_csv_url": f"https://repro.example/p/{project.app_id}/jobs/{job.pk}/errors.csv",
        "created_at": None, "started_at": None, "finished_at": None,
    }
    assert payload["job"]["finished_at"].endswith("Z")
    assert delivery.state == WebhookDelivery.State.SUCCEEDED
    (attempt,) = delivery.attempt_log.all()
    assert (attempt.number, attempt.status_code, attempt.response_excerpt) == (1, 200, "ok")


def test_timestamp_older_than_the_documented_tolerance_does_not_verify():
    body = b"{}"
    old = core.signature_header("whsec_x", body, int(time.time()) - 301)
    fresh = core.signature_header("whsec_x", body, int(time.time()) - 5)
    verify = docs_verify()
    assert verify("whsec_x", body, fresh)
    assert not verify("whsec_x", body, old)


def test_receiver_failing_twice_gets_three_attempts(import_file, receiver, make_endpoint, run_on_commit):
    make_endpoint(receiver.url)
    receiver.answers = [Answer(500, b"boom"), Answer(503, b"busy")]
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    assert len(receiver.requests) == 3
    assert len({r.headers["X-Repro-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDelivery.State.SUCCEEDED
    log = [(a.number, a.status_code, a.response_excerpt) for a in delivery.attempt_log.all()]
    assert log == [(1, 500, "boom"), (2, 503, "busy"), (3, 200, "ok")]


def test_attempts_are_bounded_then_the_delivery_fails(import_file, receiver, make_endpoint, run_on_commit, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    make_endpoint(receiver.url)
    receiver.answers = [Answer(500)] * 5
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    assert len(receiver.requests) == 3
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.FAILED, 3)


def test_retry_waits_with_exponential_backoff_on_a_django_q_schedule(
    import_file, receiver, make_endpoint, run_on_commit, settings
):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 30
    make_endpoint(receiver.url)
    receiver.answers = [Answer(500), Answer(500)]
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    delivery = WebhookDelivery.objects.get()
    (retry,) = Schedule.objects.filter(func="imports.tasks.webhook_delivery_send")
    assert retry.schedule_type == Schedule.ONCE
    assert 25 < (retry.next_run - delivery.attempt_log.get().started_at).total_seconds() < 40
    assert delivery.state == WebhookDelivery.State.PENDING and len(receiver.requests) == 1
    assert delivery_module.webhook_delivery_send(delivery.pk) == "skipped"  # not due yet
    # What the cluster's scheduler does at next_run: run the task with the schedule's argument.
    retry.delete()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=retry.next_run - timedelta(seconds=31))
    with run_on_commit():
        delivery_module.webhook_delivery_send(delivery.pk)
    second = Schedule.objects.get(func="imports.tasks.webhook_delivery_send")
    first_started, second_started = (a.started_at for a in delivery.attempt_log.all())
    assert 55 < (second.next_run - second_started).total_seconds() < 70
    assert len(receiver.requests) == 2


@pytest.mark.parametrize("error", ["timeout", "refused"])
def test_timeouts_and_connection_errors_are_retried(import_file, receiver, make_endpoint, run_on_commit, error):
    if error == "timeout":
        make_endpoint(receiver.url)
        receiver.answers = [Answer(200, delay=1.5)]
    else:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        endpoint, _ = make_endpoint(f"http://127.0.0.1:{port}/hook")
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    attempts = list(WebhookAttempt.objects.order_by("number"))
    if error == "timeout":
        assert attempts[0].status_code is None and attempts[0].error == "timed out after 1 s"
        assert attempts[1].status_code == 200
    else:
        assert len(attempts) == 4
        assert all(a.error.startswith("connection failed") for a in attempts)
        assert WebhookDelivery.objects.get().state == WebhookDelivery.State.FAILED


def test_job_finished_twice_delivers_once(import_file, receiver, make_endpoint, run_on_commit):
    make_endpoint(receiver.url)
    with run_on_commit():
        job, _ = import_file(HEADER + b"u1,e,\n")
        pipeline.run(job.pk)  # resumed: the job is final already
        services.job_finished_enqueue(job=job)  # even asked directly, the unique key holds
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_retried_task_does_not_send_a_delivered_delivery_again(import_file, receiver, make_endpoint, run_on_commit):
    make_endpoint(receiver.url)
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    delivery = WebhookDelivery.objects.get()
    assert delivery_module.webhook_delivery_send(delivery.pk) == "skipped"
    assert len(receiver.requests) == 1


def test_gone_turns_the_endpoint_off(import_file, receiver, make_endpoint, run_on_commit):
    endpoint, _ = make_endpoint(receiver.url)
    receiver.answers = [Answer(410, b"gone")]
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    with run_on_commit():
        import_file(HEADER + b"u2,e,\n")
    assert len(receiver.requests) == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().state == WebhookDelivery.State.FAILED


def test_redirects_are_not_followed(import_file, receiver, make_endpoint, run_on_commit, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    make_endpoint(receiver.url)
    receiver.answers = [Answer(302, b"", headers={"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"})]
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    assert [r.path for r in receiver.requests] == ["/hook"]
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == 302 and "not followed" in attempt.error


def test_loopback_receiver_sees_nothing_when_insecure_is_not_allowed(
    import_file, receiver, make_endpoint, run_on_commit, settings
):
    # Saved while allowed (https, so only the address rule can stop it), then the server runs without.
    make_endpoint(f"https://localhost:{receiver.port}/hook")
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_INSECURE = False
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDelivery.State.FAILED
    (attempt,) = delivery.attempt_log.all()
    assert re.fullmatch(r"not sent: localhost resolves to (127\.0\.0\.1|::1), a loopback address", attempt.error)


def test_a_loopback_ip_url_is_refused_before_any_lookup(receiver, make_endpoint, run_on_commit, settings, project):
    endpoint, _ = make_endpoint(receiver.url)
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_INSECURE = False
    with run_on_commit():
        services.webhook_test_send(endpoint=endpoint)
    assert receiver.requests == []
    assert WebhookAttempt.objects.get().error == "not sent: URL refused (not_https)"


def test_request_goes_to_the_checked_address_not_to_the_name_again(
    receiver, make_endpoint, run_on_commit, monkeypatch
):
    """The name is resolved once (here: a name no DNS knows, answered 127.0.0.1 by the test) and the
    connection is made to that address, with the name in Host."""
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        lookups.append(host)
        if host == "receiver.invalid":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        assert host == "127.0.0.1"  # the connection itself: to the address, never to the name
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(delivery_module.socket, "getaddrinfo", getaddrinfo)
    endpoint, _ = make_endpoint(f"http://receiver.invalid:{receiver.port}/hook?team=7")
    with run_on_commit():
        services.webhook_test_send(endpoint=endpoint)
    (request,) = receiver.requests
    assert lookups.count("receiver.invalid") == 1
    assert request.headers["Host"] == f"receiver.invalid:{receiver.port}"
    assert request.path == "/hook?team=7"


def test_resolver_refuses_a_name_with_any_internal_answer(monkeypatch):
    answers = [("93.184.215.14", 443), ("10.0.0.5", 443)]
    monkeypatch.setattr(
        delivery_module.socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", x) for x in answers]
    )
    with pytest.raises(delivery_module.AddressRefused, match="10.0.0.5, a private address"):
        delivery_module.resolve_checked("hooks.example.com", 443, allow_insecure=False)
    assert delivery_module.resolve_checked("hooks.example.com", 443, allow_insecure=True) == ["93.184.215.14", "10.0.0.5"]


def test_slack_endpoint_gets_a_slack_message(import_file, receiver, make_endpoint, run_on_commit):
    make_endpoint(receiver.url, format=WebhookEndpoint.Format.SLACK)
    with run_on_commit():
        job, _ = import_file(HEADER + b"u1,e,\n", "events", "daily.csv")
    message = json.loads(receiver.requests[0].body)
    assert set(message) == {"text", "blocks"}
    (block,) = message["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert f"/jobs/{job.pk}/|daily.csv> succeeded*" in block["text"]["text"]
    assert "Rows read: 1 · Imported: 1 · Failed: 0" in block["text"]["text"]


def test_only_chosen_events_of_endpoints_that_are_on(import_file, receiver, make_endpoint, run_on_commit, make_project):
    make_endpoint(receiver.url, events=[WebhookEvent.IMPORT_FAILED])
    make_endpoint(receiver.url + "/off", enabled=False)
    other = make_project("Other")
    make_endpoint(receiver.url + "/other", target=other)
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")  # succeeded: not chosen
        import_file(b"user_id,event_name,event_properties,x\nu,e,\n")  # failed
        import_file(HEADER + b"u1,e,\n", "events", "check.csv", "--dry-run")
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["import.failed"]
    assert json.loads(receiver.requests[0].body)["job"]["failure_message"] == "unknown column: x"


def test_dry_run_event(import_file, receiver, make_endpoint, run_on_commit):
    make_endpoint(receiver.url, events=[WebhookEvent.DRY_RUN_FINISHED])
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n", "events", "check.csv", "--dry-run")
    payload = json.loads(receiver.requests[0].body)
    assert (payload["type"], payload["job"]["dry_run"], payload["job"]["state"]) == ("dry_run.finished", True, "validated")


def test_resend_starts_a_failed_delivery_again(import_file, receiver, make_endpoint, run_on_commit, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    make_endpoint(receiver.url)
    receiver.answers = [Answer(500), Answer(500)]
    with run_on_commit():
        import_file(HEADER + b"u1,e,\n")
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDelivery.State.FAILED
    with run_on_commit():
        assert services.webhook_delivery_resend(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.SUCCEEDED
    assert [a.number for a in delivery.attempt_log.all()] == [1, 2, 3]
    assert len({r.headers["X-Repro-Delivery"] for r in receiver.requests}) == 1
    assert not services.webhook_delivery_resend(delivery=delivery)  # only a failed delivery


def test_test_event_goes_to_an_endpoint_that_is_off(receiver, make_endpoint, run_on_commit, project):
    endpoint, secret = make_endpoint(receiver.url, enabled=False)
    with run_on_commit():
        services.webhook_test_send(endpoint=endpoint)
    (request,) = receiver.requests
    assert json.loads(request.body) | {"delivery_id": "", "created_at": ""} == {
        "type": "test", "app_id": project.app_id, "job": None, "delivery_id": "", "created_at": ""
    }
    assert docs_verify()(secret, request.body, request.headers["X-Repro-Signature"])


def test_https_to_the_checked_address_verifies_the_certificate_for_the_name(tls_receiver, make_endpoint, run_on_commit):
    endpoint, secret = make_endpoint(f"https://localhost:{tls_receiver.port}/hook")
    with run_on_commit():
        services.webhook_test_send(endpoint=endpoint)
    (request,) = tls_receiver.requests
    assert docs_verify()(secret, request.body, request.headers["X-Repro-Signature"])
    assert WebhookAttempt.objects.get().status_code == 200


def test_https_certificate_for_another_name_is_refused(tls_receiver, make_endpoint, run_on_commit, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    endpoint, _ = make_endpoint(f"https://127.0.0.1:{tls_receiver.port}/hook")  # the certificate names localhost
    with run_on_commit():
        services.webhook_test_send(endpoint=endpoint)
    assert tls_receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "doesn't match 'localhost'" in attempt.error


def test_a_secret_that_no_longer_decrypts_fails_the_delivery_without_sending(
    receiver, make_endpoint, run_on_commit, settings
):
    endpoint, _ = make_endpoint(receiver.url)
    settings.SECRET_KEY = "rotated-without-fallbacks"
    with run_on_commit():
        services.webhook_test_send(endpoint=endpoint)
    assert receiver.requests == []
    assert "cannot be decrypted" in WebhookAttempt.objects.get().error
    assert WebhookDelivery.objects.get().state == WebhookDelivery.State.FAILED
