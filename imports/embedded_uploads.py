"""API v3 without S3 (the embedded default): the server hands out a pre-signed PUT URL of its own
and receives the upload itself, enforcing what S3 enforces on a pre-signed URL.

The URL carries an expiry time and an HMAC-SHA256 signature, keyed by a key derived from
SECRET_KEY, over the job, its storage key, the expiry and the declared Content-Type, Content-MD5
and byte size. The PUT is refused, with S3's XML error bodies, when the signature does not match,
the URL expired, the headers or the length are not the ones signed, the body's MD5 is not the
declared one, or the job already has its file; a refused PUT stores nothing and imports nothing.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import IO, Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from imports import direct_uploads, jobs, selectors, sources
from imports.core.reader import Message
from imports.direct_uploads import UploadRequest
from imports.models import ImportJob, Project

SALT = "imports.embedded_uploads.put"
_BLOCK = 1 << 20


def clock() -> float:
    """The current unix time (tests move it)."""
    return time.time()


@dataclass(frozen=True)
class Refusal:
    """An S3 error answer: HTTP status, ``Code`` and ``Message``."""

    status: int
    code: str
    message: str


class UploadRefused(Exception):
    """The PUT is refused with ``refusal`` (a fresh exception each time: a shared instance would
    keep collecting tracebacks)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


SIGNATURE_MISMATCH = Refusal(
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check the URL, and send "
    "exactly the Content-Type, Content-MD5 and Content-Length the upload was declared with.",
)
EXPIRED = Refusal(403, "AccessDenied", "Request has expired")
ALREADY_USED = Refusal(403, "AccessDenied", "This upload URL has already been used: request a new one.")
MISSING_LENGTH = Refusal(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
INCOMPLETE_BODY = Refusal(
    400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header."
)
BAD_DIGEST = Refusal(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")


def direct_upload_start(
    *, project: Project, request: UploadRequest, started_by: str, site_url: str
) -> tuple[ImportJob, dict[str, Any]]:
    """The job awaiting its file and the ``direct_upload`` answer: a PUT URL of this server
    (``site_url`` is where the client reached it), valid as long as S3's would be.

    The PUT is refused once the URL expired (the same clock decides both); the grace of
    ``accept_until`` only keeps an upload still streaming at that moment from being failed under it.
    """
    expires = int(clock()) + direct_uploads.URL_SECONDS
    kind = ImportJob.Kind.USER_PROFILES
    job = direct_uploads.upload_await(
        project=project,
        storage_key=sources.upload_key(project=project, kind=kind, file_name=direct_uploads.upload_file_name(request)),
        request=request,
        started_by=started_by,
        expires_at=datetime.fromtimestamp(expires, dt_timezone.utc),
        embedded=True,
    )
    query = urlencode({"expires": expires, "signature": _signature(job, expires)})
    url = site_url.rstrip("/") + reverse("api:direct_upload_put", args=[job.pk]) + "?" + query
    return job, {"url": url, "headers": direct_uploads.upload_headers(request)}


def _signature(job: ImportJob, expires: int) -> str:
    signed = "\n".join(
        ["PUT", str(job.pk), job.storage_key, str(expires), job.direct_upload.content_type, job.checksum,
         str(job.byte_size)]
    )
    return salted_hmac(SALT, signed, algorithm="sha256").hexdigest()


def upload_receive(*, job_id: int, query: Mapping[str, str], headers: Mapping[str, str], body: IO[bytes]) -> ImportJob:
    """Check the PUT against the signed URL, read the body (never more than the signed length),
    check its MD5, then store it and queue the job; UploadRefused otherwise."""
    job = selectors.import_job_direct_upload_get(job_id=job_id)
    expires = query.get("expires", "")
    if job is None or not job.direct_upload.embedded or not expires.isdigit():
        raise UploadRefused(SIGNATURE_MISMATCH)
    if not constant_time_compare(query.get("signature", ""), _signature(job, int(expires))):
        raise UploadRefused(SIGNATURE_MISMATCH)
    if clock() > int(expires):
        raise UploadRefused(EXPIRED)
    if job.state != ImportJob.State.AWAITING_UPLOAD:
        raise UploadRefused(ALREADY_USED)
    length = headers.get("Content-Length", "")
    if not length.isdigit():
        raise UploadRefused(MISSING_LENGTH)
    sent_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    signed = (job.direct_upload.content_type, job.checksum, job.byte_size)
    if (sent_type, headers.get("Content-MD5", ""), int(length)) != signed:
        raise UploadRefused(SIGNATURE_MISMATCH)
    with tempfile.TemporaryFile() as received:
        digest, size = hashlib.md5(usedforsecurity=False), 0
        while size < job.byte_size and (block := body.read(min(_BLOCK, job.byte_size - size))):
            digest.update(block)
            received.write(block)
            size += len(block)
        if size != job.byte_size:
            raise UploadRefused(INCOMPLETE_BODY)
        if base64.b64encode(digest.digest()).decode() != job.checksum:
            raise UploadRefused(BAD_DIGEST)
        received.seek(0)
        arrived = jobs.import_job_upload_store(job_id=job.pk, content=received, size=size)
    if arrived is None:  # a PUT running at the same time got there first
        raise UploadRefused(ALREADY_USED)
    return arrived


def expired_uploads_fail() -> list[ImportJob]:
    """Fail each job awaiting an upload to this server's URL that expired (plus the grace) with
    nothing uploaded: part of the watchdog, since without S3 there is no discovery to do it."""
    expired = list(selectors.import_job_embedded_uploads_expired(now=timezone.now()))
    for job in expired:
        jobs.import_job_fail(job_id=job.pk, message=Message(direct_uploads.MESSAGE_UPLOAD_MISSING))
    return expired
