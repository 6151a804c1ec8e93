import shutil
import socket
import subprocess
import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from imports import services
from tests.support import Receiver, free_port


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test stores files in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware leaves a request's language active in the thread: the next test starts in English."""
    yield
    translation.deactivate()


@pytest.fixture
def make_user(db):
    def make(username="alice", **extra):
        extra.setdefault("email", f"{username}@example.com")
        return get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)

    return make


@pytest.fixture
def make_project(db, make_user):
    def make(name="Shop", owner=None):
        return services.project_create(name=name, owner=owner or make_user(name.lower() + "-owner"))

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def project(make_project, alice):
    return make_project("Shop", owner=alice)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def import_file(project, tmp_path, capsys):
    """Run `import_csv KIND PATH --project … --sync` on the given bytes; returns (job, printed summary)."""
    import json

    from django.core.management import call_command

    from imports.models import ImportJob

    def run(content: bytes, kind="events", name="input.csv", *options, target=None):
        path = tmp_path / name
        path.write_bytes(content)
        capsys.readouterr()
        try:
            call_command("import_csv", kind, str(path), "--project", (target or project).app_id, "--sync", *options)
            exit_code = 0
        except SystemExit as exc:
            exit_code = exc.code
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        summary["exit_code"] = exit_code
        return ImportJob.objects.get(pk=summary["job"]), summary

    return run


@pytest.fixture
def redis_url(tmp_path):
    """A throwaway redis-server on a free port (tests that need one skip without Debian's redis-server)."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 (a free port) that answers as told and records every request."""
    server = Receiver()
    yield server
    server.stop()
