"""What differs between the kinds of import (SPEC 3, 4): header rules, whole-file planning, and
how a chunk of rows is checked and then written. The job's lifecycle (claims, checkpoints, final
state) is ``jobs``; the database-specific bulk writes are ``sinks``.

A chunk goes through ``check`` (writes nothing; it runs while the previous chunk is being
written) and then ``write`` (inside the chunk's transaction), which gets ``check``'s typed result.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import compress
from typing import BinaryIO, Generic, TypeVar

from django.db import transaction

from imports import provenance, selectors, sinks
from imports.core.chunks import Chunk
from imports.core.events import (
    CheckedEvents,
    EventColumns,
    check_events,
    event_columns,
    event_limit_message,
    event_off_message,
    plan_event_definitions,
)
from imports.core.profiles import (
    MAX_HEADER_BYTES,
    ProfileColumns,
    ProfileType,
    check_profile_key_limit,
    check_profiles,
    infer_types,
    profile_columns,
)
from imports.core.reader import (
    FileFormatError,
    Header,
    Record,
    has_bad_utf8,
    iter_records,
    open_decompressed,
    read_header,
)
from imports.models import EventDefinition, ImportJob, ProfileKey, Project

FailedRow = tuple[int, list[str]]  # a row (its index in the chunk) and every reason it failed
Checked = TypeVar("Checked")


@dataclass(slots=True)
class ChunkResult:
    imported: int
    failed: list[FailedRow]


@dataclass(frozen=True, slots=True)
class ProfilePlan:
    """A profile file's keys: their types (without the keys turned Off), the new ones, the Off ones."""

    types: dict[str, str]
    new_keys: list[str] = field(default_factory=list)
    ignored_keys: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ProfileCheck:
    failed: list[FailedRow]
    patches: dict[int, dict]  # AppUser id -> the values to merge into its profile
    imported: int


class Importer(Generic[Checked]):
    """The kind-specific steps; the pipeline and the job lifecycle are shared."""

    max_header_bytes: int | None = None
    errors_first = False
    # Whether ``prepare`` reads data rows; if not, the file is not opened again for it.
    prepare_reads_rows = False

    def check_header(self, header: Header) -> None:
        raise NotImplementedError

    def prepare(self, *, job: ImportJob, header: Header, records: Iterable[Record]) -> ProfilePlan | None:
        """Whole-file checks that need the data rows (before any write)."""
        return None

    def check(self, *, job: ImportJob, chunk: Chunk) -> Checked:
        raise NotImplementedError

    def write(self, *, job: ImportJob, chunk: Chunk, checked: Checked) -> ChunkResult:
        raise NotImplementedError


class EventImporter(Importer[CheckedEvents]):
    """Event Bulk Tracking (SPEC 3): users and event definitions made as needed, events recorded."""

    columns: EventColumns
    # user_id -> AppUser id, remembered across chunks (a user's id never changes); bounded so
    # memory stays flat however many distinct users a file has.
    USER_CACHE_SIZE = 200_000

    def __init__(self) -> None:
        self.user_ids: dict[str, int] = {}

    def check_header(self, header: Header) -> None:
        self.columns = event_columns(header)

    def _user_ids(self, job: ImportJob, user_ids: set[str]) -> dict[str, int]:
        missing = user_ids.difference(self.user_ids)
        if missing:
            if len(self.user_ids) + len(missing) > self.USER_CACHE_SIZE:
                self.user_ids.clear()
            self.user_ids.update(sinks.app_user_ids(job.project, missing, created_by_job=job))
        return self.user_ids

    def check(self, *, job: ImportJob, chunk: Chunk) -> CheckedEvents:
        return check_events(chunk, self.columns)

    def write(self, *, job: ImportJob, chunk: Chunk, checked: CheckedEvents) -> ChunkResult:
        failed = list(checked.failed)
        names = checked.event_names
        if not job.dry_run:
            provenance.references_lock_shared(project_id=job.project_id)
        definitions = event_definitions(job, names)
        columns = (checked.user_ids, names, checked.properties_json)
        if not all(definition.enabled for definition in definitions.values()):
            on = [definitions[name].enabled for name in names]
            for row, name, enabled in zip(checked.rows, names, on):
                if not enabled:
                    definition = definitions[name]
                    off = event_limit_message if definition.added_off else event_off_message
                    failed.append((row, [off(name)]))
            columns = tuple(list(compress(column, on)) for column in columns)
        user_ids, names, texts = columns
        if not job.dry_run and user_ids:
            event_ids = {name: definition.id for name, definition in definitions.items()}
            tracked_at = sinks.tracked_events_insert(
                job,
                user_ids=user_ids,
                event_names=names,
                properties_json=texts,
                app_user_ids=self._user_ids(job, set(user_ids)),
                event_ids=event_ids,
            )
            provenance.event_batches_record(
                job=job, first_number=chunk.first_number, tracked_at=tracked_at,
                event_ids=[event_ids[name] for name in names],
            )
        return ChunkResult(imported=len(user_ids), failed=failed)


