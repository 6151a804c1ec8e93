"""The one owner of ImportJob and ImportPart state: jobs are created here and only here, and every
change of their state, counts, plan and checkpoints is made here.

The path of a job: ``import_job_create`` (queued; its task is enqueued once the row is committed)
-> ``import_job_claim`` (running) -> ``import_job_plan`` (its parts) -> ``chunk_commit`` for every
chunk of every part (rows, row errors and the part's checkpoint in one transaction) ->
``import_part_finish`` -> ``import_job_finish`` (error CSV, final state), or ``import_job_fail`` at
any point. Each final state is followed by ``_on_final``, which tells the members exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from contextvars import ContextVar
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop
from django_q.tasks import async_task

from imports import notifications, remainders, selectors, sinks, sources
from imports.core import errors_csv
from imports.core.reader import Message
from imports.models import DirectUpload, ImportJob, ImportPart, ImportRowError, Project
from imports.webhooks import services as webhooks

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from imports.core.chunks import Chunk
    from imports.importers import Importer, ProfilePlan

logger = logging.getLogger(__name__)

# (byte offset, rows before it, physical line) of each part's first row, from the counting pass.
PartStart = tuple[int, int, int]


MESSAGE_ATTEMPTS_EXHAUSTED = gettext_noop(
    "The import was stopped after {attempts} attempts that did not finish (each attempt may run for "
    "{timeout} seconds). Please try again or contact support."
)


class CheckpointMoved(Exception):
    """Another run of the same part committed this chunk first (or the job ended); this run stops."""


class LeaseLost(CheckpointMoved):
    """Another run holds the lease of this job or part now (this one was taken for dead); it stops."""


# The owner of the leases this run (a task, or import_csv --sync) takes: one per job or part claim.
_lease_owner: ContextVar[str] = ContextVar("import_lease_owner", default="")


def _lease_new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _lease_end() -> datetime:
    """A lease lasts IMPORT_STALL_SECONDS from its last renewal: no renewal for that long means the run died."""
    return timezone.now() + timedelta(seconds=settings.IMPORT_STALL_SECONDS)


def _lease_held_by_other(owner: str, expires_at: datetime | None, me: str) -> bool:
    return bool(owner) and owner != me and expires_at is not None and expires_at > timezone.now()


# --- Creating jobs -------------------------------------------------------------------------------


def import_job_create(
    *,
    project: Project,
    kind: str,
    source: str,
    file_name: str,
    content: IO[bytes],
    created_by: AbstractBaseUser | None = None,
    started_by: str = "",
    dry_run: bool = False,
    checksum: str = "",
    enqueue: bool = True,
    profile_key_types: dict[str, str] | None = None,
) -> ImportJob:
    """Store the file and create its job in ``queued``, its task enqueued once it is committed
    (``enqueue=False``: the caller runs it itself, as ``import_csv --sync`` does).

    ``profile_key_types``: the types already given to the client (API v2), which the job applies.
    """
    key, size = sources.job_file_store(project=project, kind=kind, file_name=file_name, content=content)
    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project,
            kind=kind,
            source=source,
            file_name=file_name[:1024],
            storage_key=key,
            byte_size=size,
            checksum=checksum,
            created_by=created_by,
            started_by=started_by,
            dry_run=dry_run,
            profile_key_types=profile_key_types or {},
        )
        if enqueue:
            _job_enqueue(job)
    return job


def import_job_create_from_dry_run(*, job: ImportJob, created_by: AbstractBaseUser | None) -> tuple[ImportJob, bool]:
    """Import the file a finished dry run checked, for real; (job, created).

    Asking twice (a double click, two members) returns the import already made from that file.
    """
    if not job.dry_run or job.state != ImportJob.State.VALIDATED:
        raise ValueError(f"job {job.pk} is not a finished dry run")
    with transaction.atomic():
        ImportJob.objects.select_for_update().get(pk=job.pk)
        if earlier := selectors.import_job_imported_from(job=job):
            return earlier, False
        new = ImportJob.objects.create(
            project_id=job.project_id,
            kind=job.kind,
            source=job.source,
            file_name=job.file_name,
            storage_key=job.storage_key,
            byte_size=job.byte_size,
            checksum=job.checksum,
            created_by=created_by,
            dry_run_job=job,
        )
        _job_enqueue(new)
    return new, True


def import_job_create_for_object(
    *, project: Project, kind: str, file_name: str, key: str, etag: str, size: int, started_by: str,
    problem: Message | None,
) -> ImportJob:
    """The job of an object found in the bucket: queued, or failed at once with ``problem``.

    IntegrityError when the object already has its job (job_unique_s3_object).
    """
    with transaction.atomic(durable=True):
        job = ImportJob.objects.create(
            project=project,
            kind=kind,
            source=ImportJob.Source.S3,
            file_name=file_name[:1024],
            storage_key=key,
            s3_etag=etag,
            byte_size=size,
            started_by=started_by,
        )
        if problem:
            _job_fail(job, problem)
        else:
            _job_enqueue(job)
    if problem:
        _on_final(job.pk)
    return job


def import_job_await_upload(
    *,
    project: Project,
    kind: str,
    storage_key: str,
    byte_size: int,
    checksum: str,
    started_by: str,
    content_type: str,
    expires_at: datetime,
    accept_until: datetime,
    embedded: bool = False,
) -> ImportJob:
    """An API v3 job in ``awaiting_upload``: its file is to be PUT at ``storage_key`` in the bucket
    (``embedded``: to this server's own URL, which stores it there).

    Byte size and checksum are what the request declared, checked before importing.
    """
    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project,
            kind=kind,
            source=ImportJob.Source.API_V3,
            state=ImportJob.State.AWAITING_UPLOAD,
            file_name=storage_key.rsplit("/", 1)[-1],
            storage_key=storage_key,
            byte_size=byte_size,
            checksum=checksum,
            started_by=started_by,
        )
        DirectUpload.objects.create(
            job=job, content_type=content_type, expires_at=expires_at, accept_until=accept_until, embedded=embedded
        )
    return job


@transaction.atomic
def import_job_upload_arrive(*, job_id: int, etag: str, size: int, arrived_at: datetime) -> ImportJob | None:
    """Bind an awaiting API v3 job to the object that arrived (its ETag) and queue it; its run checks
    the object before importing. None if the job is no longer awaiting its upload."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.state != ImportJob.State.AWAITING_UPLOAD:
        return None
    DirectUpload.objects.filter(job=job).update(size=size, arrived_at=arrived_at)
    job.s3_etag = etag
    job.state = ImportJob.State.QUEUED
    job.save(update_fields=["s3_etag", "state"])
    _job_enqueue(job)
    return job


@transaction.atomic
def import_job_upload_store(*, job_id: int, content: IO[bytes], size: int) -> ImportJob | None:
    """API v3 without S3: store the file PUT to this server's own URL and queue the job. None if the
    job is no longer awaiting its upload (a PUT running at the same time got there first)."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.state != ImportJob.State.AWAITING_UPLOAD:
        return None
    job.storage_key = default_storage.save(job.storage_key, File(content))
    job.save(update_fields=["storage_key"])
    return import_job_upload_arrive(job_id=job.pk, etag="", size=size, arrived_at=timezone.now())


def import_job_rename(*, job: ImportJob, file_name: str) -> ImportJob:
    """The name the history, the job page and the emails give the job's file."""
    job.file_name = file_name[:1024]
    job.save(update_fields=["file_name"])
    return job


def _job_enqueue(job: ImportJob) -> None:
    """Hand the job to a django-q2 worker once the transaction that queued it has committed.

    The queued job gets a lease without owner: the watchdog queues it again only once it expires.
    """
    ImportJob.objects.filter(pk=job.pk).update(lease_owner="", lease_expires_at=_lease_end())
    transaction.on_commit(lambda: async_task("imports.tasks.import_job_run", job.pk, task_name=f"import-job-{job.pk}"))


def import_part_enqueue(*, part: ImportPart) -> None:
    """One task per part of a big file, so several workers (or hosts) share it."""
    transaction.on_commit(
        lambda: async_task("imports.tasks.import_part_run", part.pk, task_name=f"import-job-{part.job_id}-part-{part.index}")
    )


# --- Running jobs --------------------------------------------------------------------------------


def import_job_claim(job_id: int) -> ImportJob | None:
    """The job, marked running and leased to this run when it is queued or running; as it is otherwise.

    None when another run holds a live lease on it: this one leaves. A job already tried
    IMPORT_MAX_ATTEMPTS times ends ``failed`` instead. A job that ended without its members being
    told (the worker died in between) tells them now.
    """
    me = _lease_new_owner()
    exhausted = False
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.state in (ImportJob.State.QUEUED, ImportJob.State.RUNNING):
            if _lease_held_by_other(job.lease_owner, job.lease_expires_at, me):
                return None
            exhausted = job.attempts >= settings.IMPORT_MAX_ATTEMPTS
            if not exhausted:
                job.state = ImportJob.State.RUNNING
                job.attempts += 1
                job.started_at = job.started_at or timezone.now()
                job.lease_owner, job.lease_expires_at = me, _lease_end()
                job.save(update_fields=["state", "attempts", "started_at", "lease_owner", "lease_expires_at"])
                _lease_owner.set(me)
    if exhausted:
        import_job_fail(job_id=job_id, message=_attempts_exhausted(job.attempts))
        job.refresh_from_db()
    if job.is_final and job.notified_at is None:
        _on_final(job.pk)
    return job


def import_job_touch(*, job_id: int) -> None:
    """The heartbeat of the run that holds the job's lease (the counting pass calls it every few
    seconds): renews the lease. LeaseLost when the job is no longer this run's, so it stops.

    Outside a run that claimed a job (a test calling a phase on its own) it renews whatever lease
    the running job has.
    """
    running = ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING)
    if owner := _lease_owner.get():
        running = running.filter(lease_owner=owner)
    if not running.update(lease_expires_at=_lease_end()) and owner:
        raise LeaseLost


