"""Scale-out benchmark (issue 8): the 1,000,000-row events file on 1 qcluster worker, then on 2,
on the Redis broker and PostgreSQL, beside the COPY floor. Run with `bench/run parallel_import`.

Each worker is its own `qcluster` process (Q_WORKERS=1), as one worker host would be; the time
is from queueing the file to the job's final state.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from common import ROOT, copy_floor, machine, manage
from events_import import write_events_file


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def job_state(job_id: int) -> str:
    with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://")) as conn:
        return conn.execute("SELECT state FROM imports_importjob WHERE id = %s", [job_id]).fetchone()[0]


def timed_parallel_import(path: Path, workers: int, env: dict) -> float:
    app_id = manage("create_project", f"bench-{workers}-workers", "bench@example.com").strip()
    clusters = [
        subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    try:
        time.sleep(4)  # clusters up
        started = time.perf_counter()
        job_id = int(manage("import_csv", "events", str(path), "--project", app_id, env=env).strip().splitlines()[-1])
        while job_state(job_id) not in ("succeeded", "succeeded_with_errors", "failed"):
            time.sleep(0.1)
        return time.perf_counter() - started
    finally:
        for cluster in clusters:
            os.killpg(cluster.pid, signal.SIGTERM)
            cluster.wait()


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed (apt-get install redis-server)")
    manage("migrate", "--noinput")
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "Q_WORKERS": "1", "EMAIL_URL": "dummymail://"}
    print(f"machine: {machine()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "events.csv"
            write_events_file(path, rows)
            floor = copy_floor(path, ["user_id", "event_name", "event_properties"])
            seconds = {workers: timed_parallel_import(path, workers, env) for workers in (1, 2)}
    finally:
        redis.terminate()
    for workers, elapsed in seconds.items():
        print(f"{workers} worker(s): {elapsed:.2f} s, {rows / elapsed:,.0f} rows/s, {elapsed / floor:.2f}x the floor")
    print(f"COPY floor {floor:.2f} s | speedup 2 vs 1: {seconds[1] / seconds[2]:.2f}x")
    print(json.dumps({"rows": rows, "floor": floor, **{f"workers_{k}": v for k, v in seconds.items()}}))


if __name__ == "__main__":
    main()
