"""Runs one import job: source -> core -> importer, in checkpointed chunks (DESIGN "Data flow").

A job's file is cut into parts at row starts; each part runs as its own task. A part may run
more than once (a worker killed, a task redelivered): each chunk commits its rows, its row
errors and the part's checkpoint in one transaction (``jobs.chunk_commit``), and a run only
commits a chunk if the checkpoint it started from is still the part's. So every data row is
counted exactly once, whatever is killed when. Every state change goes through ``jobs``.
"""

from __future__ import annotations

import gc
import gzip
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import BinaryIO

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections, reset_queries

from imports import direct_uploads, jobs, sources
from imports.core import errors_csv
from imports.importers import Importer, importer_for
from imports.core.limits import MAX_ROWS, MESSAGE_INTERNAL_ERROR, check_row_count
from imports.core.reader import (
    FileFormatError,
    Header,
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
    job = jobs.import_job_claim(job_id)
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
                    jobs.import_part_enqueue(part=part)
    return ImportJob.objects.get(pk=job_id)


def run_part(part_id: int) -> ImportJob:
    """Run one part (a django-q2 task); the part that completes the job finishes it."""
    part = ImportPart.objects.get(pk=part_id)
    with _failing_the_job(part.job_id):
        _run_part(part, None)
    return ImportJob.objects.get(pk=part.job_id)


@contextmanager
def _failing_the_job(job_id: int) -> Iterator[None]:
    """A file-level problem fails the job with its message; a bug fails it too, then propagates.

    Losing the database is neither: the job stays as it is, and the run that resumes it (the
    broker's retry or the watchdog) continues from the last committed checkpoint.
    """
    try:
        yield
    except jobs.CheckpointMoved:
        logger.warning("import job %s: another run is ahead, this one stops", job_id)
    except FileFormatError as exc:
        jobs.import_job_fail(job_id=job_id, message=exc.message)
    except (OperationalError, InterfaceError):
        logger.exception("import job %s: database unavailable, left to be resumed", job_id)
        raise
    except Exception:
        jobs.import_job_fail(job_id=job_id, message=Message(MESSAGE_INTERNAL_ERROR))
        raise


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
    part = jobs.import_part_claim(part)
    if part is None:
        return
    job = ImportJob.objects.select_related("project").get(pk=part.job_id)
    if job.state != ImportJob.State.RUNNING:
        return
    importer = importer_for(job)

    def commit(records: list[Record], checked: object) -> None:
        jobs.chunk_commit(
            part=part, job=job, importer=importer, header=header.names, records=records, checked=checked
        )
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
    if jobs.import_part_finish(part=part):
        jobs.import_job_finish(job=job)


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
        direct_uploads.upload_verify(job)  # the object must be the file the API request declared
    importer = importer_for(job)
    with _open_at(job, importer, 0) as (stream, header):
        counted = scan(stream, start=header.end, every=settings.IMPORT_PART_ROWS, max_rows=MAX_ROWS)
        compressed = isinstance(stream, gzip.GzipFile)
    check_row_count(counted.rows)
    if importer.prepare_reads_rows:
        with _open_at(job, importer, 0) as (stream, header):
            plan = importer.prepare(job=job, header=header, records=iter_records(stream, start=header.end))
    else:
        plan = importer.prepare(job=job, header=header, records=iter(()))
    # Profiles stay whole (a later row for a user must win), so do dry runs (one plan) and gzip
    # (no seeking into it): docs/operations.md.
    splittable = (
        job.kind == ImportJob.Kind.EVENTS
        and not job.dry_run
        and not compressed
        and (job.byte_size or 0) >= settings.IMPORT_SPLIT_MIN_BYTES
    )
    starts = (counted.row_starts if splittable else counted.row_starts[:1]) or [(header.end, 0, 1)]
    jobs.import_job_plan(
        job=job,
        total_rows=counted.rows,
        starts=starts,
        error_header=errors_csv.error_header(header.names, errors_first=importer.errors_first),
        plan=plan,
    )


@contextmanager
def _open_at(job: ImportJob, importer: Importer, offset: int) -> Iterator[tuple[BinaryIO, Header]]:
    """The job's decompressed content with its header read and validated, positioned at ``offset``."""
    with sources.job_file_open(job) as raw:
        stream = open_decompressed(raw)
        header = read_header(stream, max_bytes=importer.max_header_bytes)
        importer.check_header(header)
        if offset > header.end:
            skip_to(stream, header.end, offset)
        yield stream, header