def _attempts_exhausted(attempts: int) -> Message:
    return Message(MESSAGE_ATTEMPTS_EXHAUSTED, attempts=attempts, timeout=f"{settings.IMPORT_TASK_TIMEOUT:,}")


def import_job_plan(
    *, job: ImportJob, total_rows: int, starts: Sequence[PartStart], error_header: list[str], plan: ProfilePlan | None
) -> None:
    """Cut the checked file into parts (one per start) and keep what the file-level checks found."""
    ends = [before for _, before, _ in starts[1:]] + [total_rows]
    with transaction.atomic():
        if ImportJob.objects.select_for_update().get(pk=job.pk).parts_total:
            return  # a concurrent run of the same job planned it first
        ImportPart.objects.bulk_create(
            ImportPart(job=job, index=index, rows=end - before, first_number=before, checkpoint_offset=offset,
                       checkpoint_line=line, heartbeat_at=timezone.now(), lease_expires_at=_lease_end())
            for index, ((offset, before, line), end) in enumerate(zip(starts, ends, strict=True))
        )
        job.total_rows = total_rows
        job.parts_total = len(starts)
        job.error_header = error_header
        job.lease_expires_at = _lease_end()
        fields = ["total_rows", "parts_total", "error_header", "lease_expires_at"]
        if plan is not None:
            job.profile_key_types = plan.types
            job.new_profile_keys = plan.new_keys
            job.ignored_profile_keys = plan.ignored_keys
            fields += ["profile_key_types", "new_profile_keys", "ignored_profile_keys"]
        job.save(update_fields=fields)


