"""User Profile Bulk Import benchmark (issues 4, 13): 1,000,000 registered users and a file of
1,000,000 rows x 10 columns of mixed types, `import_csv user_profiles --sync` on PostgreSQL,
beside two floors in the same run:

- the **final-table floor** (issue 13): the import's own result, ready (each user's id and its
  typed values as JSON), COPYed (binary) into a temporary table and merged into the users'
  profiles by one UPDATE: the least any set-based profile import can do; the ratio is taken
  against it;
- the raw COPY floor (issue 4): the file's bytes into an UNLOGGED table of text columns.

Run with `bench/run profiles_import [ROWS …] [--undo]` (`--undo` then times undoing it, issue 16).
"""

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from common import ClusterCpu, Floor, copy_floor, database_url, machine, manage, timed_manage, timed_undo
from events_import import start_up_cpu

COLUMNS = ["rank", "points", "ltv", "signed_up", "city", "plan", "age", "score", "last_seen", "note"]


def write_profiles_file(path: Path, rows: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        f.write("user_id," + ",".join(COLUMNS) + "\n")
        for i in range(rows):
            values = [
                rng.choice(["gold", "silver", "bronze"]), str(rng.randrange(100_000)), f"{rng.random() * 1000:.2f}",
                f"20{rng.randrange(10, 25)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T10:00:00+09:00",
                rng.choice(["Tokyo", "Osaka", "Fukuoka", ""]), rng.choice(["free", "pro"]), str(rng.randrange(18, 90)),
                str(rng.randrange(-50, 50)), f"2024-01-{rng.randrange(10, 29)}", f"note {i}",
            ]
            f.write(f"user-{i:07d}," + ",".join(values) + "\n")


def register_users(app_id: str, count: int) -> None:
    with psycopg.connect(database_url()) as conn:
        conn.execute(
            "INSERT INTO imports_appuser (project_id, user_id, profile, created_at) "
            "SELECT p.id, 'user-' || lpad(g::text, 7, '0'), '{}'::jsonb, now() "
            "FROM imports_project p, generate_series(0, %s - 1) g WHERE p.app_id = %s",
            [count, app_id],
        )


def final_table_floor(app_id: str) -> Floor:
    """The users' profiles as the import left them (they started empty, so each is its patch),
    written again the cheapest set-based way; rolled back."""
    with psycopg.connect(database_url()) as conn:
        data = bytearray()
        select = "SELECT u.id, u.profile FROM imports_appuser u JOIN imports_project p ON p.id = u.project_id WHERE p.app_id = %s"
        with conn.cursor().copy(f"COPY ({select}) TO STDOUT (FORMAT binary)", [app_id]) as copy:
            for block in copy:
                data += block
        conn.commit()
        cpu = ClusterCpu()
        started = time.perf_counter()
        conn.execute("CREATE TEMPORARY TABLE bench_patch (id bigint, patch jsonb) ON COMMIT DROP")
        with conn.cursor().copy("COPY bench_patch FROM STDIN (FORMAT binary)") as copy:
            view = memoryview(data)
            for offset in range(0, len(view), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        conn.execute("UPDATE imports_appuser AS u SET profile = u.profile || p.patch FROM bench_patch p WHERE u.id = p.id")
        floor = Floor(time.perf_counter() - started, cpu.used())
        conn.rollback()
    return floor


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:] if not arg.startswith("--")] or [1_000_000]
    manage("migrate", "--noinput")
    print(f"machine: {machine()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        start_up = start_up_cpu(Path(tmp), "user_profiles", "user_id,rank\nu,gold\n")
        print(f"start-up: {start_up:.2f} s of CPU")
        for rows in sizes:
            path = Path(tmp) / f"profiles-{rows}.csv"
            write_profiles_file(path, rows)
            app_id = manage("create_project", f"bench-profiles-{rows}", "bench@example.com").strip()
            register_users(app_id, rows)
            measured = timed_manage("import_csv", "user_profiles", str(path), "--project", app_id, "--sync")
            summary = json.loads(measured.out.strip().splitlines()[-1])
            floor = final_table_floor(app_id)
            raw_floor = copy_floor(path, ["user_id", *COLUMNS])
            seconds = measured.seconds
            print(
                f"profiles {rows:>9,} rows x {len(COLUMNS)} keys ({path.stat().st_size / 2**20:.0f} MB): "
                f"{seconds:.2f} s, {rows / seconds:,.0f} rows/s, peak RSS {measured.peak_rss / 2**20:.0f} MB | "
                f"CPU per row: Python (start-up off) {(measured.python_cpu - start_up) / rows * 1e6:.2f} µs, "
                f"PostgreSQL {measured.database_cpu / rows * 1e6:.2f} µs | final-table floor {floor.seconds:.2f} s, "
                f"{floor.database_cpu / rows * 1e6:.2f} µs/row of PostgreSQL | ratio {seconds / floor.seconds:.2f}x | "
                f"raw COPY floor {raw_floor:.2f} s ({seconds / raw_floor:.2f}x) | imported {summary['imported']:,}, "
                f"failed {summary['failed']:,}"
            )
            if "--undo" in sys.argv:  # issue 16: restoring every value from the before-images
                seconds, peak, undone = timed_undo(summary["job"])
                print(f"  undo_import --sync: {seconds:.2f} s, peak RSS {peak / 2**20:.0f} MB, "
                      f"{undone['values_restored']:,} values restored")


if __name__ == "__main__":
    main()
