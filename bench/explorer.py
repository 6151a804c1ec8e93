"""Events explorer and the other data pages of issue 16 on the 1,000,000-row benchmark data.

Imports the events benchmark's file with `import_csv --sync`, spreads its chunks over the last 30
days (events and their batches together, as 30 daily imports would have left them), lets
PostgreSQL analyze the table as autovacuum would, then renders each page through Django's test
client in this process and prints the times; then times `undo_import --sync` of the whole import.
Run with `bench/run explorer [ROWS]`.
"""

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from common import ROOT, machine, manage, timed_manage, timed_undo
from events_import import write_events_file

TARGET_SECONDS = 1.0
RUNS = 5


def spread_over_30_days(job_id: int) -> None:
    """Chunk k moves k % 30 days back: the file's chunks become 30 days of imports."""
    shift = "make_interval(days => mod(b.first_number / 10000, 30)::int)"
    with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as c:
        c.execute(
            f"UPDATE imports_trackedevent e SET tracked_at = e.tracked_at - {shift} "
            "FROM imports_importedeventbatch b WHERE b.job_id = %s AND e.project_id = "
            "(SELECT project_id FROM imports_importjob WHERE id = %s) AND e.event_id = b.event_id "
            "AND e.tracked_at = b.tracked_at AND e.job_id = b.job_id",
            [job_id, job_id],
        )
        c.execute(f"UPDATE imports_importedeventbatch b SET tracked_at = b.tracked_at - {shift} WHERE b.job_id = %s",
                  [job_id])
        c.execute("VACUUM ANALYZE imports_trackedevent")
        c.execute("VACUUM ANALYZE imports_importedeventbatch")
        c.execute("VACUUM ANALYZE imports_appuser")


def timed_pages(app_id: str, job_id: int) -> list[tuple[str, float, float]]:
    """(page, first render, median of the next RUNS) in seconds."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "repro_dashboard.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.test import Client
    from django.urls import reverse

    from imports.models import EventDefinition, Project

    project = Project.objects.get(app_id=app_id)
    client = Client()  # requests go as HTTPS: with DEBUG off, plain HTTP is redirected (SECURE_SSL_REDIRECT)
    client.force_login(project.members.get())
    definition = EventDefinition.objects.filter(project=project).order_by("name").first()
    pages = {
        "events explorer (20 events x 30 days)": reverse("dashboard:explorer", args=[app_id]),
        "one event: chart, imports, recent occurrences": reverse(
            "dashboard:explorer_event", args=[app_id, definition.pk]
        ),
        "users: prefix search 'user-05'": reverse("dashboard:users", args=[app_id]) + "?q=user-05",
        "user: profile and 20 recent events": reverse("dashboard:user_detail", args=[app_id]) + "?user_id=user-012345",
        "import's data: users (first page)": reverse("dashboard:job_data", args=[app_id, job_id]),
        "import's data: events (first page)": reverse("dashboard:job_data", args=[app_id, job_id]) + "?show=events",
    }
    print(f"explorer counts query plan: {counts_plan(client, pages['events explorer (20 events x 30 days)'])}")
    results = []
    for name, url in pages.items():
        times = []
        for _ in range(RUNS + 1):
            started = time.perf_counter()
            response = client.get(url, secure=True)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        results.append((name, times[0], statistics.median(times[1:])))
    return results


def counts_plan(client, url: str) -> str:
    """The plan PostgreSQL runs for the explorer's daily counts (the query the page sent), in short."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url, secure=True)
    (sql,) = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"] and "imports_trackedevent" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0][0]
    nodes, stack = [], [plan["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node["Node Type"] + (f" using {node['Index Name']}" if "Index Name" in node else ""))
        stack.extend(node.get("Plans", []))
    return f"{' > '.join(nodes)}; {plan['Execution Time']:.0f} ms"


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    manage("migrate", "--noinput")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"events-{rows}.csv"
        write_events_file(path, rows)
        app_id = manage("create_project", f"bench-explorer-{rows}", "bench@example.com").strip()
        run = timed_manage("import_csv", "events", str(path), "--project", app_id, "--sync")
    seconds, summary = run.seconds, json.loads(run.out.strip().splitlines()[-1])
    print(f"imported {summary['imported']:,} events in {seconds:.1f} s; spreading them over 30 days")
    spread_over_30_days(summary["job"])
    for name, first, median in timed_pages(app_id, summary["job"]):
        verdict = "" if "explorer" not in name else (" (target < 1 s: met)" if median < TARGET_SECONDS else
                                                       " (target < 1 s: NOT met)")
        print(f"{name}: first {first * 1000:.0f} ms, median of {RUNS} {median * 1000:.0f} ms{verdict}")
    seconds, peak, undone = timed_undo(summary["job"])
    print(f"undo_import --sync: {seconds:.1f} s, peak RSS {peak / 2**20:.0f} MB, removed {undone['events_removed']:,} "
          f"events and {undone['users_removed']:,} users")


if __name__ == "__main__":
    main()