class ProfileImporter(Importer[ProfileCheck]):
    """User Profile Bulk Import (SPEC 4): typed values merged into existing users' profiles."""

    max_header_bytes = MAX_HEADER_BYTES
    errors_first = True
    prepare_reads_rows = True  # types of new keys come from the first rows
    columns: ProfileColumns

    def check_header(self, header: Header) -> None:
        self.columns = profile_columns(header)

    @transaction.atomic
    def prepare(self, *, job: ImportJob, header: Header, records: Iterable[Record]) -> ProfilePlan:
        """Types for every key, the key limit, and (not in a dry run) the new keys themselves.

        The project row is locked so two imports cannot both pass the limit with new keys.
        """
        project = Project.objects.select_for_update().get(pk=job.project_id)
        plan = self.key_plan(project=project, records=records, answered=job.profile_key_types)
        if not job.dry_run:
            ProfileKey.objects.bulk_create(
                [
                    ProfileKey(project=project, name=name, type=plan.types[name], created_by_job=job)
                    for name in plan.new_keys
                ],
                ignore_conflicts=True,
            )
        return plan

    def key_plan(
        self, *, project: Project, records: Iterable[Record], answered: dict[str, str] | None = None
    ) -> ProfilePlan:
        """The keys' types (kept or inferred) without those turned Off, the new keys and the Off ones;
        FileFormatError if the new keys would pass the project's limit. Writes nothing.

        ``answered``: the types API v2 already told the client (inferred from the rows its budget
        allowed); a new key keeps that type, so the job applies what the answer said.
        """
        existing = {key.name: key for key in ProfileKey.objects.filter(project=project, name__in=self.columns.keys)}
        known = {name: ProfileType(type_) for name, type_ in (answered or {}).items()}
        known.update((name, ProfileType(key.type)) for name, key in existing.items())
        types = infer_types(records, self.columns, known)
        new_keys = [name for name in self.columns.keys if name not in existing]
        enabled = selectors.profile_key_enabled_count(project=project)
        check_profile_key_limit(new_keys=len(new_keys), enabled_count=enabled, limit=project.max_enabled_profile_keys)
        off = [name for name, key in existing.items() if not key.enabled]
        return ProfilePlan(
            types={name: types[name].value for name in self.columns.keys if name not in off},
            new_keys=new_keys,
            ignored_keys=off,
        )

    def check(self, *, job: ImportJob, chunk: Chunk) -> ProfileCheck:
        """Rows checked against the users that exist (a read: profile imports never create users)
        and merged into one patch per user."""
        types = {name: ProfileType(type_) for name, type_ in job.profile_key_types.items()}
        # Keys turned Off are not changed by imports: their columns are left out.
        columns = replace(self.columns, keys={k: i for k, i in self.columns.keys.items() if k in types})
        index = columns.user_id
        candidates = {values[index] for values in chunk.rows if index < len(values)}
        if chunk.bad_utf8:
            candidates = {user_id for user_id in candidates if not has_bad_utf8(user_id)}
        registered = sinks.registered_user_ids(job.project, candidates)
        checked = check_profiles(chunk, columns, types, registered)
        patches: dict[int, dict] = {}
        for user_id, values in zip(checked.user_ids, checked.values):  # file order: a later row wins, key by key
            patches.setdefault(registered[user_id], {}).update(values)
        return ProfileCheck(failed=checked.failed, patches=patches, imported=len(checked.rows))

    def write(self, *, job: ImportJob, chunk: Chunk, checked: ProfileCheck) -> ChunkResult:
        if not job.dry_run and checked.patches:
            provenance.profiles_merge(job=job, first_number=chunk.first_number, patches=checked.patches)
        return ChunkResult(imported=checked.imported, failed=checked.failed)


IMPORTERS: dict[str, type[Importer]] = {
    ImportJob.Kind.EVENTS: EventImporter,
    ImportJob.Kind.USER_PROFILES: ProfileImporter,
}


def importer_for(job: ImportJob) -> Importer:
    return IMPORTERS[job.kind]()


def profile_key_types(*, project: Project, content: BinaryIO, complete: bool = True) -> dict[str, str]:
    """The key types SPEC 4 gives a profile file (key -> type), exactly as its job will apply them.

    Writes nothing, so API v2 answers with them before the file's job exists; FileFormatError
    for a bad header or new keys past the project's limit. ``complete=False``: ``content`` is the
    file's first part only (API v2's budget), so a row it cuts short ends the rows, not the file.
    """
    importer = ProfileImporter()
    stream = open_decompressed(content)
    header = read_header(stream, max_bytes=importer.max_header_bytes)
    importer.check_header(header)
    records = iter_records(stream, start=header.end)
    return importer.key_plan(project=project, records=records if complete else _until_cut(records)).types


def _until_cut(records: Iterator[Record]) -> Iterator[Record]:
    try:
        yield from records
    except FileFormatError:  # the row the sample cut: the job reads it whole
        return


@dataclass(frozen=True, slots=True)
class Definition:
    id: int | None  # None: planned by a dry run
    enabled: bool
    added_off: bool  # created Off by this job because the project's limit was reached


def event_definitions(job: ImportJob, names: list[str]) -> dict[str, Definition]:
    """The chunk's event names as definitions, creating new names per SPEC 3.

    New names are planned under a lock on the project row, so concurrent imports (or parts of
    one import) never enable more events than the project's limit. A dry run plans in the job's
    ``planned_events`` instead of creating anything.
    """
    unique = list(dict.fromkeys(names))
    found = _event_definitions_get(job, unique)
    planned = job.planned_events if job.dry_run else {}
    new = [name for name in unique if name not in found and name not in planned]
    if new:
        project = Project.objects.select_for_update().get(pk=job.project_id)
        if not job.dry_run:
            found = _event_definitions_get(job, unique)
            new = [name for name in new if name not in found]
        enabled_count = selectors.event_definition_enabled_count(project=project)
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


def _event_definitions_get(job: ImportJob, names: list[str]) -> dict[str, Definition]:
    rows = EventDefinition.objects.filter(project_id=job.project_id, name__in=names).values_list(
        "name", "id", "enabled", "created_by_job_id"
    )
    return {name: Definition(pk, on, not on and by_job == job.pk) for name, pk, on, by_job in rows}
