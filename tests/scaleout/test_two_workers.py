"""Scale-out: two separate `qcluster` processes on a shared Redis broker, PostgreSQL and the local
S3 server import one big file in parts, exactly once.

The two clusters are plain processes on this machine standing for two hosts: they share nothing
but the network services (Redis, PostgreSQL, S3), exactly as separate hosts would. Network
namespaces were not used: the services listen on loopback and would need veth plumbing that adds
nothing to what is proven here (docs/operations.md).
"""

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from imports import jobs, pipeline
from imports.models import ImportJob, TrackedEvent
from tests.pipeline.test_parts import events_file
from tests.s3.conftest import BUCKET, REGION, moto_url, s3_bucket  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
ROWS = 30_000

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="separate processes share PostgreSQL, not SQLite (bin/test runs it when postgresql is installed)"),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed (apt-get install redis-server)"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def host_env(redis_url, moto_url, s3_bucket, tmp_path):  # noqa: F811
    """What every "host" is configured with: the shared services, nothing else."""
    db = settings.DATABASES["default"]
    return {
        **{k: v for k, v in os.environ.items() if k not in ("Q_SYNC", "VAR_DIR")},
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "IMPORT_BUCKET": BUCKET,
        "AWS_S3_ENDPOINT_URL": moto_url,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": settings.AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": settings.AWS_SECRET_ACCESS_KEY,
        "EMAIL_URL": f"filemail://{tmp_path / 'mail'}",
        "IMPORT_SPLIT_MIN_BYTES": "1",
        "IMPORT_PART_ROWS": str(ROWS // 6),
        "IMPORT_CHUNK_ROWS": "500",
        "Q_WORKERS": "1",
        "DEBUG": "1",
    }


class Host:
    """One `qcluster` process, as a worker host would run it."""

    def __init__(self, env):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def pids(self) -> set[int]:
        try:
            return {self.process.pid, *(c.pid for c in psutil.Process(self.process.pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def hosts(host_env):
    started = []

    def start():
        started.append(Host(host_env))
        return started[-1]

    yield start
    for host in started:
        host.stop()


def enqueue(env, project, data, tmp_path) -> ImportJob:
    """Queue the file as an operator on a web host would (`import_csv` without --sync)."""
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    out = subprocess.run(
        [sys.executable, "manage.py", "import_csv", "events", str(path), "--project", project.app_id],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout
    return ImportJob.objects.get(pk=int(out.strip().splitlines()[-1]))


def wait_until(predicate, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def serial_outcome(project, data):
    settings.IMPORT_SPLIT_MIN_BYTES = 10**12
    serial = pipeline.run(jobs.import_job_create(
        project=project, kind="events", source="command", file_name="big.csv", content=io.BytesIO(data),
        enqueue=False).pk)
    return outcome(serial)


def outcome(job):
    job.refresh_from_db()
    events = sorted(
        TrackedEvent.objects.filter(job=job).values_list("app_user__user_id", "event__name", "properties"), key=repr)
    with default_storage.open(job.error_csv_key, "rb") as f:
        return (job.state, job.rows_read, job.imported, job.failed), events, f.read()


def mails(tmp_path):
    return list((tmp_path / "mail").glob("*")) if (tmp_path / "mail").exists() else []


def test_two_hosts_share_one_file_and_match_a_serial_import(project, host_env, hosts, tmp_path, settings):
    data = events_file(ROWS)
    first, second = hosts(), hosts()
    time.sleep(3)  # both clusters up before the parts are queued, so both can take some
    job = enqueue(host_env, project, data, tmp_path)
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).is_final)
    workers = {int(part.worker.rsplit(":", 1)[1]) for part in job.parts.all()}
    assert workers & first.pids() and workers & second.pids(), "both hosts processed parts"
    assert job.parts.count() == 6
    assert outcome(job) == serial_outcome(project, data)
    wait_until(lambda: len(mails(tmp_path)) == 1)


def test_a_host_killed_mid_part_the_job_still_completes_exactly_once(project, host_env, hosts, tmp_path, settings):
    settings.IMPORT_STALL_SECONDS = 1
    host_env["IMPORT_STALL_SECONDS"] = "3"  # the victim's lease expires 3 s after its last chunk
    data = events_file(ROWS)
    victim = hosts()
    time.sleep(3)
    job = enqueue(host_env, project, data, tmp_path)
    wait_until(lambda: job.parts.filter(rows_done__gt=0).exists(), seconds=60)
    victim.kill()  # its part's task is gone with it: the Redis broker does not redeliver
    assert not ImportJob.objects.get(pk=job.pk).is_final
    hosts()  # a replacement host; then the watchdog (a schedule in production) queues the rest again
    time.sleep(4)
    subprocess.run([sys.executable, "manage.py", "resume_stalled_imports"], cwd=ROOT,
                   env={**host_env, "IMPORT_STALL_SECONDS": "1"}, check=True, capture_output=True)
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).is_final)
    assert outcome(job) == serial_outcome(project, data)
    wait_until(lambda: len(mails(tmp_path)) == 1)
    time.sleep(1)
    assert len(mails(tmp_path)) == 1
