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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections, reset_queries

from imports import direct_uploads, jobs, sources
from imports.core import errors_csv
from imports.importers import Importer, importer_for
from imports.core.chunks import Checkpoint, Chunk, count_rows, read_chunks
from imports.core.limits import MAX_ROWS, MESSAGE_INTERNAL_ERROR, check_row_count
from imports.core.reader import FileFormatError, Header, Message, iter_records, open_decompressed, read_header, skip_to
from imports.models import ImportJob, ImportPart

logger = logging.getLogger(__name__)


def run(job_id: int, progress: Callable[[ImportJob], None] | None = None, inline: bool = True) -> ImportJob:
    """Check the file, cut it into parts, and run the parts: here (``inline``) or one task each.

    Running a job again resumes it: unfinished parts continue from their checkpoints; a run that
    finds another one holding the job's lease leaves it to that one. ``progress`` is called with
    the job after each committed chunk (the command's progress bar).
    """
    job = jobs.import_job_claim(job_id)
    if job is not None and job.state == ImportJob.State.RUNNING:
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

    def commit(chunk: Chunk, checked: object) -> None:
        jobs.chunk_commit(part=part, job=job, importer=importer, header=header.names, chunk=chunk, checked=checked)
        reset_queries()  # with DEBUG on, Django keeps every query (chunks carry megabytes of data)
        if progress:
            job.refresh_from_db(fields=["rows_read", "total_rows"])
            progress(job)

    start = Checkpoint(part.checkpoint_offset, part.first_number + part.rows_done, part.checkpoint_line)
    with _open_at(job, importer, start.offset) as (stream, header):
        chunks = read_chunks(
            stream,
            start=start,
            max_rows=part.rows - part.rows_done,
            chunk_rows=settings.IMPORT_CHUNK_ROWS,
            chunk_bytes=settings.IMPORT_CHUNK_BYTES,
            max_file_bytes=settings.IMPORT_MAX_DECOMPRESSED_BYTES,
        )
        with _chunk_writer(commit) as write:
            for chunk in chunks:
                write(chunk, importer.check(job=job, chunk=chunk))
    if jobs.import_part_finish(part=part):
        jobs.import_job_finish(job=job)


@contextmanager
def _chunk_writer(commit: Callable[[Chunk, object], None]) -> Iterator[Callable[[Chunk, object], None]]:
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

    def __init__(self, commit: Callable[[Chunk, object], None]) -> None:
        self._commit = commit
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chunk-writer", daemon=True)
        self._thread.start()

    def submit(self, chunk: Chunk, checked: object) -> None:
        while True:
            self._raise_error()
            try:
                self._queue.put((chunk, checked), timeout=0.5)
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
        # One row past the limit tells an exact "too many rows" count from a count stopped early.
        counted = count_rows(
            stream,
            start=Checkpoint.after_header(header),
            every=settings.IMPORT_PART_ROWS,
            max_rows=MAX_ROWS + 1,
            max_file_bytes=settings.IMPORT_MAX_DECOMPRESSED_BYTES,
            progress=_heartbeat(job.pk),
            progress_bytes=HEARTBEAT_BYTES,
        )
        compressed = isinstance(stream, gzip.GzipFile)
    jobs.import_job_touch(job_id=job.pk)  # the lease outlives the counting pass
    check_row_count(counted.rows, stopped=counted.over_limit)
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
    starts = (counted.cuts if splittable else counted.cuts[:1]) or [Checkpoint.after_header(header)]
    jobs.import_job_plan(
        job=job,
        total_rows=counted.rows,
        starts=starts,
        error_header=errors_csv.error_header(header.names, errors_first=importer.errors_first),
        plan=plan,
    )


# The counting pass of a huge file commits nothing for a while: it tells the watchdog it is alive
# at most every HEARTBEAT_SECONDS, looking at the clock every HEARTBEAT_BYTES decompressed bytes.
HEARTBEAT_SECONDS = 2
HEARTBEAT_BYTES = 4 * 1024 * 1024


def _heartbeat(job_id: int) -> Callable[[int], None]:
    last = time.monotonic()

    def beat(offset: int) -> None:
        nonlocal last
        if time.monotonic() - last >= HEARTBEAT_SECONDS:
            jobs.import_job_touch(job_id=job_id)
            last = time.monotonic()

    return beat


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

