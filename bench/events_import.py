"""Event Bulk Tracking benchmark (issue 3): `import_csv --sync` on PostgreSQL beside the COPY floor.

Run with `bench/run events_import` (starts a throwaway PostgreSQL) or with DATABASE_URL set to
an empty database. Prints seconds, rows/s, peak RSS and the ratio to the floor.
"""

import json
import os
import random
import sys
import tempfile
from pathlib import Path

import psycopg
from common import copy_floor, machine, manage, timed_manage

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


def run(rows: int, workdir: Path) -> dict:
    path = workdir / f"events-{rows}.csv"
    write_events_file(path, rows)
    app_id = manage("create_project", f"bench-{rows}", "bench@example.com").strip()
    seconds, peak, out = timed_manage("import_csv", "events", str(path), "--project", app_id, "--sync")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["imported"] + summary["failed"] == rows, summary
    floor = copy_floor(path, ["user_id", "event_name", "event_properties"])
    return {"rows": rows, "bytes": path.stat().st_size, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mb": peak / 2**20, "floor_seconds": floor, "ratio": seconds / floor, **summary}


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
        with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as c:
            for statement in DEFAULT_CONSTRAINTS:
                c.execute(statement)
        label = "events, with FKs + indexes"
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            r = run(rows, Path(tmp))
            print(
                f"{label} {r['rows']:>9,} rows ({r['bytes'] / 2**20:.0f} MB): {r['seconds']:.2f} s, "
                f"{r['rows_per_s']:,.0f} rows/s, peak RSS {r['peak_rss_mb']:.0f} MB | COPY floor "
                f"{r['floor_seconds']:.2f} s | ratio {r['ratio']:.2f}x | imported {r['imported']:,}, failed {r['failed']:,}"
            )


if __name__ == "__main__":
    main()
