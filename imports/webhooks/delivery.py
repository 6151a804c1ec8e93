"""One attempt of one delivery (a django-q2 task): claim it, send it, log it, then finish or retry.

The request goes to the address that DNS gave and the address rule accepted, never to the name
again; redirects are not followed; only the first bytes of the answer are read.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import SplitResult, urlsplit

import urllib3
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from imports.core import webhooks as core
from imports.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from imports.webhooks import services
from imports.webhooks.signing_secrets import secret_decrypt

logger = logging.getLogger(__name__)

EXCERPT_BYTES = 512
USER_AGENT = "Repro-Dashboard-Webhooks/1"
DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass
class Outcome:
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    # Sending again cannot help (a refused address): the delivery fails without more attempts.
    final: bool = False


class AddressRefused(Exception):
    pass


def webhook_delivery_send(delivery_id: int) -> str:
    """Make the delivery's next attempt if it is due; returns the delivery's state afterwards."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    started = timezone.now()
    clock = time.monotonic()
    outcome = _attempt(delivery)
    duration_ms = int((time.monotonic() - clock) * 1000)
    return _record(delivery, outcome, started, duration_ms)


def _claim(delivery_id: int) -> WebhookDelivery | None:
    """The pending delivery, marked as being sent by this worker; None if it is not to be sent now
    (delivered, failed, not due yet, or another worker is sending it)."""
    stale = timezone.now() - timedelta(seconds=settings.WEBHOOKS_TIMEOUT_SECONDS * 4 + 60)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint").filter(pk=delivery_id).first()
        if delivery is None or delivery.state != WebhookDelivery.State.PENDING:
            return None
        if delivery.sending_since and delivery.sending_since > stale:
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > timezone.now():
            return None  # a duplicate of an earlier attempt's task; the retry's own task comes later
        if not delivery.endpoint.enabled and delivery.event != WebhookEvent.TEST:
            _finish(delivery, WebhookDelivery.State.FAILED)
            return None
        delivery.sending_since = timezone.now()
        delivery.attempts += 1
        delivery.save(update_fields=["sending_since", "attempts"])
    return delivery


def _attempt(delivery: WebhookDelivery) -> Outcome:
    endpoint = delivery.endpoint
    allow_insecure = services.insecure_allowed()
    if code := core.url_refusal(endpoint.url, allow_insecure=allow_insecure):
        return Outcome(error=f"not sent: URL refused ({code})", final=True)
    body = delivery.body.encode()
    try:
        secret = secret_decrypt(endpoint.secret_encrypted)
    except InvalidToken:
        return Outcome(error="not sent: the signing secret cannot be decrypted (SECRET_KEY changed?)", final=True)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        core.DELIVERY_HEADER: str(delivery.delivery_id),
        core.SIGNATURE_HEADER: core.signature_header(secret, body, int(time.time())),
    }
    try:
        return post(endpoint.url, body, headers, allow_insecure=allow_insecure)
    except AddressRefused as exc:
        return Outcome(error=f"not sent: {exc}", final=True)


def post(url: str, body: bytes, headers: dict[str, str], *, allow_insecure: bool) -> Outcome:
    """POST to the URL's host at the addresses that passed the rule, in DNS order, until one
    connects; a network error is an Outcome."""
    parts = urlsplit(url)
    try:
        addresses = resolve_checked(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme], allow_insecure=allow_insecure)
    except socket.gaierror as exc:
        return Outcome(error=f"DNS lookup failed: {exc.strerror or exc}")
    for address in addresses:
        try:
            return _post_to(address, parts, body, headers)
        except urllib3.exceptions.NewConnectionError as exc:  # a subclass of the timeout, for history's sake
            error = Outcome(error=f"connection failed: {str(exc).split(': ', 1)[-1]}"[:255])
        except urllib3.exceptions.TimeoutError:
            return Outcome(error=f"timed out after {settings.WEBHOOKS_TIMEOUT_SECONDS} s")
        except urllib3.exceptions.HTTPError as exc:
            return Outcome(error=f"connection failed: {exc}"[:255])
    return error


def _post_to(address: str, parts: SplitResult, body: bytes, headers: dict[str, str]) -> Outcome:
    timeout = urllib3.Timeout(connect=settings.WEBHOOKS_TIMEOUT_SECONDS, read=settings.WEBHOOKS_TIMEOUT_SECONDS)
    options = {"timeout": timeout, "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        # Connected to the checked address, the certificate is still checked against the name.
        options.update(server_hostname=parts.hostname, assert_hostname=parts.hostname, cert_reqs="CERT_REQUIRED",
                       ca_certs=settings.WEBHOOKS_CA_BUNDLE)
        pool_class = urllib3.HTTPSConnectionPool
    else:
        pool_class = urllib3.HTTPConnectionPool
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with pool_class(address, parts.port or DEFAULT_PORTS[parts.scheme], **options) as pool:
        response = pool.urlopen(
            "POST", target, body=body, headers={**headers, "Host": parts.netloc}, redirect=False,
            assert_same_host=False, preload_content=False, decode_content=False,
        )
        excerpt = response.read(EXCERPT_BYTES, decode_content=False)
        response.close()
    outcome = Outcome(status_code=response.status, excerpt=excerpt.decode("utf-8", "replace"))
    if 300 <= response.status < 400:
        outcome.error = f"redirect to {response.headers.get('Location', '?')} not followed"[:255]
    return outcome


def resolve_checked(host: str, port: int, *, allow_insecure: bool) -> list[str]:
    """The addresses the name resolves to, in DNS order; every one must pass the rule (a name with
    one private answer among public ones is refused as a whole)."""
    addresses = list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))
    if not allow_insecure:
        for address in addresses:
            if refusal := core.address_refusal(address):
                raise AddressRefused(f"{host} resolves to {address}, a {refusal} address")
    return addresses


def _record(delivery: WebhookDelivery, outcome: Outcome, started, duration_ms: int) -> str:
    """Log the attempt, then: delivered; or Off on 410; or retried later; or failed."""
    number = WebhookAttempt.objects.filter(delivery=delivery).count() + 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=started,
        duration_ms=duration_ms,
        status_code=outcome.status_code,
        response_excerpt=outcome.excerpt,
        error=outcome.error,
    )
    status = outcome.status_code
    if status is not None and 200 <= status < 300:
        return _finish(delivery, WebhookDelivery.State.SUCCEEDED)
    if status == 410:
        services.webhook_endpoint_turn_off(
            endpoint_id=delivery.endpoint_id, reason=f"the receiver answered 410 Gone on {started:%Y-%m-%d %H:%M} UTC"
        )
        return _finish(delivery, WebhookDelivery.State.FAILED)
    if outcome.final or delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
        return _finish(delivery, WebhookDelivery.State.FAILED)
    delay = core.retry_delay(delivery.attempts, settings.WEBHOOKS_RETRY_BASE_SECONDS)
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    delivery.sending_since = None
    delivery.save(update_fields=["next_attempt_at", "sending_since"])
    services.webhook_delivery_enqueue(delivery=delivery, delay_seconds=delay)
    return delivery.state


def _finish(delivery: WebhookDelivery, state: str) -> str:
    delivery.state = state
    delivery.finished_at = timezone.now()
    delivery.next_attempt_at = None
    delivery.sending_since = None
    delivery.save(update_fields=["state", "finished_at", "next_attempt_at", "sending_since"])
    return state