def import_part_claim(part: ImportPart) -> ImportPart | None:
    """The part, marked running and leased to this run; None when it is done or another run holds a
    live lease on it. A part already tried IMPORT_MAX_ATTEMPTS times fails its job instead."""
    me = _lease_new_owner()
    with transaction.atomic():
        locked = ImportPart.objects.select_for_update().get(pk=part.pk)
        if locked.state == ImportPart.State.DONE or _lease_held_by_other(
            locked.lease_owner, locked.lease_expires_at, me
        ):
            return None
        attempts = locked.attempts
        if attempts < settings.IMPORT_MAX_ATTEMPTS:
            locked.state = ImportPart.State.RUNNING
            locked.attempts += 1
            locked.worker = f"{socket.gethostname()}:{os.getpid()}"
            locked.heartbeat_at = timezone.now()
            locked.lease_owner, locked.lease_expires_at = me, _lease_end()
            locked.save(update_fields=["state", "attempts", "worker", "heartbeat_at", "lease_owner",
                                       "lease_expires_at"])
            return locked
    import_job_fail(job_id=part.job_id, message=_attempts_exhausted(attempts))
    return None


def chunk_commit(
    *, part: ImportPart, job: ImportJob, importer: Importer, header: list[str], chunk: Chunk, checked: object
) -> None:
    """Write one chunk, its row errors and the part's new checkpoint (the chunk's end) atomically;
    updates ``part``.

    The part row is the lock: a second run of the same part finds the checkpoint moved and stops.
    The job's counters move by increments, so parallel parts never overwrite each other's counts.
    """
    rows = len(chunk.rows)
    with transaction.atomic():
        locked = ImportPart.objects.select_for_update().get(pk=part.pk)
        if locked.checkpoint_offset != chunk.start.offset or locked.state != ImportPart.State.RUNNING:
            raise CheckpointMoved
        if locked.lease_owner != part.lease_owner:
            raise LeaseLost
        if job.dry_run:  # a dry run is one part; it keeps its plans in the job's planned_events
            job = ImportJob.objects.select_related("project").select_for_update(of=("self",)).get(pk=job.pk)
        result = importer.write(job=job, chunk=chunk, checked=checked)
        sinks.row_errors_insert(
            job,
            [(chunk.row(index), reasons) for index, reasons in result.failed],
            header=header,
            errors_first=importer.errors_first,
            max_bytes=settings.IMPORT_ERROR_ROW_BYTES,
        )
        locked.rows_done += rows
        locked.imported += result.imported
        locked.failed += len(result.failed)
        locked.checkpoint_offset = chunk.end.offset
        locked.checkpoint_line = chunk.end.lines
        locked.heartbeat_at = timezone.now()
        locked.lease_expires_at = _lease_end()
        locked.save(update_fields=["rows_done", "imported", "failed", "checkpoint_offset", "checkpoint_line",
                                   "heartbeat_at", "lease_expires_at"])
        counters = {
            "rows_read": F("rows_read") + rows,
            "imported": F("imported") + result.imported,
            "failed": F("failed") + len(result.failed),
            "lease_expires_at": locked.lease_expires_at,  # the job is alive while any part works on it
        }
        if job.dry_run:
            counters["planned_events"] = job.planned_events
        if not ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING).update(**counters):
            raise CheckpointMoved  # the job was failed meanwhile: write nothing more
    for field in ("rows_done", "imported", "failed", "checkpoint_offset", "checkpoint_line", "heartbeat_at",
                  "lease_expires_at"):
        setattr(part, field, getattr(locked, field))


