"""Runs one import job: source -> core -> sink, in checkpointed chunks (DESIGN "Data flow").

A job's file is cut into parts at row starts; each part runs as its own task. A part may run
more than once (a worker killed, a task redelivered): each chunk commits its rows, its row
errors and the part's checkpoint in one transaction, and a run only commits a chunk if the
checkpoint it started from is still the part's. So every data row is counted exactly once,
whatever is killed when; the part that completes the job renders its error CSV and emails.
"""

from __future__ import annotations

import gc
import gzip
import logging
import os
import queue
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from typing import BinaryIO

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections, reset_queries, transaction
from django.db.models import Q
from django.utils import timezone

from imports import notifications, services, sinks, sources
from imports.api import v3
from imports.core import errors_csv
from imports.core.limits import MAX_ROWS, MESSAGE_INTERNAL_ERROR, check_row_count
from imports.core.reader import (
    FileFormatError,
    Message,
    Record,
    iter_records,
    open_decompressed,
    read_header,
    scan,
    skip_to,
)
from imports.models import ImportJob, ImportPart

logger = logging.getLogger(__name__)


def run(job_id: int, progress: Callable[[ImportJob], None] | None = None, inline: bool = True) -> ImportJob:
    """Check the file, cut it into parts, and run the parts: here (``inline``) or one task each.

    Running a job again resumes it: unfinished parts continue from their checkpoints. ``progress``
    is called with the job after each committed chunk (the command's progress bar).
    """
    job = _claim(job_id)
    if job.state == ImportJob.State.RUNNING:
        with _failing_the_job(job_id):
            if not job.parts_total:
                _check_file_and_plan(job)
            parts = list(job.parts.exclude(state=ImportPart.State.DONE))
            if inline or len(parts) == 1:
                for part in parts:
                    _run_part(part, progress)
            else:
                for part in parts:
                    services.import_part_enqueue(part=part)
    return _notify_if_final(job_id)


def run_part(part_id: int) -> ImportJob:
    """Run one part (a django-q2 task); the part that completes the job finishes it."""
    part = ImportPart.objects.get(pk=part_id)
    with _failing_the_job(part.job_id):
        _run_part(part, None)
    return _notify_if_final(part.job_id)


@contextmanager
def _failing_the_job(job_id: int) -> Iterator[None]:
    """A file-level problem fails the job with its message; a bug fails it too, then propagates.

    Losing the database is neither: the job stays as it is, and the run that resumes it (the
    broker's retry or the watchdog) continues from the last committed checkpoint.
    """
    try:
        yield
    except sinks.CheckpointMoved:
        logger.warning("import job %s: another run is ahead, this one stops", job_id)
    except FileFormatError as exc:
        services.import_job_fail(job_id=job_id, message=exc.message)
    except (OperationalError, InterfaceError):
        logger.exception("import job %s: database unavailable, left to be resumed", job_id)
        raise
    except Exception:
        services.import_job_fail(job_id=job_id, message=Message(MESSAGE_INTERNAL_ERROR))
        raise


def _notify_if_final(job_id: int) -> ImportJob:
    job = ImportJob.objects.get(pk=job_id)
    if job.is_final and job.notified_at is None:
        notifications.job_finished_notify(job=job)
    return job


def _claim(job_id: int) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.state in (ImportJob.State.QUEUED, ImportJob.State.RUNNING):
            job.state = ImportJob.State.RUNNING
            job.attempts += 1
            job.started_at = job.started_at or timezone.now()
            job.save(update_fields=["state", "attempts", "started_at"])
    return job


