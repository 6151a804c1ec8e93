"""A real HTTP receiver on 127.0.0.1 (a free port) that answers as told and records every request."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imports.webhooks import services


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """``answers`` are used in turn, then 200 "ok"; ``requests`` is every request received."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.answers: list[Answer] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(Received(self.path, dict(self.headers), self.rfile.read(length)))
                answer = receiver.answers.pop(0) if receiver.answers else Answer()
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


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
