"""Writes validated chunks to the database, one transaction per chunk with the job's checkpoint.

Users and event definitions are upserted in bulk (insert-ignore, then one select); tracked events
go in with COPY on PostgreSQL and bulk_create elsewhere. A dry run goes through the same code and
only skips the writes to users, events and profiles.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from imports import sources
from imports.core import errors_csv
from imports.core.events import (
    EventColumns,
    ValidEvent,
    event_columns,
    event_limit_message,
    event_off_message,
    plan_event_definitions,
    validate_event,
)
from imports.core.profiles import (
    MAX_HEADER_BYTES,
    ProfileColumns,
    ProfileType,
    check_profile_key_limit,
    infer_types,
    profile_columns,
    to_json_value,
    validate_profile,
)
from imports.core.reader import Header, Record, has_bad_utf8, printable
from imports.models import (
    AppUser,
    EventDefinition,
    ImportJob,
    ImportPart,
    ImportRowError,
    ProfileKey,
    Project,
    TrackedEvent,
)

ROW_ERROR_BATCH = 2000
_CONTROL_CHARACTER = re.compile("[\x00-\x1f]")
_PG_USERS_BY_ID = (
    f"SELECT user_id, id FROM {AppUser._meta.db_table} WHERE project_id = %s "
    "AND user_id IN (SELECT jsonb_array_elements_text(%s::jsonb))"
)


class CheckpointMoved(Exception):
    """Another run of the same part committed this chunk first (or the job ended); this run stops."""


@dataclass(slots=True)
class ChunkResult:
    imported: int
    failed: list[tuple[Record, list[str]]]


class Importer:
    """What differs between the kinds of import; the pipeline and the chunk commit are shared."""

    max_header_bytes: int | None = None
    errors_first = False
    # Whether ``prepare`` reads data rows; if not, the file is not opened again for it.
    prepare_reads_rows = False

    def check_header(self, header: Header) -> None:
        raise NotImplementedError

    def prepare(self, *, job: ImportJob, header: Header, records: Iterable[Record]) -> dict:
        """Whole-file checks that need the data rows (before any write); returns summary entries."""
        return {}

    def check(self, *, job: ImportJob, records: list[Record]) -> object:
        """The part of a chunk's work that writes nothing. It runs while the previous chunk is
        being written; ``write`` gets its result."""
        raise NotImplementedError

    def write(self, *, job: ImportJob, records: list[Record], checked: object) -> ChunkResult:
        raise NotImplementedError


class EventImporter(Importer):
    columns: EventColumns
    # user_id -> AppUser id, remembered across chunks (a user's id never changes); bounded so
    # memory stays flat however many distinct users a file has.
    USER_CACHE_SIZE = 200_000

    def __init__(self) -> None:
        self.user_ids: dict[str, int] = {}

    def check_header(self, header: Header) -> None:
        self.columns = event_columns(header)

    def _user_ids(self, project: Project, user_ids: set[str]) -> dict[str, int]:
        missing = user_ids.difference(self.user_ids)
        if missing:
            if len(self.user_ids) + len(missing) > self.USER_CACHE_SIZE:
                self.user_ids.clear()
            self.user_ids.update(app_user_ids(project, missing))
        return self.user_ids

    def check(self, *, job: ImportJob, records: list[Record]) -> tuple[list, list[tuple[Record, ValidEvent]]]:
        failed: list[tuple[Record, list[str]]] = []
        valid: list[tuple[Record, ValidEvent]] = []
        for record in records:
            result = validate_event(record, self.columns)
            if isinstance(result, list):
                failed.append((record, result))
            else:
                valid.append((record, result))
        return failed, valid

    def write(self, *, job: ImportJob, records: list[Record], checked: object) -> ChunkResult:
        failed, valid = checked  # type: ignore[misc]
        definitions = _event_definitions(job, [event.event_name for _, event in valid])
        recorded: list[ValidEvent] = []
        for record, event in valid:
            definition = definitions[event.event_name]
            if definition.enabled:
                recorded.append(event)
            else:
                off = event_limit_message if definition.added_off else event_off_message
                failed.append((record, [off(event.event_name)]))
        if not job.dry_run and recorded:
            user_ids = self._user_ids(job.project, {event.user_id for event in recorded})
            _tracked_events_insert(job, recorded, user_ids, definitions)
        return ChunkResult(imported=len(recorded), failed=failed)


class ProfileImporter(Importer):
    """User Profile Bulk Import (SPEC 4): typed values merged into existing users' profiles."""

    max_header_bytes = MAX_HEADER_BYTES
    errors_first = True
    prepare_reads_rows = True  # types of new keys come from the first rows
    columns: ProfileColumns

    def check_header(self, header: Header) -> None:
        self.columns = profile_columns(header)

    @transaction.atomic
    def prepare(self, *, job: ImportJob, header: Header, records: Iterable[Record]) -> dict:
        """Types for every key, the key limit, and (not in a dry run) the new keys themselves.

        The project row is locked so two imports cannot both pass the limit with new keys.
        """
        project = Project.objects.select_for_update().get(pk=job.project_id)
        plan = self.key_plan(project=project, records=records)
        if not job.dry_run:
            types = plan["profile_types"]
            ProfileKey.objects.bulk_create(
                [
                    ProfileKey(project=project, name=name, type=types[name], created_by_job=job)
                    for name in plan["new_profile_keys"]
                ],
                ignore_conflicts=True,
            )
        return plan

    def key_plan(self, *, project: Project, records: Iterable[Record]) -> dict:
        """The keys' types (kept or inferred) without those turned Off, the new keys and the Off ones;
        FileFormatError if the new keys would pass the project's limit. Writes nothing, so API v2
        answers with it before its job exists."""
        existing = {key.name: key for key in ProfileKey.objects.filter(project=project, name__in=self.columns.keys)}
        types = infer_types(records, self.columns, {name: ProfileType(key.type) for name, key in existing.items()})
        new_keys = [name for name in self.columns.keys if name not in existing]
        enabled = ProfileKey.objects.filter(project=project, enabled=True).count()
        check_profile_key_limit(new_keys=len(new_keys), enabled_count=enabled, limit=project.max_enabled_profile_keys)
        off = [name for name, key in existing.items() if not key.enabled]
        return {
            "profile_types": {name: types[name].value for name in self.columns.keys if name not in off},
            "new_profile_keys": new_keys,
            "ignored_keys": off,
        }

    def check(self, *, job: ImportJob, records: list[Record]) -> tuple[list, dict[int, dict], int]:
        """Rows checked against the users that exist (a read: profile imports never create users)
        and merged into one patch per user."""
        types = {name: ProfileType(type_) for name, type_ in job.summary["profile_types"].items()}
        # Keys turned Off are not changed by imports: their columns are left out.
        columns = replace(self.columns, keys={k: i for k, i in self.columns.keys.items() if k in types})
        index = columns.user_id
        candidates = {
            r.values[index] for r in records if index < len(r.values) and not (r.bad_utf8 and has_bad_utf8(r.values[index]))
        }
        registered = _registered_user_ids(job.project, candidates)
        failed: list[tuple[Record, list[str]]] = []
        patches: dict[int, dict] = {}
        for record in records:
            result = validate_profile(record, columns, types, registered)
            if isinstance(result, list):
                failed.append((record, result))
            else:  # file order: a later row for the same user wins, key by key
                patch = patches.setdefault(registered[result.user_id], {})
                patch.update((key, to_json_value(value)) for key, value in result.values.items())
        return failed, patches, len(records) - len(failed)

    def write(self, *, job: ImportJob, records: list[Record], checked: object) -> ChunkResult:
        failed, patches, imported = checked  # type: ignore[misc]
        if not job.dry_run and patches:
            _profiles_merge(patches)
        return ChunkResult(imported=imported, failed=failed)


