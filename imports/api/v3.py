"""API v3 (SPEC 6): the first request's checks, the job awaiting its upload with a pre-signed PUT
URL; S3 discovery's look for each awaited object; and the check a v3 job makes of the object that
arrived before it imports anything.

S3 itself refuses a PUT whose body does not match the signed Content-MD5, or that comes after the
URL expired. The job checks size, MD5 and arrival time again, so a server that does not enforce
them (moto, some S3-compatible stores) still never imports what the request did not declare.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.utils import timezone
from django.utils.translation import gettext_noop

from imports import notifications, s3, selectors, services, sources
from imports.api import errors
from imports.core.reader import FileFormatError, Message
from imports.models import ImportJob, Project

URL_SECONDS = 300  # SPEC 6: the URL is valid 5 minutes
# An upload is still accepted this long after its URL expired: clock skew between S3 and this
# server, and an upload that started in time. Later ones are not imported.
ACCEPT_GRACE_SECONDS = 60
DEFAULT_CONTENT_TYPE = "text/csv"
# SPEC 4: API v3 takes csv up to 1 GB, gzip up to 100 MB; the object's name ends accordingly.
CONTENT_TYPES = {"text/csv": (1024**3, ".csv"), "application/gzip": (100 * 1024**2, ".csv.gz")}
MAX_REQUEST_BYTES = 16 * 1024
_DIGITS = re.compile(r"-?[0-9]+")
_MD5_BYTES = 16
_READ_BLOCK = 1 << 20

# Rails' wording, which the seed's messages follow ("Validation failed: Checksum is invalid").
PROBLEM_CHECKSUM = "Checksum is invalid"
PROBLEM_NOT_A_NUMBER = "Byte size is not a number"
PROBLEM_NOT_AN_INTEGER = "Byte size must be an integer"
PROBLEM_NOT_POSITIVE = "Byte size must be greater than 0"
PROBLEM_TOO_LARGE = "Byte size must be less than or equal to {limit}"
PROBLEM_CONTENT_TYPE = "Content type is not included in the list"

MESSAGE_UPLOAD_MISSING = gettext_noop("no file was uploaded to the API v3 upload URL before it expired")
MESSAGE_UPLOAD_LATE = gettext_noop(
    "the file arrived after its API v3 upload URL had expired, so it was not imported: "
    "request a new URL and upload again"
)
MESSAGE_SIZE_MISMATCH = gettext_noop(
    "the uploaded file has {size} bytes but the API v3 request declared {declared}, so it was not imported"
)
MESSAGE_CHECKSUM_MISMATCH = gettext_noop(
    "the uploaded file does not match the checksum the API v3 request declared, so it was not imported"
)
MESSAGES = (MESSAGE_UPLOAD_MISSING, MESSAGE_UPLOAD_LATE, MESSAGE_SIZE_MISMATCH, MESSAGE_CHECKSUM_MISMATCH)


@dataclass(frozen=True)
class UploadRequest:
    checksum: str  # base64 of the file's MD5
    byte_size: int
    content_type: str


def upload_request_parse(body: bytes) -> UploadRequest:
    """The first request's JSON, or ApiError with its 400 (SPEC 6). A body that is JSON but not an
    object has no parameters, as in Rails: byte_size is then missing."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise errors.ApiError(errors.bad_request(errors.MESSAGE_NOT_JSON)) from None
    if not isinstance(data, dict):
        data = {}
    byte_size = data.get("byte_size")
    if byte_size in (None, "", [], {}):
        raise errors.ApiError(errors.bad_request(errors.MESSAGE_PARAM_MISSING.format(name="byte_size")))
    checksum = data.get("checksum")
    content_type = data.get("content_type") or DEFAULT_CONTENT_TYPE
    known_type = isinstance(content_type, str) and content_type in CONTENT_TYPES
    problems = []
    if not checksum_is_valid(checksum):
        problems.append(PROBLEM_CHECKSUM)
    size, problem = _byte_size(byte_size, CONTENT_TYPES[content_type][0] if known_type else None)
    if problem:
        problems.append(problem)
    if not known_type:
        problems.append(PROBLEM_CONTENT_TYPE)
    if problems:
        message = errors.MESSAGE_VALIDATION_FAILED.format(problems=", ".join(problems))
        raise errors.ApiError(errors.bad_request(message))
    return UploadRequest(checksum=checksum, byte_size=size, content_type=content_type)


def checksum_is_valid(checksum: Any) -> bool:
    """Canonical base64 of 16 bytes, as `openssl dgst -md5 -binary FILE | base64` prints it."""
    if not isinstance(checksum, str) or not checksum.isascii():
        return False
    try:
        digest = base64.b64decode(checksum, validate=True)
    except binascii.Error:
        return False
    return len(digest) == _MD5_BYTES and base64.b64encode(digest).decode() == checksum


