"""The database-specific bulk writes of an import: COPY and JSON-array SQL on PostgreSQL, bulk_create
and bulk_update elsewhere. Callers decide what to write (``importers``) and own the transaction
and checkpoint around it (``jobs.chunk_commit``).

Users are upserted in bulk (insert-ignore, then one select); tracked events go in with COPY on
PostgreSQL. Profile values are merged by ``provenance.profiles_merge``, which also keeps what
they overwrote.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from itertools import chain, repeat

from django.conf import settings
from django.db import connection
from django.utils import timezone

from imports.core import errors_csv
from imports.core.chunks import Row
from imports.core.reader import printable
from imports.models import AppUser, ImportJob, ImportRowError, Project, TrackedEvent

ROW_ERROR_BATCH = 2000
# Row errors go in, and come back out for the error CSV, in batches of at most about this many
# bytes of CSV lines (a cut line is up to IMPORT_ERROR_ROW_BYTES): 2,000 lines of 64 KiB would be
# 128 MB in one statement.
ROW_ERROR_BATCH_BYTES = 8 * 1024 * 1024
TRACKED_EVENT_COPY = (
    f"{TrackedEvent._meta.db_table} (project_id, app_user_id, event_id, job_id, properties, tracked_at)"
)
# The given user_ids' ids, each found by its own probe of the (project, user_id) unique index. Both
# halves of the form matter when the statistics are stale (a project's users just created, not yet
# analyzed): joined instead, the planner once scanned all of a project's users for every user_id
# (minutes a chunk); and a project id given as a constant would be estimated to have no users, so
# it goes in as a sub-select, whose estimate is the average project's.
_PG_USERS_FOUND = (
    f"SELECT u, (SELECT a.id FROM {AppUser._meta.db_table} a "
    "WHERE a.project_id = (SELECT %(project)s::bigint) AND a.user_id = u) AS id "
    "FROM jsonb_array_elements_text(%(ids)s::jsonb) AS w(u)"
)
_PG_USERS_BY_ID = f"WITH found AS MATERIALIZED ({_PG_USERS_FOUND}) SELECT u, id FROM found WHERE id IS NOT NULL"


# The users of a chunk in one statement: those that exist, and the missing ones inserted (sorted,
# so two imports creating the same users never wait on each other in opposite orders).
_PG_USERS_RESOLVE = f"""
WITH found AS MATERIALIZED ({_PG_USERS_FOUND}),
created AS (
    INSERT INTO {AppUser._meta.db_table} (project_id, user_id, profile, profile_set_by, created_at, created_by_job_id)
    SELECT %(project)s, u, '{{}}'::jsonb, '{{}}'::jsonb, now(), %(job)s FROM found WHERE id IS NULL ORDER BY u
    ON CONFLICT (project_id, user_id) DO NOTHING
    RETURNING user_id, id
)
SELECT u, id FROM found WHERE id IS NOT NULL UNION ALL SELECT user_id, id FROM created
"""


def app_user_ids(project: Project, user_ids: set[str], created_by_job: ImportJob | None = None) -> dict[str, int]:
    """Ids of the project's users, creating the missing ones (insert-ignore, safe under concurrency).

    On PostgreSQL one statement, the ids travelling as one JSON array parameter (far cheaper to
    send than a text[] of thousands); only users another import created at the same moment
    (committed after the statement began, so neither seen nor inserted) take a second look-up.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _PG_USERS_RESOLVE,
                {"ids": json.dumps(list(user_ids)), "project": project.pk, "job": created_by_job and created_by_job.pk},
            )
            known = dict(cursor.fetchall())
            if missing := user_ids.difference(known):
                cursor.execute(_PG_USERS_BY_ID, {"ids": json.dumps(list(missing)), "project": project.pk})
                known.update(cursor.fetchall())
            return known
    known = dict(AppUser.objects.filter(project=project, user_id__in=user_ids).values_list("user_id", "id"))
    missing = user_ids.difference(known)
    if missing:
        AppUser.objects.bulk_create(
            [AppUser(project=project, user_id=user_id, created_by_job=created_by_job) for user_id in missing],
            ignore_conflicts=True,
            batch_size=5000,
        )
        known.update(AppUser.objects.filter(project=project, user_id__in=missing).values_list("user_id", "id"))
    return known