def _claim_part(part: ImportPart) -> ImportPart | None:
    """The part, marked running by this worker; None when it is already done."""
    with transaction.atomic():
        locked = ImportPart.objects.select_for_update().get(pk=part.pk)
        if locked.state == ImportPart.State.DONE:
            return None
        locked.state = ImportPart.State.RUNNING
        locked.attempts += 1
        locked.worker = f"{socket.gethostname()}:{os.getpid()}"
        locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["state", "attempts", "worker", "heartbeat_at"])
    return locked


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Chunks allocate millions of short-lived objects, and with the default thresholds the cyclic
    collector keeps re-scanning them (measured: a third of the validation time); nothing the
    import allocates forms cycles that need it sooner."""
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _run_part(part: ImportPart, progress: Callable[[ImportJob], None] | None) -> None:
    with _fewer_collections():
        _run_part_chunks(part, progress)


def _run_part_chunks(part: ImportPart, progress: Callable[[ImportJob], None] | None) -> None:
    part = _claim_part(part)
    if part is None:
        return
    job = ImportJob.objects.select_related("project").get(pk=part.job_id)
    if job.state != ImportJob.State.RUNNING:
        return
    importer = sinks.importer_for(job)

    def commit(records: list[Record], checked: object) -> None:
        sinks.chunk_commit(part=part, job=job, importer=importer, header=header, records=records, checked=checked)
        reset_queries()  # with DEBUG on, Django keeps every query (chunks carry megabytes of data)
        if progress:
            job.refresh_from_db(fields=["rows_read", "total_rows"])
            progress(job)

    with _open_at(job, importer, part.checkpoint_offset) as (stream, header):
        records = iter_records(
            stream, start=part.checkpoint_offset, number=part.first_number + part.rows_done, line=part.checkpoint_line
        )
        remaining = islice(records, part.rows - part.rows_done)
        with _chunk_writer(commit) as write:
            while chunk := list(islice(remaining, settings.IMPORT_CHUNK_ROWS)):
                write(chunk, importer.check(job=job, records=chunk))
    if sinks.part_finish(part=part):
        sinks.job_finish(job=job)


@contextmanager
def _chunk_writer(commit: Callable[[list[Record], object], None]) -> Iterator[Callable[[list[Record], object], None]]:
    """Where chunks are committed: on a writer thread with its own connection on PostgreSQL, so
    the database's share of the work (COPY, index updates) overlaps reading and checking the next
    chunk; in this thread when already inside a transaction (a test's), or on SQLite."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield commit
        return
    writer = _ChunkWriter(commit)
    try:
        yield writer.submit
    finally:
        writer.close(failed=sys.exc_info()[0] is not None)


class _ChunkWriter:
    """Commits chunks in order on one thread; at most one chunk waits, so memory stays flat.

    An error in the writer stops it (later chunks are not committed) and is raised in the caller
    at its next submit or at close, so a chunk is never skipped and the checkpoint stays exact.
    """

    def __init__(self, commit: Callable[[list[Record], object], None]) -> None:
        self._commit = commit
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chunk-writer", daemon=True)
        self._thread.start()

    def submit(self, records: list[Record], checked: object) -> None:
        while True:
            self._raise_error()
            try:
                self._queue.put((records, checked), timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self, *, failed: bool) -> None:
        self._queue.put(None)
        self._thread.join()
        if not failed:
            self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                if self._error is None:
                    try:
                        self._commit(*item)
                    except BaseException as exc:  # handed to the caller's thread
                        self._error = exc
        finally:
            connections.close_all()


def _check_file_and_plan(job: ImportJob) -> None:
    """File-level rules, before anything is written (header, row count, the kind's own checks),
    then the parts: a big plain events file is cut every IMPORT_PART_ROWS rows."""
    if job.source == ImportJob.Source.API_V3:
        v3.upload_verify(job)  # the object must be the file the API request declared, else nothing is read
    importer = sinks.importer_for(job)
    with _open_at(job, importer, 0) as (stream, header):
        counted = scan(stream, start=header.end, every=settings.IMPORT_PART_ROWS, max_rows=MAX_ROWS)
        compressed = isinstance(stream, gzip.GzipFile)
    check_row_count(counted.rows)
    if importer.prepare_reads_rows:
        with _open_at(job, importer, 0) as (stream, header):
            summary = importer.prepare(job=job, header=header, records=iter_records(stream, start=header.end))
    else:
        summary = importer.prepare(job=job, header=header, records=iter(()))
    # Profiles stay whole (a later row for a user must win), so do dry runs (one plan) and gzip
    # (no seeking into it): docs/operations.md.
    splittable = (
        job.kind == ImportJob.Kind.EVENTS
        and not job.dry_run
        and not compressed
        and (job.byte_size or 0) >= settings.IMPORT_SPLIT_MIN_BYTES
    )
    starts = (counted.row_starts if splittable else counted.row_starts[:1]) or [(header.end, 0, 1)]
    ends = [before for _, before, _ in starts[1:]] + [counted.rows]
    with transaction.atomic():
        if ImportJob.objects.select_for_update().get(pk=job.pk).parts_total:
            return  # a concurrent run of the same job planned it first
        ImportPart.objects.bulk_create(
            ImportPart(job=job, index=index, rows=end - before, first_number=before, checkpoint_offset=offset,
                       checkpoint_line=line, heartbeat_at=timezone.now())
            for index, ((offset, before, line), end) in enumerate(zip(starts, ends, strict=True))
        )
        job.total_rows = counted.rows
        job.parts_total = len(starts)
        job.summary = {
            **job.summary,
            **summary,
            "error_header": errors_csv.error_header(header.names, errors_first=importer.errors_first),
        }
        job.save(update_fields=["total_rows", "parts_total", "summary"])


def resume_stalled() -> int:
    """Queue again every unfinished job or part that made no progress for IMPORT_STALL_SECONDS.

    A killed worker's task is not redelivered by every broker; a rerun resumes at the checkpoint
    (or stops at once when the original is still alive), so queueing too often is harmless.
    Returns how many tasks were queued.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    running = (ImportJob.State.QUEUED, ImportJob.State.RUNNING)
    with transaction.atomic():
        parts = list(
            ImportPart.objects.select_for_update(skip_locked=True)
            .filter(job__state=ImportJob.State.RUNNING, heartbeat_at__lt=cutoff)
            .exclude(state=ImportPart.State.DONE)
        )
        ImportPart.objects.filter(pk__in=[part.pk for part in parts]).update(heartbeat_at=now)
        jobs = list(
            ImportJob.objects.select_for_update(skip_locked=True).filter(
                state__in=running, parts_total=0, created_at__lt=cutoff
            ).filter(Q(started_at__isnull=True) | Q(started_at__lt=cutoff))
        )
        ImportJob.objects.filter(pk__in=[job.pk for job in jobs]).update(started_at=now)
        for part in parts:
            services.import_part_enqueue(part=part)
        for job in jobs:
            services.import_job_enqueue(job=job)
    if parts or jobs:
        logger.warning("watchdog: queued again %d stalled part(s) and %d job(s)", len(parts), len(jobs))
    return len(parts) + len(jobs)


@contextmanager
def _open_at(job: ImportJob, importer: sinks.Importer, offset: int) -> Iterator[tuple[BinaryIO, object]]:
    """The job's decompressed content with its header read and validated, positioned at ``offset``."""
    with sources.job_file_open(job) as raw:
        stream = open_decompressed(raw)
        header = read_header(stream, max_bytes=importer.max_header_bytes)
        importer.check_header(header)
        if offset > header.end:
            skip_to(stream, header.end, offset)
        yield stream, header

