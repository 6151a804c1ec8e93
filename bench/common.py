"""Shared by the benchmarks: run a manage.py command measuring time and peak RSS, and the COPY floor."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, env: dict | None = None) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        check=True, capture_output=True, text=True,
    ).stdout


def timed_manage(*args: str, env: dict | None = None) -> tuple[float, int, str]:
    """Seconds, peak RSS in bytes (sampled every 10 ms) and stdout of one manage.py command."""
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
        time.sleep(0.01)
    out = process.stdout.read()
    elapsed = time.perf_counter() - started
    if process.returncode not in (0, 1):
        raise SystemExit(f"manage.py {' '.join(args)} exited {process.returncode}")
    return elapsed, peak, out


def copy_floor(path: Path, columns: list[str]) -> float:
    """Seconds to COPY the file's raw rows into an UNLOGGED table of text columns: the floor."""
    with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as conn:
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