def registered_user_ids(project: Project, user_ids: set[str]) -> dict[str, int]:
    """user_id -> id of those that exist; profile imports never create users."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_USERS_BY_ID, {"ids": json.dumps(list(user_ids)), "project": project.pk})
            return dict(cursor.fetchall())
    return dict(AppUser.objects.filter(project=project, user_id__in=user_ids).values_list("user_id", "id"))


def tracked_events_insert(
    job: ImportJob,
    *,
    user_ids: Sequence[str],
    event_names: Sequence[str],
    properties_json: Sequence[str],
    app_user_ids: Mapping[str, int],
    event_ids: Mapping[str, int],
) -> datetime:
    """The chunk's events, given as columns (each event's user_id, name and properties as strict
    JSON text), with the ids their users and names resolved to; all tracked now, which is returned
    (the chunk's ``tracked_at``)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        _tracked_events_copy(job, user_ids, event_names, properties_json, app_user_ids, event_ids, now)
        return now
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
    return now


# COPY's binary format costs PostgreSQL least (measured in bench/events_import.py: no integer or
# time-stamp to parse, no delimiters to scan). A row: its field count, then each field as its
# length and bytes; int8 and timestamptz are 8 bytes big-endian, jsonb is a version byte (1) and
# the JSON text, which PostgreSQL parses as it does from text.
_COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_BINARY_END = struct.pack("!h", -1)
_INT8 = struct.Struct("!iq")
_JSONB_START = struct.Struct("!ib")  # the field's length, then jsonb's version byte
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)


def tracked_events_copy_data(
    *, project_id: int, job_id: int, tracked_at: datetime, user_ids: Sequence[int], event_ids: Sequence[int],
    properties_json: Sequence[str],
) -> bytes:
    """The COPY (FORMAT binary) data of tracked events given as columns of ready values, built by
    C-level maps and one join: no Python code runs per row."""
    micros = (tracked_at - _POSTGRES_EPOCH) // timedelta(microseconds=1)
    start = struct.pack("!h", 6) + _INT8.pack(8, project_id)
    job = _INT8.pack(8, job_id)
    end = _INT8.pack(8, micros)
    users = {user: _INT8.pack(8, user) for user in set(user_ids)}
    events = {event: _INT8.pack(8, event) for event in set(event_ids)}
    texts = list(map(str.encode, properties_json))
    lengths = map(_JSONB_START.pack, map((1).__add__, map(len, texts)), repeat(1))
    rows = zip(
        repeat(start), map(users.__getitem__, user_ids), map(events.__getitem__, event_ids), repeat(job), lengths,
        texts, repeat(end),
    )
    return b"".join((_COPY_BINARY_HEADER, *chain.from_iterable(rows), _COPY_BINARY_END))


def _tracked_events_copy(job, user_ids, event_names, properties_json, app_user_ids, event_ids, now) -> None:
    data = tracked_events_copy_data(
        project_id=job.project_id,
        job_id=job.pk,
        tracked_at=now,
        user_ids=list(map(app_user_ids.__getitem__, user_ids)),
        event_ids=list(map(event_ids.__getitem__, event_names)),
        properties_json=properties_json,
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {TRACKED_EVENT_COPY} FROM STDIN (FORMAT binary)") as copy:
            copy.write(data)


def row_errors_insert(
    job: ImportJob, failed: list[tuple[Row, list[str]]], *, header: list[str], errors_first: bool, max_bytes: int
) -> None:
    """The chunk's failed rows, each with its reasons and its finished line of the error CSV (a
    row past `max_bytes` cut, docs/decisions-core.md)."""
    errors = [
        ImportRowError(
            job=job,
            number=row.number,
            line=row.line,
            reasons=[printable(reason) for reason in reasons],
            csv_line=errors_csv.error_line(row.values, reasons, header, errors_first=errors_first, max_bytes=max_bytes),
        )
        for row, reasons in failed
    ]
    longest = max((len(error.csv_line) for error in errors), default=0)
    ImportRowError.objects.bulk_create(errors, batch_size=row_error_batch(longest))


def row_error_batch(line_bytes: int) -> int:
    """How many row errors of up to `line_bytes` bytes of CSV line go in one batch."""
    return max(1, min(ROW_ERROR_BATCH, ROW_ERROR_BATCH_BYTES // max(1, line_bytes)))


def row_error_fetch_size() -> int:
    """Stored error CSV lines to fetch at a time: each may be a cut row of IMPORT_ERROR_ROW_BYTES
    plus its reasons."""
    return row_error_batch(settings.IMPORT_ERROR_ROW_BYTES + 4096)
