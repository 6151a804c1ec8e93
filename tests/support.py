"""Small helpers shared by tests that start servers of their own or look into the database."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- A webhook receiver: a real HTTP server on 127.0.0.1 that answers as told ---------------------


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
def database_text() -> str:
    """Every value of every table as text, with sessions decoded (their data is stored encoded)."""
    from django.contrib.sessions.models import Session
    from django.db import connection

    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                values += [bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v) for v in row]
    values += [str(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(values)


def expire_leases(job) -> None:
    """As when IMPORT_STALL_SECONDS pass without the job's runs renewing their leases (they died)."""
    from datetime import timedelta

    from django.utils import timezone

    from imports.models import ImportJob, ImportPart

    past = timezone.now() - timedelta(seconds=1)
    ImportJob.objects.filter(pk=job.pk).update(lease_expires_at=past)
    ImportPart.objects.filter(job=job).update(lease_expires_at=past)


def chunk_commit_failing(monkeypatch, *, at: int, error: Exception):
    """Make the ``at``-th chunk commit of the pipeline raise ``error`` (a bug, a lost database, a kill);
    returns a function that puts the real commit back."""
    from imports import jobs

    real_commit = jobs.chunk_commit
    calls = []

    def commit(**kwargs):
        calls.append(1)
        if len(calls) == at:
            raise error
        return real_commit(**kwargs)

    monkeypatch.setattr(jobs, "chunk_commit", commit)
    return lambda: monkeypatch.setattr(jobs, "chunk_commit", real_commit)
