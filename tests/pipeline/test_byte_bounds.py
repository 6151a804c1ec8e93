"""Hostile inputs through the pipeline (issue 12): chunks bounded by bytes, a decompressed-size
limit, blank lines at C speed, a counting pass that stops at the row limit, failed rows cut in
the error CSV, and a worker's memory bounded whatever the rows' size."""

import csv
import gzip
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from imports import jobs
from imports.core import limits
from imports.models import AppUser, ImportJob, TrackedEvent

ROOT = Path(__file__).resolve().parents[2]
HEADER = b"user_id,event_name,event_properties\n"


def error_csv(job: ImportJob) -> bytes:
    with default_storage.open(job.error_csv_key, "rb") as f:
        return f.read()


def test_a_chunk_closes_at_its_byte_budget(import_file, settings, monkeypatch):
    settings.IMPORT_CHUNK_ROWS = 10_000
    settings.IMPORT_CHUNK_BYTES = 1000
    row = b'u%d,e,"{""k"":""%s""}"\n'
    body = b"".join(row % (i, b"v" * (i % 190)) for i in range(400)) + b",e,\n"  # the last row fails
    spans = []
    real_commit = jobs.chunk_commit

    def commit(**kwargs):
        chunk = kwargs["chunk"]
        spans.append((len(chunk.rows), chunk.end.offset - chunk.start.offset))
        return real_commit(**kwargs)

    monkeypatch.setattr(jobs, "chunk_commit", commit)
    job, summary = import_file(HEADER + body)
    assert (summary["state"], summary["imported"], summary["failed"]) == ("succeeded_with_errors", 400, 1)
    assert sum(rows for rows, _ in spans) == 401
    assert len(spans) > 401 * 100 // 1000  # ~110 bytes a row: far more chunks than rows allow
    assert all(size <= 1000 for _, size in spans)
    assert TrackedEvent.objects.filter(job=job).count() == 400


@pytest.mark.parametrize("compress", [True, False])
def test_a_file_past_the_decompressed_limit_fails_and_imports_nothing(import_file, settings, compress):
    settings.IMPORT_MAX_DECOMPRESSED_BYTES = 50_000
    data = HEADER + b"u1,e,\n" * 10_000  # 60,036 bytes
    job, summary = import_file(gzip.compress(data) if compress else data, "events", "big.csv.gz" if compress else "big.csv")
    assert (summary["state"], summary["rows"]) == ("failed", 0)
    assert summary["message"] == "file is over 50,000 bytes when decompressed"
    assert not TrackedEvent.objects.exists() and not AppUser.objects.exists()


def test_a_file_within_the_decompressed_limit_imports(import_file, settings):
    settings.IMPORT_MAX_DECOMPRESSED_BYTES = 60_036
    job, summary = import_file(gzip.compress(HEADER + b"u1,e,\n" * 10_000), "events", "big.csv.gz")
    assert (summary["state"], summary["imported"]) == ("succeeded", 10_000)


def test_sixteen_mib_of_blank_lines_end_in_seconds(import_file):
    data = gzip.compress(HEADER + b"\n" * (16 << 20) + b"u1,e,\n" + b"\r\n" * (1 << 20) + b"u2,e,\n", 9)
    started = time.monotonic()
    job, summary = import_file(data, "events", "blank.csv.gz")
    elapsed = time.monotonic() - started
    assert (summary["state"], summary["rows"], summary["imported"]) == ("succeeded", 2, 2)
    assert elapsed < 10, elapsed  # line by line, 16 MiB of blank lines took about 14 s
    assert job.row_errors.count() == 0


