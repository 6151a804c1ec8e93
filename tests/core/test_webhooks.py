"""The pure webhook rules: which addresses and URLs are refused, the signature, backoff, Slack's shape.

Nothing here opens a connection or looks a name up: the address rule takes resolved addresses.
"""

import hashlib
import hmac

import pytest

from imports.core import webhooks


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("fc12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.1.1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "not public"),  # carrier-grade NAT
        ("192.0.2.10", "private"),  # documentation range, never routed
    ],
)
def test_internal_addresses_of_both_versions_are_refused(address, reason):
    assert webhooks.address_refusal(address) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert webhooks.address_refusal(address) is None


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://hooks.example.com/in", None),
        ("https://hooks.example.com:8443/in?x=1", None),
        ("http://hooks.example.com/in", webhooks.URL_NOT_HTTPS),
        ("ftp://hooks.example.com/in", webhooks.URL_NOT_HTTP),
        ("hooks.example.com/in", webhooks.URL_NOT_HTTP),
        ("https:///in", webhooks.URL_NO_HOST),
        ("https://hooks.example.com:99999/", webhooks.URL_NO_HOST),
        ("https://user:pw@hooks.example.com/", webhooks.URL_CREDENTIALS),
        ("https://127.0.0.1/in", webhooks.URL_PRIVATE_ADDRESS),
        ("https://[::1]:8443/in", webhooks.URL_PRIVATE_ADDRESS),
        ("https://10.0.0.8/in", webhooks.URL_PRIVATE_ADDRESS),
    ],
)
def test_url_rule_by_default(url, code):
    assert webhooks.url_refusal(url, allow_insecure=False) == code


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://[::1]/x", "https://10.0.0.8/in"])
def test_insecure_mode_allows_http_and_internal_addresses(url):
    assert webhooks.url_refusal(url, allow_insecure=True) is None


def test_insecure_mode_still_needs_an_http_url():
    assert webhooks.url_refusal("file:///etc/passwd", allow_insecure=True) == webhooks.URL_NOT_HTTP


def test_signature_is_hmac_sha256_of_time_dot_body():
    header = webhooks.signature_header("whsec_abc", b'{"a":1}', 1700000000)
    expected = hmac.new(b"whsec_abc", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert webhooks.signature_header("whsec_other", b'{"a":1}', 1700000000) != header
    assert webhooks.signature_header("whsec_abc", b'{"a":1}', 1700000001) != header


def test_retry_delays_double():
    assert [webhooks.retry_delay(n, 30) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.retry_delay(5, 0) == 0


JOB = {
    "id": 7,
    "file_name": "daily <1>&.csv",
    "state": "succeeded_with_errors",
    "dry_run": False,
    "rows_read": 1200,
    "imported": 1199,
    "failed": 1,
    "failure_message": "",
    "url": "https://repro.example/p/abc/jobs/7/",
    "error_csv_url": "https://repro.example/p/abc/jobs/7/errors.csv",
}


def assert_slack_incoming_webhook_shape(message):
    """Slack's incoming webhooks take ``text`` (required as the notification fallback when blocks
    are sent) and ``blocks``; a section block's text is a text object of type mrkdwn or plain_text."""
    assert set(message) == {"text", "blocks"}
    assert isinstance(message["text"], str) and message["text"]
    for block in message["blocks"]:
        assert block["type"] == "section"
        assert block["text"]["type"] in ("mrkdwn", "plain_text")
        assert 0 < len(block["text"]["text"]) <= 3000


def test_slack_message_has_file_state_counts_and_links():
    message = webhooks.slack_message({"app_id": "abc", "job": JOB})
    assert_slack_incoming_webhook_shape(message)
    text = message["blocks"][0]["text"]["text"]
    assert "<https://repro.example/p/abc/jobs/7/|daily &lt;1&gt;&amp;.csv> succeeded with errors" in text
    assert "Rows read: 1,200 · Imported: 1,199 · Failed: 1" in text
    assert "<https://repro.example/p/abc/jobs/7/errors.csv|Error CSV>" in text
    assert message["text"].startswith("Import of daily &lt;1&gt;&amp;.csv succeeded with errors.")


def test_slack_message_of_a_failed_dry_run_gives_the_reason():
    job = {**JOB, "dry_run": True, "state": "failed", "failure_message": "unknown column: x", "error_csv_url": None}
    text = webhooks.slack_message({"app_id": "abc", "job": job})["blocks"][0]["text"]["text"]
    assert text.startswith("*Validation of <https://repro.example/p/abc/jobs/7/|")
    assert "unknown column: x" in text
    assert "Error CSV" not in text


def test_slack_test_message():
    message = webhooks.slack_message({"app_id": "abc", "job": None})
    assert_slack_incoming_webhook_shape(message)
    assert "abc" in message["text"]
