"""Shared by the benchmarks: run a manage.py command measuring time and peak RSS, and the COPY floor."""

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, env: dict | None = None) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        check=True, capture_output=True, text=True,
    ).stdout


@dataclass
class Run:
    seconds: float
    peak_rss: int  # bytes
    out: str
    python_cpu: float  # CPU seconds of the manage.py process (all its threads)
    database_cpu: float  # CPU seconds of PostgreSQL's processes meanwhile (backends, WAL writer, ...)


def database_url() -> str:
    return os.environ["DATABASE_URL"].replace("postgres://", "postgresql://")


class ClusterCpu:
    """CPU seconds used by DATABASE_URL's PostgreSQL cluster (every process under its postmaster:
    backends, WAL writer, autovacuum, …) since it was created, sampled by `sample`: a backend that
    ends between two samples loses its last moments, so call it often."""

    def __init__(self) -> None:
        with psycopg.connect(database_url()) as conn:
            self._postmaster = psutil.Process(conn.info.backend_pid).parent()
        self._seen: dict[int, tuple[float, float]] = {}  # pid -> (first, last) CPU seconds
        self.sample()

    def sample(self) -> None:
        for child in self._postmaster.children():
            try:
                times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            used = times.user + times.system
            self._seen[child.pid] = (self._seen.get(child.pid, (used, used))[0], used)

    def used(self) -> float:
        self.sample()
        return sum(last - first for first, last in self._seen.values())


def timed_manage(*args: str, env: dict | None = None) -> Run:
    """Seconds, peak RSS (sampled every 10 ms), CPU of the process and of PostgreSQL, and stdout
    of one manage.py command."""
    database = ClusterCpu()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        database.sample()
        time.sleep(0.01)
    out = process.stdout.read()
    elapsed = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    python_cpu = children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
    if process.returncode not in (0, 1):
        raise SystemExit(f"manage.py {' '.join(args)} exited {process.returncode}")
    return Run(elapsed, peak, out, python_cpu, database.used())


@dataclass
class Floor:
    seconds: float
    database_cpu: float  # of the cluster while the COPY ran (and its commit)


def final_table_floor(table: str, columns: str, select: str, params: list, *, formats=("binary", "text")) -> dict[str, Floor]:
    """The final-table floor: the ready rows (`select`, ids resolved) COPYed into `table` as it is,
    its index and id sequence included, in each format; rolled back, so the table is left as it was."""
    floors = {}
    with psycopg.connect(database_url()) as conn:
        for fmt in formats:
            data = bytearray()
            with conn.cursor().copy(f"COPY ({select}) TO STDOUT (FORMAT {fmt})", params) as copy:
                for block in copy:
                    data += block
            conn.commit()
            cpu = ClusterCpu()
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT {fmt})") as copy:
                view = memoryview(data)
                for offset in range(0, len(view), 1 << 20):
                    copy.write(view[offset : offset + (1 << 20)])
            elapsed = time.perf_counter() - started
            floors[fmt] = Floor(elapsed, cpu.used())
            conn.rollback()
    return floors


def copy_floor(path: Path, columns: list[str]) -> float:
    """Seconds to COPY the file's raw rows into an UNLOGGED table of text columns: the floor."""
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        conn.execute(f"CREATE UNLOGGED TABLE bench_floor ({', '.join(f'c{i} text' for i in range(len(columns)))})")
        started = time.perf_counter()
        with conn.cursor().copy("COPY bench_floor FROM STDIN (FORMAT csv, HEADER true)") as copy, path.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_floor")
    return elapsed


def machine() -> str:
    return f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, Python {sys.version.split()[0]}"


def timed_undo(job_id: int) -> tuple[float, int, dict]:
    """Seconds, peak RSS and the JSON summary of `undo_import JOB --sync` (issue 16)."""
    run = timed_manage("undo_import", str(job_id), "--sync")
    return run.seconds, run.peak_rss, json.loads(run.out.strip().splitlines()[-1])
