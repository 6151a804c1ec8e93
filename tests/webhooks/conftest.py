"""Webhook tests: quick retries, the local receiver allowed, an https receiver, endpoints."""

from __future__ import annotations

import ssl

import pytest

from imports.webhooks import services
from tests.support import Receiver


@pytest.fixture
def tls_receiver(tmp_path, settings):
    """An https receiver on 127.0.0.1 whose certificate (for "localhost") comes from a test CA the
    webhooks trust through WEBHOOKS_CA_BUNDLE."""
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    settings.WEBHOOKS_CA_BUNDLE = str(bundle)
    server = Receiver(tls=context)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    """Retries at once (no clock to wait for), few of them, short timeouts; the receiver on 127.0.0.1
    is allowed (pytest-django runs tests with DEBUG off)."""
    settings.WEBHOOKS_ALLOW_INSECURE = True
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 0
    settings.WEBHOOKS_MAX_ATTEMPTS = 4
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    settings.SITE_URL = "https://repro.example"


@pytest.fixture
def make_endpoint(project):
    def make(url, **options):
        return services.webhook_endpoint_create(project=options.pop("target", project), url=url, **options)

    return make


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what is queued after commit (Q_SYNC: each django-q2 task runs when queued)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