IMPORTERS = {ImportJob.Kind.EVENTS: EventImporter, ImportJob.Kind.USER_PROFILES: ProfileImporter}


def importer_for(job: ImportJob) -> Importer:
    return IMPORTERS[job.kind]()


def chunk_commit(
    *, part: ImportPart, job: ImportJob, importer: Importer, header: Header, records: list[Record], checked: object
) -> None:
    """Write one chunk, its row errors and the part's new checkpoint atomically; updates ``part``.

    The part row is the lock: a second run of the same part finds the checkpoint moved and stops.
    The job's counters move by increments, so parallel parts never overwrite each other's counts.
    """
    with transaction.atomic():
        locked = ImportPart.objects.select_for_update().get(pk=part.pk)
        if locked.checkpoint_offset != part.checkpoint_offset or locked.state != ImportPart.State.RUNNING:
            raise CheckpointMoved
        if job.dry_run:  # a dry run is one part; it keeps its plans in the job's summary
            job = ImportJob.objects.select_related("project").select_for_update(of=("self",)).get(pk=job.pk)
        result = importer.write(job=job, records=records, checked=checked)
        _row_errors_insert(job, importer, header, result.failed)
        locked.rows_done += len(records)
        locked.imported += result.imported
        locked.failed += len(result.failed)
        locked.checkpoint_offset = records[-1].end
        locked.checkpoint_line = records[-1].last_line
        locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["rows_done", "imported", "failed", "checkpoint_offset", "checkpoint_line",
                                   "heartbeat_at"])
        counters = {
            "rows_read": F("rows_read") + len(records),
            "imported": F("imported") + result.imported,
            "failed": F("failed") + len(result.failed),
        }
        if job.dry_run:
            counters["summary"] = job.summary
        if not ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING).update(**counters):
            raise CheckpointMoved  # the job was failed meanwhile: write nothing more
    for field in ("rows_done", "imported", "failed", "checkpoint_offset", "checkpoint_line", "heartbeat_at"):
        setattr(part, field, getattr(locked, field))