def import_part_finish(*, part: ImportPart) -> bool:
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


# --- Final states --------------------------------------------------------------------------------
# Each final state is set in a durable transaction (never nested in a caller's), so its end is the
# commit; _on_final runs right after it.


def import_job_finish(*, job: ImportJob) -> None:
    """Render the error CSV (rows in file order) and give the job its final state."""
    job.refresh_from_db()
    key = _error_csv_render(job) if job.failed else ""
    with transaction.atomic(durable=True):
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.is_final:
            return
        locked.error_csv_key = key
        locked.state = locked.finished_state()
        locked.finished_at = timezone.now()
        locked.save(update_fields=["error_csv_key", "state", "finished_at"])
    _on_final(job.pk)


def import_job_fail(*, job_id: int, message: Message) -> None:
    """Give the job its final ``failed`` state; the message is kept in English and as a template to translate.

    A job that had committed rows keeps them and gets its remainder CSV (the rows it did not
    import), made once no run can commit any more and before the members are told.
    """
    with transaction.atomic(durable=True):
        job = ImportJob.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.is_final:
            return
        _job_fail(job, message)
    if job.rows_read and not job.dry_run:
        key = remainders.remainder_csv_render(job)
        ImportJob.objects.filter(pk=job_id).update(remainder_csv_key=key)
    _on_final(job_id)


