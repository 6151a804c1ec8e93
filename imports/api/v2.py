"""API v2 (deprecated, still served; SPEC 6): the CSV or gzip is the request body. It is streamed
to a temporary file, its header checked and its types inferred at once as its job will (the
importers' ``profile_key_types``), then stored and imported as a job like any other."""

from __future__ import annotations

import base64
import gzip
import hashlib
import tempfile
import zlib
from datetime import datetime, timezone
from typing import IO

from django.http import HttpRequest, HttpResponse

from imports import importers, jobs
from imports.api import errors
from imports.core.profiles import MESSAGE_PROFILE_LIMIT
from imports.core.reader import GZIP_MAGIC, MESSAGE_CORRUPT, FileFormatError, Message
from imports.http import content_length
from imports.models import ImportJob, Project

# Decision (docs/api.md): the dashboard's limit; the body is never held in memory, whatever its size.
MAX_BYTES = 150 * 1024 * 1024
CONTENT_TYPES = ("text/csv", "application/gzip")
# A gzip body is decompressed once in full to find corruption before answering; past this much
# content (a gzip bomb) the check stops and the job reports corruption instead.
GZIP_CHECK_MAX_BYTES = 2 * 1024**3
_BLOCK = 1 << 16
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
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
    """Header rules and the key types of SPEC 4, exactly as the job will apply them."""
    body.seek(0)
    compressed = body.read(2) == GZIP_MAGIC
    if gzip_declared and not compressed:
        raise errors.ApiError(errors.bad_request(errors.MESSAGE_NOT_GZIP))
    body.seek(0)
    if compressed and not _gzip_intact(body):
        raise errors.ApiError(errors.bad_request(MESSAGE_CORRUPT))
    body.seek(0)
    try:
        return importers.profile_key_types(project=project, content=body)
    except FileFormatError as exc:
        raise errors.ApiError(_file_error(exc.message)) from None


def _gzip_intact(body: IO[bytes]) -> bool:
    """Decompress (and drop) the whole stream: a truncated or damaged file fails here, not in the job."""
    seen = 0
    try:
        with gzip.GzipFile(fileobj=body, mode="rb") as stream:
            while seen <= GZIP_CHECK_MAX_BYTES and (block := stream.read(1 << 20)):
                seen += len(block)
    except _GZIP_ERRORS:
        return False
    return True


def _file_error(message: Message) -> HttpResponse:
    template = getattr(message, "template", str(message))
    code = None if template in _UNCODED else errors.FILE_FORMAT_CODE
    return errors.bad_request(str(message), code=code)
