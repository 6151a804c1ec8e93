"""User Profile Bulk Import benchmark (issue 4): 1,000,000 registered users and a file of
1,000,000 rows x 10 columns of mixed types, `import_csv user_profiles --sync` on PostgreSQL,
beside the COPY floor. Run with `bench/run profiles_import [ROWS …]`.
"""

import json
import os
import random
import sys
import tempfile
from pathlib import Path

import psycopg
from common import copy_floor, machine, manage, timed_manage

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
    with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://")) as conn:
        conn.execute(
            "INSERT INTO imports_appuser (project_id, user_id, profile, created_at) "
            "SELECT p.id, 'user-' || lpad(g::text, 7, '0'), '{}'::jsonb, now() "
            "FROM imports_project p, generate_series(0, %s - 1) g WHERE p.app_id = %s",
            [count, app_id],
        )


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [1_000_000]
    manage("migrate", "--noinput")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            path = Path(tmp) / f"profiles-{rows}.csv"
            write_profiles_file(path, rows)
            app_id = manage("create_project", f"bench-profiles-{rows}", "bench@example.com").strip()
            register_users(app_id, rows)
            seconds, peak, out = timed_manage("import_csv", "user_profiles", str(path), "--project", app_id, "--sync")
            summary = json.loads(out.strip().splitlines()[-1])
            floor = copy_floor(path, ["user_id", *COLUMNS])
            print(
                f"profiles {rows:>9,} rows x {len(COLUMNS)} keys ({path.stat().st_size / 2**20:.0f} MB): "
                f"{seconds:.2f} s, {rows / seconds:,.0f} rows/s, peak RSS {peak / 2**20:.0f} MB | COPY floor "
                f"{floor:.2f} s | ratio {seconds / floor:.2f}x | imported {summary['imported']:,}, "
                f"failed {summary['failed']:,}"
            )


if __name__ == "__main__":
    main()
