"""Event Bulk Tracking benchmark (issues 3, 12, 13): `import_csv --sync` on PostgreSQL beside two floors.

- the **final-table floor** (issue 13): the import's own rows, ready (ids resolved), COPYed into
  the tracked-event table as it is (its index and id sequence) in the cheapest format, in the
  same run; the ratio is taken against it;
- the raw COPY floor (issue 3): the file's bytes into an UNLOGGED table of text columns.

Also the CPU of each side: µs per row of the import process (Python) and of PostgreSQL.
`--huge-rows` runs issue 12's hostile file instead: 2,000 rows of 100 KB, gzipped (peak RSS).

Run with `bench/run events_import [ROWS …]` (starts a throwaway PostgreSQL) or with DATABASE_URL
set to an empty database.
"""

import gzip
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import psycopg
from common import copy_floor, database_url, final_table_floor, machine, manage, timed_manage

EVENT_NAMES = [f"event_{i:02d}" for i in range(50)]
PROPERTY_KEYS = ["item", "category", "price", "currency", "campaign", "screen", "source"]


def write_events_file(path: Path, rows: int, users: int = 100_000, seed: int = 7) -> None:
    """About 100,000 users, 50 event names, 1-5 string properties, 1% invalid rows."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("user_id,event_name,event_properties\n")
        for i in range(rows):
            user = f"user-{rng.randrange(users):06d}"
            name = rng.choice(EVENT_NAMES)
            props = {k: f"value-{rng.randrange(1000)}" for k in rng.sample(PROPERTY_KEYS, rng.randint(1, 5))}
            text = json.dumps(props, separators=(",", ":")).replace('"', '""')
            if i % 100 == 99:
                text = text[:-3]  # 1% invalid: broken JSON
            f.write(f'{user},{name},"{text}"\n')


def start_up_cpu(workdir: Path, kind: str, header: str) -> float:
    """CPU seconds of `import_csv --sync` on a file of one row: Django's start-up and the job's
    fixed work, taken off the per-row figures."""
    path = workdir / "one-row.csv"
    path.write_text(header)
    app_id = manage("create_project", "bench-start-up", "bench@example.com").strip()
    return timed_manage("import_csv", kind, str(path), "--project", app_id, "--sync").python_cpu


def run(rows: int, workdir: Path, start_up: float) -> dict:
    path = workdir / f"events-{rows}.csv"
    write_events_file(path, rows)
    app_id = manage("create_project", f"bench-{rows}", "bench@example.com").strip()
    measured = timed_manage("import_csv", "events", str(path), "--project", app_id, "--sync")
    summary = json.loads(measured.out.strip().splitlines()[-1])
    assert summary["imported"] + summary["failed"] == rows, summary
    floors = final_table_floor(
        "imports_trackedevent", "project_id, app_user_id, event_id, job_id, properties, tracked_at",
        "SELECT project_id, app_user_id, event_id, job_id, properties, tracked_at FROM imports_trackedevent "
        "WHERE job_id = %s", [summary["job"]],
    )
    fmt, floor = min(floors.items(), key=lambda item: item[1].seconds)
    raw_floor = copy_floor(path, ["user_id", "event_name", "event_properties"])
    return {"rows": rows, "bytes": path.stat().st_size, "seconds": measured.seconds, "peak_rss_mb": measured.peak_rss / 2**20,
            "python_us": (measured.python_cpu - start_up) / rows * 1e6, "database_us": measured.database_cpu / rows * 1e6,
            "floor_format": fmt, "floor": floor, "floors": floors, "raw_floor": raw_floor, **summary}


def report(label: str, r: dict) -> None:
    floor = r["floor"]
    imported = r["imported"]
    print(
        f"{label} {r['rows']:>9,} rows ({r['bytes'] / 2**20:.0f} MB): {r['seconds']:.2f} s, "
        f"{r['rows'] / r['seconds']:,.0f} rows/s, peak RSS {r['peak_rss_mb']:.0f} MB | CPU per row: Python (start-up off) "
        f"{r['python_us']:.2f} µs, PostgreSQL {r['database_us']:.2f} µs | final-table floor ({r['floor_format']}) "
        f"{floor.seconds:.2f} s, {floor.database_cpu / imported * 1e6:.2f} µs/row of PostgreSQL "
        f"[{', '.join(f'{k} {v.seconds:.2f} s' for k, v in r['floors'].items())}] | ratio {r['seconds'] / floor.seconds:.2f}x "
        f"| raw COPY floor {r['raw_floor']:.2f} s ({r['seconds'] / r['raw_floor']:.2f}x) | imported {imported:,}, "
        f"failed {r['failed']:,}"
    )


def run_huge_rows(workdir: Path, rows: int = 2000, row_bytes: int = 100_000) -> None:
    """Issue 12: a small gzip of rows of 100 KB each (all failing: properties over 10,240 bytes)."""
    path = workdir / "huge-rows.csv.gz"
    value = "x" * row_bytes
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        f.write("user_id,event_name,event_properties\n")
        for i in range(rows):
            f.write(f'u{i},e,"{{""k"":""{value}""}}"\n')
    app_id = manage("create_project", "bench-huge-rows", "bench@example.com").strip()
    measured = timed_manage("import_csv", "events", str(path), "--project", app_id, "--sync")
    summary = json.loads(measured.out.strip().splitlines()[-1])
    print(
        f"huge rows: {rows:,} rows x {row_bytes / 1000:.0f} KB ({path.stat().st_size / 1000:.0f} KB gzip): "
        f"{measured.seconds:.2f} s, peak RSS {measured.peak_rss / 2**20:.0f} MB | state {summary['state']}, "
        f"imported {summary['imported']:,}, failed {summary['failed']:,}"
    )


# What the big table would carry with Django's defaults: a checked foreign key and an index per
# relation. `--with-foreign-keys` adds them to measure what leaving them out saves.
DEFAULT_CONSTRAINTS = [
    f"ALTER TABLE imports_trackedevent ADD CONSTRAINT bench_fk_{column} FOREIGN KEY ({column}_id) "
    f"REFERENCES imports_{table} (id) DEFERRABLE INITIALLY DEFERRED"
    for column, table in [("project", "project"), ("app_user", "appuser"), ("event", "eventdefinition"),
                          ("job", "importjob")]
] + [f"CREATE INDEX bench_ix_{column} ON imports_trackedevent ({column}_id)"
     for column in ("project", "app_user", "event", "job")]


def main() -> None:
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    sizes = [int(arg) for arg in args] or [100_000, 1_000_000]
    manage("migrate", "--noinput")
    label = "events"
    if "--with-foreign-keys" in sys.argv:
        with psycopg.connect(database_url(), autocommit=True) as c:
            for statement in DEFAULT_CONSTRAINTS:
                c.execute(statement)
        label = "events, with FKs + indexes"
    print(f"machine: {machine()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        if "--huge-rows" in sys.argv:
            run_huge_rows(Path(tmp))
            return
        start_up = start_up_cpu(Path(tmp), "events", "user_id,event_name,event_properties\nu,e,\n")
        print(f"start-up: {start_up:.2f} s of CPU")
        for rows in sizes:
            report(label, run(rows, Path(tmp), start_up))


if __name__ == "__main__":
    main()
