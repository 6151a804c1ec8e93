"""The hashed locks agree with the requirements files, and bin/_venv.sh installs them with hash checking."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    return {normalized(name): version for name, version in PIN.findall(path.read_text())}


def lock_entries(path: Path) -> list[str]:
    """Each package of a lock file: its line and the continuation lines after it."""
    return re.split(r"\n(?=[a-z0-9])", path.read_text().split("\n", 2)[2].strip())


@pytest.mark.parametrize(
    "requirements, lock",
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_every_pinned_requirement_is_locked_at_its_version(requirements, lock):
    wanted = pins(ROOT / "requirements.txt") | pins(ROOT / requirements)
    locked = pins(ROOT / lock)
    stale = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert stale == {}, f"{lock} is out of date: run bin/lock (wanted, locked): {stale}"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_package_is_pinned_with_hashes(lock):
    entries = lock_entries(ROOT / lock)
    assert len(entries) > 10
    for entry in entries:
        assert PIN.match(entry) and re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry


def test_the_app_lock_is_the_dev_lock_s_subset():
    app, dev = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")
    assert {name: dev.get(name) for name in app} == app


def test_venv_script_installs_the_lock_with_hash_checking(tmp_path):
    """bin/_venv.sh run in a folder whose .venv/bin/python only records how it was called."""
    (tmp_path / "requirements.lock").write_text("django==5.2.19 --hash=sha256:" + "0" * 64 + "\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n')
    (bin_dir / "python").chmod(0o755)
    (bin_dir / "activate").write_text("")
    script = f"source {ROOT / 'bin' / '_venv.sh'} requirements.txt && source {ROOT / 'bin' / '_venv.sh'} requirements.txt"
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True, env={"PATH": os.environ["PATH"]})
    calls = (bin_dir / "calls").read_text().splitlines()
    assert len(calls) == 1  # the second run finds the lock unchanged
    assert "--require-hashes" in calls[0].split() and calls[0].endswith("-r requirements.lock")
