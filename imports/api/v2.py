"""API v2 (deprecated, still served; SPEC 6): the CSV or gzip is the request body. It is streamed
to a temporary file; its header is checked and its types inferred at once from its first part only
(API_V2_CHECK_BYTES of content, read for at most API_V2_CHECK_SECONDS), so the request does
bounded work whatever the file. It is then stored and imported as a job like any other, which
checks the whole file and applies the types the answer gave."""

from __future__ import annotations

import base64
import io
import hashlib
import tempfile
from datetime import datetime, timezone
from typing import IO

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from imports import importers, jobs
from imports.api import errors
from imports.core.profiles import MESSAGE_PROFILE_LIMIT
from imports.core.reader import GZIP_MAGIC, MESSAGE_CORRUPT, FileFormatError, Message, open_decompressed
from imports.core.sample import read_sample
from imports.http import content_length
from imports.models import ImportJob, Project

# Decision (docs/api.md): the dashboard's limit; the body is never held in memory, whatever its size.
MAX_BYTES = 150 * 1024 * 1024
CONTENT_TYPES = ("text/csv", "application/gzip")
_BLOCK = 1 << 16
# Whole-file answers without SPEC 4's file-format code.
_UNCODED = (MESSAGE_CORRUPT, MESSAGE_PROFILE_LIMIT)


def profile_bulk_import(
    *, request: HttpRequest, project: Project, started_by: str
) -> tuple[ImportJob, dict[str, dict[str, str]]]:
    """Check, store and queue the body's file; the job, and the 202 body's ``user_profile`` (key -> type),
    or ApiError."""
    if content_length(request) > MAX_BYTES:
        raise errors.ApiError(errors.payload_too_large())
    content_type = request.content_type.lower()
    if content_type not in CONTENT_TYPES:
        raise errors.ApiError(errors.unsupported_media_type())
    with tempfile.TemporaryFile() as body:
        checksum = _receive(request, body)
        types = _key_types(project, body, gzip_declared=content_type == "application/gzip")
        body.seek(0)
        suffix = ".csv.gz" if body.read(2) == GZIP_MAGIC else ".csv"
        body.seek(0)
        job = jobs.import_job_create(
            project=project,
            kind=ImportJob.Kind.USER_PROFILES,
            source=ImportJob.Source.API_V2,
            file_name=f"api-v2-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}{suffix}",
            content=body,
            started_by=started_by,
            checksum=checksum,
            profile_key_types=types,
        )
    return job, {key: {"type": type_} for key, type_ in types.items()}


def _receive(request: HttpRequest, body: IO[bytes]) -> str:
    """Copy the request body in blocks; returns its MD5 in base64 (the job's checksum)."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    while block := request.read(_BLOCK):
        size += len(block)
        if size > MAX_BYTES:
            raise errors.ApiError(errors.payload_too_large())
        digest.update(block)
        body.write(block)
    return base64.b64encode(digest.digest()).decode()


def _key_types(project: Project, body: IO[bytes], *, gzip_declared: bool) -> dict[str, str]:
    """Header rules and the key types of SPEC 4, from the body's first part (the job applies them).

    A gzip damaged within that part is refused here; damage further on fails the job instead.
    """
    body.seek(0)
    compressed = body.read(2) == GZIP_MAGIC
    if gzip_declared and not compressed:
        raise errors.ApiError(errors.bad_request(errors.MESSAGE_NOT_GZIP))
    body.seek(0)
    try:
        sample = read_sample(
            open_decompressed(body), max_bytes=settings.API_V2_CHECK_BYTES, seconds=settings.API_V2_CHECK_SECONDS
        )
        return importers.profile_key_types(project=project, content=io.BytesIO(sample.data), complete=not sample.cut)
    except FileFormatError as exc:
        raise errors.ApiError(_file_error(exc.message)) from None


def _file_error(message: Message) -> HttpResponse:
    template = getattr(message, "template", str(message))
    code = None if template in _UNCODED else errors.FILE_FORMAT_CODE
    return errors.bad_request(str(message), code=code)
