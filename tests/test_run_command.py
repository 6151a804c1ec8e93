"""The README's run command works from a clean copy of the repository, as a new user would try it."""

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_copy(tmp_path):
    """The repository's files as a clone would have them, sharing the already-built virtualenv."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def test_run_command_serves_the_login_page(clean_copy):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR", "Q_SYNC", "DEBUG", "SITE_URL")}
    process = subprocess.Popen(
        ["bin/run"], cwd=clean_copy, env={**env, "PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        page = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, "the login page never answered"
        assert "Log in" in page
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert "Log in as demo / demo-password" in output
    # Emails link to where the server listens, not to the default port.
    assert f"Links in emails point to http://127.0.0.1:{port}/ (SITE_URL)." in output
    assert (clean_copy / "var" / "db.sqlite3").exists()
