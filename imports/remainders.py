"""The remainder CSV of a job that failed after committing rows (issue 12): every row it did not
import, in file order, as one file to upload as it is.

It holds, part by part, the rows that failed in the committed chunks (their error CSV lines, with
the reasons) and then every row after the part's last checkpoint (with an empty REPRO_ERRORS
cell). Both kinds ignore REPRO_ERRORS on import, wherever the column is, so the file parses under
the kind's own rules; no row committed before the failure is in it, so importing it duplicates
nothing. docs/decisions.md says what the user gets.
"""

from __future__ import annotations

import logging
import sys
import tempfile

from django.core.files import File
from django.core.files.storage import default_storage

from imports import sinks, sources
from imports.core import errors_csv
from imports.core.chunks import Checkpoint, read_chunks
from imports.core.reader import open_decompressed, read_header, skip_to
from imports.models import ImportJob, ImportPart, ImportRowError

logger = logging.getLogger(__name__)

# Rows that were never read are written whole, whatever their size: they must import as they are.
_UNCUT = sys.maxsize


def remainder_csv_key(job: ImportJob) -> str:
    return f"errors/{job.project.app_id}/{job.pk}/remainder.csv"


def remainder_csv_render(job: ImportJob) -> str:
    """Store the remainder CSV of the failed ``job``; its storage key, or "" when it cannot be read
    (the job's page then says how many rows were imported, without the file)."""
    try:
        return _render(job)
    except Exception:
        logger.exception("import job %s: the remainder CSV could not be made", job.pk)
        return ""


def _render(job: ImportJob) -> str:
    errors_first = bool(job.error_header) and job.error_header[0] == errors_csv.ERRORS_COLUMN
    key = remainder_csv_key(job)
    with tempfile.TemporaryFile() as out:
        out.write(errors_csv.encode_row(job.error_header))
        for part in ImportPart.objects.filter(job=job).order_by("index"):
            _failed_rows_write(out, job, first=part.first_number, last=part.first_number + part.rows_done)
            if part.state != ImportPart.State.DONE and part.rows_done < part.rows:
                _unread_rows_write(out, job, part, errors_first=errors_first)
        out.seek(0)
        if default_storage.exists(key):
            default_storage.delete(key)
        return default_storage.save(key, File(out))


def _failed_rows_write(out, job: ImportJob, *, first: int, last: int) -> None:
    """The stored error CSV lines of rows first+1 … last (a part's committed stretch), in row order."""
    lines = (
        ImportRowError.objects.filter(job=job, number__gt=first, number__lte=last)
        .order_by("number")
        .values_list("csv_line", flat=True)
    )
    for line in lines.iterator(chunk_size=sinks.row_error_fetch_size()):
        out.write(bytes(line))


def _unread_rows_write(out, job: ImportJob, part: ImportPart, *, errors_first: bool) -> None:
    """The part's rows after its checkpoint, read from the job's file as the part would have."""
    with sources.job_file_open(job) as raw:
        stream = open_decompressed(raw)
        header = read_header(stream)
        skip_to(stream, header.end, part.checkpoint_offset)
        start = Checkpoint(part.checkpoint_offset, part.first_number + part.rows_done, part.checkpoint_line)
        for chunk in read_chunks(stream, start=start, max_rows=part.rows - part.rows_done):
            for values in chunk.rows:
                out.write(errors_csv.error_line(values, (), header.names, errors_first=errors_first, max_bytes=_UNCUT))
