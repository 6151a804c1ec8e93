"""Where a job's file lives: stored through Django's default storage (local folder or S3)."""

from __future__ import annotations

import uuid
from typing import IO, BinaryIO

from botocore.exceptions import ClientError
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_noop

from imports import s3
from imports.core.reader import FileFormatError, Message
from imports.models import ImportJob, Project

S3_OBJECT_MESSAGES = {
    "NoSuchKey": gettext_noop("the file was deleted from the bucket before it was imported"),
    "PreconditionFailed": gettext_noop(
        "the file was replaced in the bucket before it was imported; the new file is imported as a job of its own"
    ),
}


def upload_key(*, project: Project, kind: str, file_name: str) -> str:
    """A fresh storage key; the user's file name is reduced to safe characters and never a path."""
    try:
        safe_name = get_valid_filename(file_name.replace("\\", "/").rsplit("/", 1)[-1])
    except SuspiciousFileOperation:  # "", ".", ".." and blanks have no safe form
        safe_name = "upload.csv"
    return f"uploads/{project.app_id}/{kind}/{uuid.uuid4().hex}/{safe_name[-200:]}"


def job_file_store(*, project: Project, kind: str, file_name: str, content: IO[bytes]) -> tuple[str, int]:
    """Stream ``content`` into storage; returns the key and the byte size."""
    key = default_storage.save(upload_key(project=project, kind=kind, file_name=file_name), File(content))
    return key, default_storage.size(key)


def job_file_open(job: ImportJob) -> BinaryIO:
    """The job's file as a stream. From S3 it is the object's HTTP body itself: the storage's S3File
    would first copy the whole object into memory or a temporary file."""
    if not s3.is_configured():
        return default_storage.open(job.storage_key, "rb")
    try:
        # The ETag pins the object the job was made for: its checkpoints are offsets in those bytes.
        return s3.object_open(job.storage_key, etag=job.s3_etag)
    except ClientError as exc:
        message = S3_OBJECT_MESSAGES.get(exc.response.get("Error", {}).get("Code"))
        if message is None:
            raise
        raise FileFormatError(Message(message)) from exc


def error_csv_key(job: ImportJob) -> str:
    return f"errors/{job.project.app_id}/{job.pk}/errors.csv"