def part_finish(*, part: ImportPart) -> bool:
    """Mark the part done; True for the one part that completes the job (decided by the job row lock)."""
    with transaction.atomic():
        locked = ImportPart.objects.select_for_update().get(pk=part.pk)
        if locked.state == ImportPart.State.DONE:
            return False
        job = ImportJob.objects.select_for_update().get(pk=part.job_id)
        locked.state = ImportPart.State.DONE
        locked.finished_at = timezone.now()
        locked.save(update_fields=["state", "finished_at"])
        job.parts_done += 1
        job.save(update_fields=["parts_done"])
        return job.parts_done == job.parts_total


def job_finish(*, job: ImportJob) -> None:
    """Render the error CSV (rows in file order) and give the job its final state."""
    job.refresh_from_db()
    key = ""
    if job.failed:
        key = _error_csv_render(job)
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.is_final:
            return
        locked.error_csv_key = key
        locked.state = locked.finished_state()
        locked.finished_at = timezone.now()
        locked.save(update_fields=["error_csv_key", "state", "finished_at"])


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


def _registered_user_ids(project: Project, user_ids: set[str]) -> dict[str, int]:
    """user_id -> id of those that exist; profile imports never create users."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_USERS_BY_ID, [project.pk, json.dumps(list(user_ids))])
            return dict(cursor.fetchall())
    return dict(AppUser.objects.filter(project=project, user_id__in=user_ids).values_list("user_id", "id"))


def _profiles_merge(patches: dict[int, dict]) -> None:
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


def _event_definitions(job: ImportJob, names: list[str]) -> dict[str, Definition]:
    """The chunk's event names as definitions, creating new names per SPEC 3.

    New names are planned under a lock on the project row, so concurrent imports (or parts of
    one import) never enable more events than the project's limit. A dry run plans in the job's
    summary instead of creating anything.
    """
    unique = list(dict.fromkeys(names))
    found = _event_definitions_get(job, unique)
    planned = job.summary.setdefault("new_events", {}) if job.dry_run else {}
    new = [name for name in unique if name not in found and name not in planned]
    if new:
        project = Project.objects.select_for_update().get(pk=job.project_id)
        if not job.dry_run:
            found = _event_definitions_get(job, unique)
            new = [name for name in new if name not in found]
        enabled_count = EventDefinition.objects.filter(project=project, enabled=True).count()
        plan = plan_event_definitions(new, {}, enabled_count + sum(planned.values()), project.max_enabled_events)
        if job.dry_run:
            planned.update(plan)
        else:
            EventDefinition.objects.bulk_create(
                [
                    EventDefinition(project=project, name=name, display_name=name, enabled=on, created_by_job=job)
                    for name, on in plan.items()
                ],
                ignore_conflicts=True,
            )
            found.update(_event_definitions_get(job, list(plan)))
    for name, on in planned.items():
        if name in unique:
            found[name] = Definition(None, on, added_off=not on)
    return found


@dataclass(frozen=True, slots=True)
class Definition:
    id: int | None  # None: planned by a dry run
    enabled: bool
    added_off: bool  # created Off by this job because the project's limit was reached


def _event_definitions_get(job: ImportJob, names: list[str]) -> dict[str, Definition]:
    rows = EventDefinition.objects.filter(project_id=job.project_id, name__in=names).values_list(
        "name", "id", "enabled", "created_by_job_id"
    )
    return {name: Definition(pk, on, not on and by_job == job.pk) for name, pk, on, by_job in rows}


def _tracked_events_insert(
    job: ImportJob,
    events: list[ValidEvent],
    user_ids: Mapping[str, int],
    definitions: Mapping[str, Definition],
) -> None:
    now = timezone.now()
    if connection.vendor == "postgresql":
        _tracked_events_copy(job, events, user_ids, definitions, now)
        return
    TrackedEvent.objects.bulk_create(
        [
            TrackedEvent(
                project_id=job.project_id,
                app_user_id=user_ids[event.user_id],
                event_id=definitions[event.event_name].id,
                job_id=job.pk,
                properties=event.properties,
                tracked_at=now,
            )
            for event in events
        ],
        batch_size=2000,
    )


def _tracked_events_copy(job, events, user_ids, definitions, now) -> None:
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
        lines.append(f"{head}{user_ids[event.user_id]}\t{definitions[event.event_name].id}{middle}{text}{tail}")
    table = TrackedEvent._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {table} (project_id, app_user_id, event_id, job_id, properties, tracked_at) FROM STDIN"
        ) as copy:
            copy.write("".join(lines))


def _row_errors_insert(
    job: ImportJob, importer: Importer, header: Header, failed: list[tuple[Record, list[str]]]
) -> None:
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(
                job=job,
                number=record.number,
                line=record.line,
                reasons=[printable(reason) for reason in reasons],
                csv_line=errors_csv.error_line(record.values, reasons, header.names, errors_first=importer.errors_first),
            )
            for record, reasons in failed
        ],
        batch_size=ROW_ERROR_BATCH,
    )


def _error_csv_render(job: ImportJob) -> str:
    """Header plus the stored lines in row order, spooled to a temporary file, then into storage."""
    key = sources.error_csv_key(job)
    with tempfile.TemporaryFile() as out:
        out.write(errors_csv.encode_row(job.summary["error_header"]))
        lines = ImportRowError.objects.filter(job=job).order_by("number").values_list("csv_line", flat=True)
        for line in lines.iterator(chunk_size=ROW_ERROR_BATCH):
            out.write(bytes(line))
        out.seek(0)
        if default_storage.exists(key):
            default_storage.delete(key)
        return default_storage.save(key, File(out))