def test_the_counting_pass_stops_past_the_row_limit(import_file, monkeypatch):
    """The rows after the limit end in a damaged gzip stream: a count that read to the end would
    fail with "file maybe corrupt"."""
    monkeypatch.setattr(limits, "MAX_ROWS", 100)
    monkeypatch.setattr("imports.pipeline.MAX_ROWS", 100)
    stream = gzip.compress(HEADER + b"".join(b"u%d,e,\n" % i for i in range(200_000)))
    job, summary = import_file(stream[: len(stream) - 100], "events", "many.csv.gz")
    assert (summary["state"], summary["rows"]) == ("failed", 0)
    assert summary["message"] == "too many rows: more than 101 (limit 100)"
    assert not TrackedEvent.objects.exists()


def test_one_row_past_the_limit_still_gets_the_exact_count(import_file, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROWS", 100)
    monkeypatch.setattr("imports.pipeline.MAX_ROWS", 100)
    job, summary = import_file(HEADER + b"u,e,\n" * 101)
    assert summary["message"] == "too many rows: 101 (limit 100)"


def test_a_huge_failed_row_is_cut_in_the_error_csv(import_file, settings):
    settings.IMPORT_ERROR_ROW_BYTES = 1000
    huge = b',e,"{""k"":""' + "é".encode() * 3000 + b'""}"\n'  # user_id empty: fails
    normal = b'u2,,"{""a"":""b""}"\n'
    job, summary = import_file(HEADER + huge + normal)
    assert (summary["state"], summary["failed"]) == ("succeeded_with_errors", 2)
    lines = error_csv(job).splitlines(keepends=True)
    assert lines[2] == b'u2,,"{""a"":""b""}",\'event_name\' is invalid\n'  # within the bound: byte for byte
    cut = next(csv.reader(io.StringIO(lines[1].decode())))
    assert cut[:2] == ["", "e"] and cut[2].startswith('{"k":"éé') and cut[2].endswith("é…")
    assert cut[3] == "'user_id' is invalid; 'event_properties' is invalid: value of 'k' is longer than 191 characters"
    assert cut[4] == "[row cut: 6,009 bytes]"  # the values as read: e, {"k":" and 3,000 é of 2 bytes, "}
    values = lines[1][: lines[1].index(b"'user_id'")]
    assert 900 < len(values) <= 1000


def peak_rss(env: dict, *args: str) -> int:
    """Peak RSS in bytes of `manage.py ARGS` run in a process of its own."""
    script = (
        "import resource, sys, runpy; sys.argv = ['manage.py', *sys.argv[1:]]\n"
        "try:\n    runpy.run_path('manage.py', run_name='__main__')\n"
        "finally:\n    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stderr.rsplit("peak ", 1)[1]) * 1024


@pytest.fixture(scope="module")
def worker_env(tmp_path_factory):
    """A database of its own (SQLite) for import processes, with tight byte bounds."""
    var = tmp_path_factory.mktemp("var")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(DEBUG="1", VAR_DIR=str(var), MEDIA_ROOT=str(var / "files"), IMPORT_CHUNK_ROWS="10000",
               IMPORT_CHUNK_BYTES=str(1 << 20), EMAIL_URL="")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return env


def test_memory_stays_bounded_whatever_the_rows_size(worker_env, tmp_path):
    """400 rows of 100 KB (a 40 MB chunk before byte bounds) cost the worker little more memory
    than a file of one row."""
    app_id = subprocess.run(
        [sys.executable, "manage.py", "create_project", "memory", "m@example.com"],
        cwd=ROOT, env=worker_env, check=True, capture_output=True, text=True,
    ).stdout.strip()
    small, huge = tmp_path / "small.csv.gz", tmp_path / "huge.csv.gz"
    small.write_bytes(gzip.compress(HEADER + b"u1,e,\n"))
    value = b"x" * 100_000
    huge.write_bytes(gzip.compress(HEADER + b"".join(b'u%d,e,"{""k"":""%s""}"\n' % (i, value) for i in range(400))))
    baseline = peak_rss(worker_env, "import_csv", "events", str(small), "--project", app_id, "--sync")
    peak = peak_rss(worker_env, "import_csv", "events", str(huge), "--project", app_id, "--sync")
    assert peak - baseline < 30 * 2**20, (baseline, peak)
