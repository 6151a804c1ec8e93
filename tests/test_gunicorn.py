"""gunicorn with the repository's gunicorn.conf.py takes a slow dashboard upload that lasts longer
than the worker timeout (which, with the sync worker, killed the worker half-way: issue 14).

The server runs DEBUG off on plain HTTP (SECURE_SSL_REDIRECT=0) on 127.0.0.1 and a free port, on
its own SQLite database; the client sends the file in small pieces with pauses, within bounded time.
"""

import http.client
import os
import re
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
WORKER_TIMEOUT = 2  # seconds; the upload below takes about twice as long
UPLOAD_PIECES, PIECE_BYTES, PAUSE = 40, 4096, 0.1
DEADLINE = 60  # no step of the test waits longer than this


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    """The environment of a production-like host, with a migrated database and the demo login."""
    var = tmp_path_factory.mktemp("gunicorn-var")
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env = {
        **clean,
        "DEBUG": "0",
        "SECRET_KEY": "gunicorn-test-" + "k" * 50,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=DEADLINE * 3)
    demo = subprocess.run([*manage, "demo_setup"], cwd=ROOT, env=env, check=True, timeout=DEADLINE,
                          capture_output=True, text=True)
    env["TEST_APP_ID"] = re.search(r"app ID (\w+)", demo.stdout).group(1)
    return env


def gunicorn(env, *options):
    """gunicorn with gunicorn.conf.py (read from the working folder) on a free port; yields the port."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "repro_dashboard.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", "1", "--timeout", str(WORKER_TIMEOUT), *options]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    while True:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("HEAD", "/login/")
            break
        except OSError:
            assert server.poll() is None and time.monotonic() - started < DEADLINE, "gunicorn did not start"
            time.sleep(0.1)
    return server, port


def stop(server):
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return server.stderr.read().decode()


def cookies_of(response) -> dict:
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def log_in(port) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    conn.request("GET", "/login/")
    page = conn.getresponse()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()).group(1)
    cookies = cookies_of(page)
    conn.request("POST", "/login/", body=f"username=demo&password=demo-password&csrfmiddlewaretoken={csrf}",
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookies['csrftoken']}"})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 302, answer.status
    return {**cookies, **cookies_of(answer)}


def slow_upload(port, app_id, cookies) -> tuple[int, str]:
    """POST a CSV to the events upload in pieces with pauses: the status and the redirect, or 0 if the
    server hung up."""
    boundary = "slow-upload-boundary"
    rows = b"u1,opened,\n" * (UPLOAD_PIECES * PIECE_BYTES // 11)
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{cookies['csrftoken']}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.csv\"\r\n"
        f"Content-Type: text/csv\r\n\r\n"
    ).encode() + b"user_id,event_name,event_properties\n" + rows + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        conn.putrequest("POST", f"/p/{app_id}/events/import/")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(body)))
        conn.putheader("Cookie", "; ".join(f"{name}={value}" for name, value in cookies.items()))
        conn.endheaders()
        for start in range(0, len(body), PIECE_BYTES):
            conn.send(body[start : start + PIECE_BYTES])
            time.sleep(PAUSE)
        response = conn.getresponse()
        response.read()
        return response.status, response.headers.get("Location", "")
    except (ConnectionError, http.client.RemoteDisconnected):
        return 0, ""
    finally:
        conn.close()


def test_slow_upload_outlasting_the_worker_timeout_completes(app_env):
    server, port = gunicorn(app_env)
    try:
        started = time.monotonic()
        status, location = slow_upload(port, app_env["TEST_APP_ID"], log_in(port))
        elapsed = time.monotonic() - started
    finally:
        log = stop(server)
    assert (status, location.split("/jobs/")[0]) == (302, f"/p/{app_env['TEST_APP_ID']}"), log  # the new job's page
    assert "Using worker: gthread" in log
    assert WORKER_TIMEOUT * 1.5 < elapsed < DEADLINE
    assert "WORKER TIMEOUT" not in log


def test_the_sync_worker_fails_the_same_upload(app_env):
    """What the configuration prevents: with the sync worker the same upload is cut off."""
    # gunicorn turns a sync worker with more than one thread into gthread.
    server, port = gunicorn(app_env, "--worker-class", "sync", "--threads", "1")
    try:
        status, _ = slow_upload(port, app_env["TEST_APP_ID"], log_in(port))
    finally:
        log = stop(server)
    assert status != 302
    assert "WORKER TIMEOUT" in log
