"""The database-specific bulk writes of an import: COPY and JSON-array SQL on PostgreSQL, bulk_create
and bulk_update elsewhere. Callers decide what to write (``importers``) and own the transaction
and checkpoint around it (``jobs.chunk_commit``).

Users are upserted in bulk (insert-ignore, then one select); tracked events go in with COPY on
PostgreSQL; profile values are merged per user (``profile || patch`` on PostgreSQL).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from django.db import connection
from django.utils import timezone

from imports.core import errors_csv
from imports.core.events import ValidEvent
from imports.core.reader import Record, printable
from imports.models import AppUser, ImportJob, ImportRowError, Project, TrackedEvent

ROW_ERROR_BATCH = 2000
_CONTROL_CHARACTER = re.compile("[\x00-\x1f]")
_PG_USERS_BY_ID = (
    f"SELECT user_id, id FROM {AppUser._meta.db_table} WHERE project_id = %s "
    "AND user_id IN (SELECT jsonb_array_elements_text(%s::jsonb))"
)


def app_user_ids(project: Project, user_ids: set[str]) -> dict[str, int]:
    """Ids of the project's users, creating the missing ones (insert-ignore, safe under concurrency).

    On PostgreSQL the ids travel as one JSON array parameter (far cheaper to send than a text[]
    of thousands); new ones are inserted sorted, so two imports that create the same users never
    wait on each other in opposite orders.
    """
    if connection.vendor == "postgresql":
        table = AppUser._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(_PG_USERS_BY_ID, [project.pk, json.dumps(list(user_ids))])
            known = dict(cursor.fetchall())
            if missing := user_ids.difference(known):
                cursor.execute(
                    f"INSERT INTO {table} (project_id, user_id, profile, created_at) "
                    "SELECT %s, u, '{}'::jsonb, now() FROM jsonb_array_elements_text(%s::jsonb) AS u "
                    "ON CONFLICT (project_id, user_id) DO NOTHING",
                    [project.pk, json.dumps(sorted(missing))],
                )
                cursor.execute(_PG_USERS_BY_ID, [project.pk, json.dumps(list(missing))])
                known.update(cursor.fetchall())
            return known
    known = dict(AppUser.objects.filter(project=project, user_id__in=user_ids).values_list("user_id", "id"))
    missing = user_ids.difference(known)
    if missing:
        AppUser.objects.bulk_create(
            [AppUser(project=project, user_id=user_id) for user_id in missing], ignore_conflicts=True, batch_size=5000
        )
        known.update(AppUser.objects.filter(project=project, user_id__in=missing).values_list("user_id", "id"))
    return known


def registered_user_ids(project: Project, user_ids: set[str]) -> dict[str, int]:
    """user_id -> id of those that exist; profile imports never create users."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_USERS_BY_ID, [project.pk, json.dumps(list(user_ids))])
            return dict(cursor.fetchall())
    return dict(AppUser.objects.filter(project=project, user_id__in=user_ids).values_list("user_id", "id"))


def profiles_merge(patches: dict[int, dict]) -> None:
    """Merge each user's new values over the stored profile: one UPDATE on PostgreSQL."""
    if connection.vendor == "postgresql":
        table = AppUser._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS u SET profile = u.profile || p.patch "
                "FROM jsonb_each(%s::jsonb) AS p(id, patch) WHERE u.id = p.id::bigint",
                [json.dumps(patches)],
            )
        return
    users = AppUser.objects.filter(pk__in=patches).only("pk", "profile")
    for user in users:
        user.profile = {**user.profile, **patches[user.pk]}
    AppUser.objects.bulk_update(users, ["profile"], batch_size=1000)


def tracked_events_insert(
    job: ImportJob, events: list[ValidEvent], user_ids: Mapping[str, int], event_ids: Mapping[str, int]
) -> None:
    now = timezone.now()
    if connection.vendor == "postgresql":
        _tracked_events_copy(job, events, user_ids, event_ids, now)
        return
    TrackedEvent.objects.bulk_create(
        [
            TrackedEvent(
                project_id=job.project_id,
                app_user_id=user_ids[event.user_id],
                event_id=event_ids[event.event_name],
                job_id=job.pk,
                properties=event.properties,
                tracked_at=now,
            )
            for event in events
        ],
        batch_size=2000,
    )


def _tracked_events_copy(job, events, user_ids, event_ids, now) -> None:
    """COPY in text format. Properties go in as written unless they hold raw control characters
    (JSON allows none inside strings; re-encoding escapes them); backslashes are COPY's escape."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    head = f"{job.project_id}\t"
    middle = f"\t{job.pk}\t"
    tail = f"\t{now.isoformat()}\n"
    lines = []
    for event in events:
        text = event.properties_json
        if _CONTROL_CHARACTER.search(text):
            text = dumps(event.properties)
        if "\\" in text:
            text = text.replace("\\", "\\\\")
        lines.append(f"{head}{user_ids[event.user_id]}\t{event_ids[event.event_name]}{middle}{text}{tail}")
    table = TrackedEvent._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {table} (project_id, app_user_id, event_id, job_id, properties, tracked_at) FROM STDIN"
        ) as copy:
            copy.write("".join(lines))


def row_errors_insert(
    job: ImportJob, failed: list[tuple[Record, list[str]]], *, header: list[str], errors_first: bool
) -> None:
    """The chunk's failed rows, each with its reasons and its finished line of the error CSV."""
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(
                job=job,
                number=record.number,
                line=record.line,
                reasons=[printable(reason) for reason in reasons],
                csv_line=errors_csv.error_line(record.values, reasons, header, errors_first=errors_first),
            )
            for record, reasons in failed
        ],
        batch_size=ROW_ERROR_BATCH,
    )