def _byte_size(value: Any, limit: int | None) -> tuple[int, str | None]:
    """A JSON number or a string of digits (the seed's client sends "123456")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return 0, PROBLEM_NOT_A_NUMBER
    if isinstance(value, float):
        return 0, PROBLEM_NOT_AN_INTEGER
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            return 0, PROBLEM_NOT_A_NUMBER
        digits = value.lstrip("-").lstrip("0")
        # int() refuses more than 4300 digits; anything over 19 is far beyond every limit anyway.
        value = int(value) if len(digits) <= 19 else (-1 if value.startswith("-") else 2**63)
    if value <= 0:
        return 0, PROBLEM_NOT_POSITIVE
    if limit is not None and value > limit:
        return 0, PROBLEM_TOO_LARGE.format(limit=limit)
    return value, None


def direct_upload_start(
    *, project: Project, prefix: str, request: UploadRequest, started_by: str
) -> tuple[ImportJob, dict[str, Any]]:
    """The job awaiting the file and the ``direct_upload`` answer: a PUT URL for a fresh key under
    ``prefix``, signed with the declared Content-Type and Content-MD5."""
    name = f"api-v3-{uuid.uuid4().hex}{CONTENT_TYPES[request.content_type][1]}"
    expires_at = timezone.now() + timedelta(seconds=URL_SECONDS)
    job = services.import_job_await_upload(
        project=project,
        kind=ImportJob.Kind.USER_PROFILES,
        storage_key=prefix + name,
        byte_size=request.byte_size,
        checksum=request.checksum,
        started_by=started_by,
        upload={
            "content_type": request.content_type,
            "expires_at": expires_at.isoformat(),
            "accept_until": (expires_at + timedelta(seconds=ACCEPT_GRACE_SECONDS)).isoformat(),
        },
    )
    headers = {"Content-Type": request.content_type, "Content-MD5": request.checksum}
    url = s3.client("s3").generate_presigned_url(
        "put_object",
        Params={"Bucket": s3.import_bucket(), "Key": job.storage_key, **_put_params(headers)},
        ExpiresIn=URL_SECONDS,
    )
    return job, {"url": url, "headers": headers}


def _put_params(headers: dict[str, str]) -> dict[str, str]:
    return {"ContentType": headers["Content-Type"], "ContentMD5": headers["Content-MD5"]}


def direct_uploads_discover() -> list[ImportJob]:
    """Part of every S3 discovery run: queue each awaiting v3 job whose object is in the bucket,
    and fail those whose URL expired (plus the grace) with nothing uploaded. Each key is looked up
    directly, so a big prefix listed from a cursor cannot hide it."""
    client, bucket = s3.client("s3"), s3.import_bucket()
    queued = []
    for job in list(selectors.import_job_awaiting_upload_list()):
        now = timezone.now()
        try:
            head = client.head_object(Bucket=bucket, Key=job.storage_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            if now > _accept_until(job):
                services.import_job_fail(job_id=job.pk, message=Message(MESSAGE_UPLOAD_MISSING))
                notifications.job_finished_notify(job=job)
            continue
        arrived = services.import_job_upload_arrive(
            job_id=job.pk, etag=head["ETag"].strip('"'), size=head["ContentLength"], arrived_at=head["LastModified"]
        )
        if arrived is not None:
            queued.append(arrived)
    return queued


def _accept_until(job: ImportJob) -> datetime:
    return datetime.fromisoformat(job.summary["direct_upload"]["accept_until"])


def upload_verify(job: ImportJob) -> None:
    """FileFormatError unless the object came in time and has the declared size and MD5.

    A single-part upload's ETag is its MD5, so a matching ETag proves the bytes; otherwise
    (multipart, KMS encryption, a store with other ETags) the object is read once, as a stream.
    """
    upload = job.summary["direct_upload"]
    if datetime.fromisoformat(upload["arrived_at"]) > datetime.fromisoformat(upload["accept_until"]):
        raise FileFormatError(Message(MESSAGE_UPLOAD_LATE))
    if upload["size"] != job.byte_size:
        raise FileFormatError(
            Message(MESSAGE_SIZE_MISMATCH, size=f"{upload['size']:,}", declared=f"{job.byte_size:,}")
        )
    declared = base64.b64decode(job.checksum)
    if job.s3_etag == declared.hex():
        return
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with sources.job_file_open(job) as stream:
        while block := stream.read(_READ_BLOCK):
            digest.update(block)
            size += len(block)
    if size != job.byte_size or digest.digest() != declared:
        raise FileFormatError(Message(MESSAGE_CHECKSUM_MISMATCH))