def _job_fail(job: ImportJob, message: Message) -> None:
    job.state = ImportJob.State.FAILED
    job.failure_message = str(message)
    job.failure_template = message.template
    job.failure_params = message.params
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "failure_message", "failure_template", "failure_params", "finished_at"])


def _on_final(job_id: int) -> None:
    """The one hook of a job that reached its final state, run once that state is committed: it tells
    the members (the completion email) and queues the project's webhooks, at most once whatever runs
    the job again."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.notified_at is not None or not job.is_final:
            return
        job.notified_at = timezone.now()
        job.save(update_fields=["notified_at"])
    # Marked first: a crash here loses an email rather than sending duplicates on every retry.
    webhooks.job_finished_enqueue(job=job)
    notifications.job_finished_email(job=job)


def _error_csv_render(job: ImportJob) -> str:
    """Header plus the stored lines in row order, spooled to a temporary file, then into storage."""
    key = sources.error_csv_key(job)
    with tempfile.TemporaryFile() as out:
        out.write(errors_csv.encode_row(job.error_header))
        lines = ImportRowError.objects.filter(job=job).order_by("number").values_list("csv_line", flat=True)
        for line in lines.iterator(chunk_size=sinks.row_error_fetch_size()):
            out.write(bytes(line))
        out.seek(0)
        if default_storage.exists(key):
            default_storage.delete(key)
        return default_storage.save(key, File(out))


# --- The watchdog --------------------------------------------------------------------------------


def import_jobs_resume_stalled() -> int:
    """Queue again every unfinished job or part whose lease expired: its run died or its task was lost.

    A live lease means a run is at work, however long its counting pass or a chunk takes, so that
    work is never run twice at once. Work already tried IMPORT_MAX_ATTEMPTS times is not queued
    again: its job ends ``failed``, with the rows it committed reported. Returns how many tasks were
    queued.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    limit = settings.IMPORT_MAX_ATTEMPTS
    with transaction.atomic():
        parts = list(
            ImportPart.objects.select_for_update(skip_locked=True)
            .filter(job__state=ImportJob.State.RUNNING)
            .filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, heartbeat_at__lt=cutoff))
            .exclude(state=ImportPart.State.DONE)
        )
        stalled_jobs = list(
            ImportJob.objects.select_for_update(skip_locked=True)
            .filter(state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING), parts_total=0)
            .filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, created_at__lt=cutoff))
        )
        given_up = {part.job_id: part.attempts for part in parts if part.attempts >= limit}
        given_up.update((job.pk, job.attempts) for job in stalled_jobs if job.attempts >= limit)
        parts = [part for part in parts if part.job_id not in given_up]
        stalled_jobs = [job for job in stalled_jobs if job.pk not in given_up]
        ImportPart.objects.filter(pk__in=[part.pk for part in parts]).update(lease_owner="", lease_expires_at=_lease_end())
        for part in parts:
            import_part_enqueue(part=part)
        for job in stalled_jobs:
            _job_enqueue(job)
    for job_id, attempts in given_up.items():
        import_job_fail(job_id=job_id, message=_attempts_exhausted(attempts))
    if parts or stalled_jobs or given_up:
        logger.warning("watchdog: queued again %d stalled part(s) and %d job(s); failed %d job(s) out of attempts",
                       len(parts), len(stalled_jobs), len(given_up))
    return len(parts) + len(stalled_jobs)
