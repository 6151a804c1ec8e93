"""The database-specific bulk writes of an import: COPY and JSON-array SQL on PostgreSQL, bulk_create
and bulk_update elsewhere. Callers decide what to write (``importers``) and own the transaction
and checkpoint around it (``jobs.chunk_commit``).

Users are upserted in bulk (insert-ignore, then one select); tracked events go in with COPY on
PostgreSQL; profile values are merged per user (``profile || patch`` on PostgreSQL).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from django.db import connection
from django.utils import timezone

from imports.core import errors_csv
from imports.core.chunks import Row
from imports.core.reader import printable
from imports.models import AppUser, ImportJob, ImportRowError, Project, TrackedEvent

ROW_ERROR_BATCH = 2000
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
    job: ImportJob,
    *,
    user_ids: Sequence[str],
    event_names: Sequence[str],
    properties_json: Sequence[str],
    app_user_ids: Mapping[str, int],
    event_ids: Mapping[str, int],
) -> None:
    """The chunk's events, given as columns (each event's user_id, name and properties as strict
    JSON text), with the ids their users and names resolved to."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        _tracked_events_copy(job, user_ids, event_names, properties_json, app_user_ids, event_ids, now)
        return
    TrackedEvent.objects.bulk_create(
        [
            TrackedEvent(
                project_id=job.project_id,
                app_user_id=app_user_ids[user_id],
                event_id=event_ids[event_name],
                job_id=job.pk,
                properties=json.loads(text),
                tracked_at=now,
            )
            for user_id, event_name, text in zip(user_ids, event_names, properties_json, strict=True)
        ],
        batch_size=2000,
    )


# COPY's text format gives these a meaning; JSON has them only as whitespace between tokens
# (inside strings they are escaped) and as the escape character.
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _tracked_events_copy(job, user_ids, event_names, properties_json, app_user_ids, event_ids, now) -> None:
    """COPY in text format, the chunk's data built by C-level joins: the columns are mapped to ids
    and formatted a whole column at a time, never an object per row."""
    texts = properties_json
    if _COPY_SPECIAL.search("".join(texts)):
        texts = [text.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text) else text for text in texts]
    line = f"{job.project_id}\t{{}}\t{{}}\t{job.pk}\t{{}}\t{now.isoformat()}\n".format
    data = "".join(
        map(line, map(app_user_ids.__getitem__, user_ids), map(event_ids.__getitem__, event_names), texts)
    )
    table = TrackedEvent._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {table} (project_id, app_user_id, event_id, job_id, properties, tracked_at) FROM STDIN"
        ) as copy:
            copy.write(data)


def row_errors_insert(
    job: ImportJob, failed: list[tuple[Row, list[str]]], *, header: list[str], errors_first: bool, max_bytes: int
) -> None:
    """The chunk's failed rows, each with its reasons and its finished line of the error CSV (a
    row past `max_bytes` cut, docs/decisions-core.md)."""
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(
                job=job,
                number=row.number,
                line=row.line,
                reasons=[printable(reason) for reason in reasons],
                csv_line=errors_csv.error_line(
                    row.values, reasons, header, errors_first=errors_first, max_bytes=max_bytes
                ),
            )
            for row, reasons in failed
        ],
        batch_size=ROW_ERROR_BATCH,
    )
