"""Runs one import job: source -> core -> sink, in checkpointed chunks (DESIGN "Data flow").

A run may happen more than once for the same job (a worker killed, a task redelivered): each
chunk commits its rows, its row errors and the job's checkpoint in one transaction, and a run
only commits a chunk if the checkpoint it started from is still the job's. So every data row
is counted exactly once, whatever is killed when.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from imports import notifications, services, sinks, sources
from imports.core import errors_csv
from imports.core.reader import FileFormatError, Message, iter_records, open_decompressed, read_header, scan
from imports.models import ImportJob

logger = logging.getLogger(__name__)

MAX_ROWS = 1_000_000
MESSAGE_TOO_MANY_ROWS = "too many rows: {rows} (limit 1,000,000)"
MESSAGE_INTERNAL_ERROR = "The import stopped because of an internal error. Please try again or contact support."


def run(job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Process the job to a final state (or resume it), then email the members once.

    ``progress`` is called with the job after each committed chunk (the command's progress bar).
    """
    job = _claim(job_id)
    if job.state == ImportJob.State.RUNNING:
        try:
            _process(job, progress)
        except sinks.CheckpointMoved:
            logger.warning("import job %s: another run is ahead, this one stops", job_id)
            return ImportJob.objects.get(pk=job_id)
        except FileFormatError as exc:
            services.import_job_fail(job_id=job_id, message=exc.message)
        except Exception:
            services.import_job_fail(job_id=job_id, message=Message(MESSAGE_INTERNAL_ERROR))
            raise
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


def _process(job: ImportJob, progress: Callable[[ImportJob], None] | None) -> None:
    importer = sinks.importer_for(job)
    if job.total_rows is None:
        _check_file(job, importer)
    with _open_at(job, importer, job.checkpoint_offset) as (stream, header):
        records = iter_records(stream, start=job.checkpoint_offset, number=job.rows_read, line=job.checkpoint_line)
        chunk_rows = settings.IMPORT_CHUNK_ROWS
        while chunk := list(islice(records, chunk_rows)):
            sinks.chunk_commit(job=job, importer=importer, header=header, records=chunk)
            if progress:
                progress(job)
    sinks.job_finish(job=job, importer=importer)


def _check_file(job: ImportJob, importer: sinks.Importer) -> None:
    """File-level rules, before anything is written: header, row count, then the kind's own checks."""
    with _open_at(job, importer, 0) as (stream, header):
        counted = scan(stream, start=header.end, max_rows=MAX_ROWS)
    if counted.rows > MAX_ROWS:
        raise FileFormatError(Message(MESSAGE_TOO_MANY_ROWS, rows=f"{counted.rows:,}"))
    with _open_at(job, importer, 0) as (stream, header):
        summary = importer.prepare(job=job, header=header, records=iter_records(stream, start=header.end))
    job.total_rows = counted.rows
    job.checkpoint_offset = header.end
    job.summary = {
        **job.summary,
        **summary,
        "error_header": errors_csv.error_header(header.names, errors_first=importer.errors_first),
    }
    job.save(update_fields=["total_rows", "checkpoint_offset", "summary"])


@contextmanager
def _open_at(job: ImportJob, importer: sinks.Importer, offset: int) -> Iterator[tuple[BinaryIO, object]]:
    """The job's decompressed content with its header read and validated, positioned at ``offset``."""
    with sources.job_file_open(job) as raw:
        stream = open_decompressed(raw)
        header = read_header(stream, max_bytes=importer.max_header_bytes)
        importer.check_header(header)
        if offset > header.end:
            _skip_to(stream, header.end, offset)
        yield stream, header


def _skip_to(stream: BinaryIO, position: int, offset: int) -> None:
    if stream.seekable():
        stream.seek(offset)
        return
    while position < offset:
        block = stream.read(min(1 << 20, offset - position))
        if not block:
            raise FileFormatError(Message("the file changed while it was being imported"))
        position += len(block)
