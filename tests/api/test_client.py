"""clients/bulk_import.py, the stdlib command-line client of the v3 flow: against the live server
and moto end to end, and against a stub server for its handling of 429."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clients import bulk_import
from imports.api import ratelimit
from imports.models import ImportJob
from imports.s3_discovery import s3_imports_discover
from tests.api.conftest import NOW, profile_of

CSV = b"user_id,plan,point\nu1,gold,10\nu2,silver,20\n"


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_bytes(CSV)
    return path


def test_client_uploads_a_file_that_is_then_imported(
    live_server, s3_bucket, token, project, registered, csv_file, capsys, django_capture_on_commit_callbacks
):
    assert bulk_import.main([str(csv_file), "--url", live_server.url, "--token", token]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["byte_size"], printed["content_type"]) == (len(CSV), "text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        s3_imports_discover()

    job = ImportJob.objects.get(project=project)
    assert (job.source, job.state, job.imported) == ("api_v3", "succeeded", 2)
    assert profile_of(project, "u2") == {"plan": "silver", "point": 20}


def test_client_sends_a_gzip_file_as_gzip(live_server, s3_bucket, token, project, tmp_path, capsys):
    path = tmp_path / "profiles.csv.gz"
    path.write_bytes(gzip.compress(CSV))
    assert bulk_import.main([str(path), "--url", live_server.url, "--token", token]) == 0
    assert json.loads(capsys.readouterr().out)["content_type"] == "application/gzip"
    assert ImportJob.objects.get(project=project).storage_key.endswith(".csv.gz")


def test_client_reports_what_the_api_refused(live_server, s3_bucket, csv_file, capsys):
    assert bulk_import.main([str(csv_file), "--url", live_server.url, "--token", "wrong"]) == 1
    assert 'the API answered 403: Please check your Repro API Token as "X-Repro-Token"' in capsys.readouterr().err


def test_client_gives_up_when_the_wait_would_be_too_long(live_server, s3_bucket, token, project, csv_file, capsys):
    from imports.credentials import api_token_digest

    for _ in range(ratelimit.LIMIT):
        ratelimit.rate_limit_hit(feature="user_profile_bulk_import", token_digest=api_token_digest(token), now=NOW)
    argv = [str(csv_file), "--url", live_server.url, "--token", token, "--max-wait", "60"]
    assert bulk_import.main(argv) == 1
    assert "rate limited: the API asks to retry after 300 s" in capsys.readouterr().err


class StubApi(BaseHTTPRequestHandler):
    """429 with Retry-After: 2 for the first POST, then a direct upload pointing back here."""

    posts: list = []
    puts: list = []

    def do_POST(self):
        self.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        if len(self.posts) == 1:
            self._answer(429, b'{"status":"too_many_requests"}', {"Retry-After": "2"})
            return
        url = f"http://127.0.0.1:{self.server.server_port}/upload?X-Amz-Expires=300"
        body = {"direct_upload": {"url": url, "headers": {"Content-Type": "text/csv", "Content-MD5": "abc"}}}
        self._answer(200, json.dumps(body).encode())

    def do_PUT(self):
        self.puts.append((self.headers, self.rfile.read(int(self.headers["Content-Length"]))))
        self._answer(200, b"")

    def _answer(self, status, body, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_client_waits_retry_after_on_429_then_uploads_with_the_given_headers(csv_file, monkeypatch, capsys):
    StubApi.posts, StubApi.puts = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slept = []
    monkeypatch.setattr(bulk_import.time, "sleep", slept.append)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert bulk_import.main([str(csv_file), "--url", url, "--token", "t"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert slept == [2]
    assert "rate limited: retrying in 2 s" in capsys.readouterr().err
    assert StubApi.posts[1] == {
        "checksum": bulk_import.file_facts(str(csv_file))[0],
        "byte_size": str(len(CSV)),
        "content_type": "text/csv",
        "file_name": "profiles.csv",
    }
    ((headers, body),) = StubApi.puts
    assert body == CSV
    assert (headers["Content-Type"], headers["Content-MD5"]) == ("text/csv", "abc")  # names are case-insensitive
    assert headers["Content-Length"] == str(len(CSV)) and "Transfer-Encoding" not in headers
