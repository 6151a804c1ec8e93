"""A worker killed with SIGKILL mid-file: the job, run again, ends with exact counts (PostgreSQL)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from imports import pipeline
from imports.models import AppUser, ImportJob, TrackedEvent
from tests.support import expire_leases

ROOT = Path(__file__).resolve().parents[2]
ROWS = 60_000

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="crash safety is proven on PostgreSQL (bin/test runs it when postgresql is installed)")


def database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def manage_process(*args: str, **env: str) -> subprocess.Popen:
    """`manage.py ARGS` in a real process on the test database and media folder (django-q2 in sync mode)."""
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT), "Q_SYNC": "1", **env}
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def sigkill_when(worker: subprocess.Popen, ready, timeout: float = 120) -> None:
    """SIGKILL ``worker`` as soon as ``ready()`` is true (polled); it must not have exited before."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not ready():
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()


def write_events(path):
    with path.open("wb") as f:
        f.write(b"user_id,event_name,event_properties\n")
        for i in range(1, ROWS + 1):
            # every 10th row fails, so row errors are part of what must not be duplicated
            f.write(b'u%d,e%d,"{""n"":""%d""}"\n' % (i, i % 7, i) if i % 10 else b"u%d,,\n" % i)


def write_profiles(path, project):
    AppUser.objects.bulk_create(AppUser(project=project, user_id=f"u{i}") for i in range(1, ROWS + 1))
    with path.open("wb") as f:
        f.write(b"user_id,n,tag\n")
        for i in range(1, ROWS + 1):
            f.write(b"u%d,%d,t%d\n" % (i, i, i) if i % 10 else b"ghost%d,%d,x\n" % (i, i))


def kill_mid_file(project, kind, path):
    """Run `import_csv --sync` in a real process and SIGKILL it once a quarter of the rows committed."""
    worker = manage_process(
        "import_csv", kind, str(path), "--project", project.app_id, "--sync", IMPORT_CHUNK_ROWS="500"
    )

    def quarter_committed():
        job = ImportJob.objects.filter(project=project).first()
        return job is not None and job.rows_read >= ROWS // 4

    sigkill_when(worker, quarter_committed)
    job = ImportJob.objects.get(project=project)
    assert job.state == "running" and 0 < job.rows_read < ROWS, "the worker was not killed mid-file"
    return job


def assert_resumed_exactly(job):
    assert pipeline.run(job.pk).rows_read == job.rows_read  # the killed run's lease is live: left alone
    expire_leases(job)  # as once IMPORT_STALL_SECONDS pass without the killed run renewing it
    job = pipeline.run(job.pk)
    expected_failed = ROWS // 10
    assert (job.state, job.rows_read, job.imported, job.failed) == (
        "succeeded_with_errors", ROWS, ROWS - expected_failed, expected_failed)
    assert job.attempts == 2
    assert job.row_errors.count() == expected_failed
    assert sorted(job.row_errors.values_list("number", flat=True)) == list(range(10, ROWS + 1, 10))
    return job


@pytest.mark.django_db(transaction=True)
def test_killed_events_worker_resumes_without_duplicates_or_loss(project, tmp_path):
    path = tmp_path / "events.csv"
    write_events(path)
    job = assert_resumed_exactly(kill_mid_file(project, "events", path))
    assert TrackedEvent.objects.filter(job=job).count() == ROWS - ROWS // 10
    assert TrackedEvent.objects.filter(job=job).values("app_user").distinct().count() == ROWS - ROWS // 10


@pytest.mark.django_db(transaction=True)
def test_killed_profiles_worker_resumes_with_the_exact_result(project, tmp_path):
    path = tmp_path / "profiles.csv"
    write_profiles(path, project)
    assert_resumed_exactly(kill_mid_file(project, "user_profiles", path))
    profiles = dict(AppUser.objects.filter(project=project).values_list("user_id", "profile"))
    assert all(profiles[f"u{i}"] == ({"n": i, "tag": f"t{i}"} if i % 10 else {}) for i in range(1, ROWS + 1))
