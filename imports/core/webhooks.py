"""Completion webhooks without I/O: the signature, which URLs and addresses may be called, the
retry schedule and the Slack message (docs/webhooks.md).

The address rule is a function over addresses that were already resolved, so the caller can
connect to exactly the address that was checked: a DNS answer that changes between the check
and the connection (a rebind) then cannot point the request at the internal network.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Repro-Signature"
DELIVERY_HEADER = "X-Repro-Delivery"

# Why a URL may not be saved (codes; the dashboard shows each in the member's language).
URL_NOT_HTTPS = "not_https"
URL_NOT_HTTP = "not_http"
URL_NO_HOST = "no_host"
URL_CREDENTIALS = "credentials"
URL_PRIVATE_ADDRESS = "private_address"


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``: the time is signed, so a captured
    request cannot be replayed later than the receiver's tolerance."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def address_refusal(address: str) -> str | None:
    """Why a webhook may not connect to this resolved address (``None``: it is public).

    An IPv4 address written as IPv6 (``::ffff:10.0.0.1``) is judged as the IPv4 address it is.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") names no address
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not public"
    return None


def url_refusal(url: str, *, allow_insecure: bool) -> str | None:
    """Why this endpoint URL may not be saved (a URL_* code), or ``None``.

    A host written as an IP address is checked here already; a name is checked after each DNS
    lookup, when the request is made.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http"):
        return URL_NOT_HTTP
    if parts.scheme != "https" and not allow_insecure:
        return URL_NOT_HTTPS
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number 0-65535
    except ValueError:
        return URL_NO_HOST
    if not host:
        return URL_NO_HOST
    if parts.username is not None or parts.password is not None:
        return URL_CREDENTIALS
    if not allow_insecure:
        try:
            if address_refusal(host):
                return URL_PRIVATE_ADDRESS
        except ValueError:
            pass  # a name, not an address
    return None


def retry_delay(attempt: int, base_seconds: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …): base, 2·base, 4·base…"""
    return base_seconds * 2 ** (attempt - 1)


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON payload as a message in Slack's incoming-webhook shape: ``text`` (the notification
    and fallback) and one ``section`` block of mrkdwn with the file, state, counts and link."""
    job = payload.get("job")
    if job is None:
        text = f"Test message from Repro Dashboard for project {_slack_escape(payload['app_id'])}: webhooks work."
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    what = "Validation" if job["dry_run"] else "Import"
    state = job["state"].replace("_", " ")
    headline = f"{what} of {_slack_escape(job['file_name'])} {state}"
    counts = f"Rows read: {job['rows_read']:,} · Imported: {job['imported']:,} · Failed: {job['failed']:,}"
    lines = [f"*{what} of <{job['url']}|{_slack_escape(job['file_name'])}> {state}*", counts]
    if job.get("failure_message"):
        lines.append(_slack_escape(job["failure_message"]))
    if job.get("error_csv_url"):
        lines.append(f"<{job['error_csv_url']}|Error CSV>")
    return {
        "text": f"{headline}. {counts}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


def _slack_escape(text: str) -> str:
    """Slack reads ``&``, ``<`` and ``>`` as markup; a file name must not become a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
