"""API v3 direct uploads (SPEC 6): the job that awaits its file with a pre-signed PUT URL, S3
discovery's look for each awaited object, and the check a v3 job makes of the object that arrived
before it imports anything.

S3 itself refuses a PUT whose body does not match the signed Content-MD5, or that comes after the
URL expired. The job checks size, MD5 and arrival time again, so a server that does not enforce
them (moto, some S3-compatible stores) still never imports what the request did not declare.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.utils import timezone
from django.utils.translation import gettext_noop

from imports import jobs, s3, selectors, sources
from imports.core.reader import FileFormatError, Message
from imports.models import ImportJob, Project

URL_SECONDS = 300  # SPEC 6: the URL is valid 5 minutes
# An upload is still accepted this long after its URL expired: clock skew between S3 and this
# server, and an upload that started in time. Later ones are not imported.
ACCEPT_GRACE_SECONDS = 60
# SPEC 4: API v3 takes csv up to 1 GB, gzip up to 100 MB; the object's name ends accordingly.
CONTENT_TYPES = {"text/csv": (1024**3, ".csv"), "application/gzip": (100 * 1024**2, ".csv.gz")}
_READ_BLOCK = 1 << 20

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


def direct_upload_start(
    *, project: Project, prefix: str, request: UploadRequest, started_by: str
) -> tuple[ImportJob, dict[str, Any]]:
    """The job awaiting the file and the ``direct_upload`` answer: a PUT URL for a fresh key under
    ``prefix``, signed with the declared Content-Type and Content-MD5."""
    job = upload_await(
        project=project,
        storage_key=prefix + upload_file_name(request),
        request=request,
        started_by=started_by,
        expires_at=timezone.now() + timedelta(seconds=URL_SECONDS),
    )
    headers = upload_headers(request)
    url = s3.client("s3").generate_presigned_url(
        "put_object",
        Params={"Bucket": s3.import_bucket(), "Key": job.storage_key, **_put_params(headers)},
        ExpiresIn=URL_SECONDS,
    )
    return job, {"url": url, "headers": headers}


def upload_file_name(request: UploadRequest) -> str:
    """A fresh name for the object, ending as its content type says."""
    return f"api-v3-{uuid.uuid4().hex}{CONTENT_TYPES[request.content_type][1]}"


def upload_headers(request: UploadRequest) -> dict[str, str]:
    """The headers the PUT must send: those its URL is signed for."""
    return {"Content-Type": request.content_type, "Content-MD5": request.checksum}


def upload_await(
    *, project: Project, storage_key: str, request: UploadRequest, started_by: str, expires_at: datetime,
    embedded: bool = False,
) -> ImportJob:
    """The job awaiting the upload its URL (valid until ``expires_at``) allows; ``embedded``: the
    URL is this server's own (``imports.embedded_uploads``)."""
    return jobs.import_job_await_upload(
        project=project,
        kind=ImportJob.Kind.USER_PROFILES,
        storage_key=storage_key,
        byte_size=request.byte_size,
        checksum=request.checksum,
        started_by=started_by,
        content_type=request.content_type,
        expires_at=expires_at,
        accept_until=expires_at + timedelta(seconds=ACCEPT_GRACE_SECONDS),
        embedded=embedded,
    )


def _put_params(headers: dict[str, str]) -> dict[str, str]:
    return {"ContentType": headers["Content-Type"], "ContentMD5": headers["Content-MD5"]}


def direct_uploads_discover() -> list[ImportJob]:
    """Part of every S3 discovery run: queue each awaiting v3 job whose object is in the bucket,
    and fail those whose URL expired (plus the grace) with nothing uploaded. Each key is looked up
    directly, so a big prefix listed from a cursor cannot hide it."""
    client, bucket = s3.client("s3"), s3.import_bucket()
    queued = []
    for job in list(selectors.import_job_awaiting_upload_list().select_related("direct_upload")):
        now = timezone.now()
        try:
            head = client.head_object(Bucket=bucket, Key=job.storage_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            if now > job.direct_upload.accept_until:
                jobs.import_job_fail(job_id=job.pk, message=Message(MESSAGE_UPLOAD_MISSING))
            continue
        arrived = jobs.import_job_upload_arrive(
            job_id=job.pk, etag=head["ETag"].strip('"'), size=head["ContentLength"], arrived_at=head["LastModified"]
        )
        if arrived is not None:
            queued.append(arrived)
    return queued


def upload_verify(job: ImportJob) -> None:
    """FileFormatError unless the object came in time and has the declared size and MD5.

    A single-part upload's ETag is its MD5, so a matching ETag proves the bytes; otherwise
    (multipart, KMS encryption, a store with other ETags) the object is read once, as a stream.
    """
    upload = job.direct_upload
    if upload.arrived_at > upload.accept_until:
        raise FileFormatError(Message(MESSAGE_UPLOAD_LATE))
    if upload.size != job.byte_size:
        raise FileFormatError(Message(MESSAGE_SIZE_MISMATCH, size=f"{upload.size:,}", declared=f"{job.byte_size:,}"))
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
