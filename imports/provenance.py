"""What each import wrote, recorded in the chunk's own transaction so that it can be shown and undone.

Events: one ``ImportedEventBatch`` per event and chunk (a chunk's rows share their ``tracked_at``).
Profiles: the merge itself, which also records which import set each key (``AppUser.profile_set_by``)
and, in the same statement, the values it overwrote (``ProfileBeforeImage``).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from django.db import connection

from imports.models import AppUser, ImportedEventBatch, ImportJob, ProfileBeforeImage

# pg_advisory_xact_lock's first key: this application's lock on "a project's users and event
# definitions are being referred to"; the second key is the project's id.
_REFERENCES_LOCK = 160_016


def references_lock_shared(*, project_id: int) -> None:
    """Held by each events chunk from looking its users and definitions up to its commit, so an
    undo (which takes the lock exclusively) cannot remove one that a chunk is about to refer to.
    Shared holders never wait for each other. SQLite has one writer at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [_REFERENCES_LOCK, project_id])


def references_lock_exclusive(*, project_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_REFERENCES_LOCK, project_id])


def event_batches_record(*, job: ImportJob, first_number: int, tracked_at: datetime, event_ids: list[int]) -> None:
    """How many rows of each event the chunk starting at row ``first_number`` tracked."""
    ImportedEventBatch.objects.bulk_create(
        ImportedEventBatch(job=job, event_id=event_id, first_number=first_number, tracked_at=tracked_at, row_count=rows)
        for event_id, rows in Counter(event_ids).items()
    )


_PG_MERGE = f"""
WITH patch AS (
    SELECT id::bigint AS id, patch, (%(user_key_sets)s::jsonb ->> id)::int AS key_set
    FROM jsonb_each(%(patches)s::jsonb) AS p(id, patch)
), image AS (
    INSERT INTO {ProfileBeforeImage._meta.db_table} (job_id, first_number, old_profiles, old_set_by, key_sets, user_key_sets)
    SELECT %(job)s, %(first_number)s, jsonb_object_agg(u.id::text, u.profile), jsonb_object_agg(u.id::text, u.profile_set_by),
           %(key_sets)s::jsonb, %(user_key_sets)s::jsonb
    FROM {AppUser._meta.db_table} AS u JOIN patch AS p ON u.id = p.id HAVING count(*) > 0
)
UPDATE {AppUser._meta.db_table} AS u
SET profile = u.profile || p.patch, profile_set_by = u.profile_set_by || (%(set_by)s::jsonb -> p.key_set)
FROM patch AS p WHERE u.id = p.id
"""


def profiles_merge(*, job: ImportJob, first_number: int, patches: dict[int, dict]) -> None:
    """Merge each user's new values over the stored profile and note this import as their setter,
    keeping each user's profile and setters as they were, with the keys set, as the chunk's
    before-image.

    On PostgreSQL this is one statement: its CTEs read the rows before the UPDATE changes them
    (one snapshot), so the capture is set-based and costs no extra round trip. Users are grouped
    by the keys they get (a file gives few distinct sets), so no per-user JSON is built in SQL.
    """
    patches = {pk: patch for pk, patch in patches.items() if patch}  # a row of empty values changes nothing
    if not patches:
        return
    key_sets: dict[tuple[str, ...], int] = {}
    user_key_sets = {str(pk): key_sets.setdefault(tuple(patch), len(key_sets)) for pk, patch in patches.items()}
    if connection.vendor == "postgresql":
        params = {
            "patches": json.dumps(patches),
            "user_key_sets": json.dumps(user_key_sets),
            "key_sets": json.dumps(list(key_sets)),
            "set_by": json.dumps([dict.fromkeys(keys, job.pk) for keys in key_sets]),
            "job": job.pk,
            "first_number": first_number,
        }
        with connection.cursor() as cursor:
            cursor.execute(_PG_MERGE, params)
        return
    users = list(AppUser.objects.filter(pk__in=patches).only("pk", "profile", "profile_set_by"))
    if not users:
        return
    ProfileBeforeImage.objects.create(
        job=job,
        first_number=first_number,
        old_profiles={str(user.pk): user.profile for user in users},
        old_set_by={str(user.pk): user.profile_set_by for user in users},
        key_sets=list(key_sets),
        user_key_sets={str(user.pk): user_key_sets[str(user.pk)] for user in users},
    )
    for user in users:
        patch = patches[user.pk]
        user.profile = {**user.profile, **patch}
        user.profile_set_by = {**user.profile_set_by, **dict.fromkeys(patch, job.pk)}
    AppUser.objects.bulk_update(users, ["profile", "profile_set_by"], batch_size=1000)
