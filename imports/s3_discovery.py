"""Finds new objects under each project's two S3 prefixes and makes each one an import job (SPEC 5).

One job per (key, ETag), also when two runs race: the unique constraint job_unique_s3_object
decides which run creates it, never a lock in memory. Listing remembers where it got to per
prefix (S3ListingCursor); how that still finds a name uploaded again is in docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext_noop

from imports import direct_uploads, jobs, s3, selectors
from imports.core.names import display_name
from imports.core.reader import Message
from imports.models import ImportJob, Project, S3ListingCursor

PREFIX_FOLDERS = {
    ImportJob.Kind.EVENTS: "event_bulk_tracking",
    ImportJob.Kind.USER_PROFILES: "user_profile_bulk_import",
}
STARTED_BY = "Amazon S3"
LIST_PAGE_SIZE = 1000

MESSAGE_NAME_IN_FOLDER = gettext_noop("'{name}' is in a folder: put files directly in s3://{bucket}/{prefix}")
MESSAGE_NAME_HAS_SPACE = gettext_noop("'{name}' has a space in its name: rename the file without spaces")
MESSAGE_TOO_LARGE = gettext_noop("file too large: {size} bytes (limit {limit} MB)")


def s3_prefix(*, project: Project, kind: str) -> str:
    return f"{project.app_id}/{PREFIX_FOLDERS[kind]}/"


def s3_imports_discover() -> list[ImportJob]:
    """List every project's prefixes once; returns the jobs created by this run."""
    s3.import_bucket()  # raises NotConfigured in the embedded mode, before any listing
    created = direct_uploads.direct_uploads_discover()
    # Fetched whole, not with iterator(): queueing a job through the ORM broker closes the database
    # connection (django-q2 calls close_old_connections), and a server-side cursor with it.
    for project in selectors.project_list():
        for kind in PREFIX_FOLDERS:
            created += s3_prefix_discover(project=project, kind=kind)
    return created


def s3_prefix_discover(*, project: Project, kind: str) -> list[ImportJob]:
    """Make jobs for the prefix's new objects.

    A prefix that fits in one listing page is listed whole every run (one request either way).
    A bigger one is listed after the last key seen, and whole again every
    S3_DISCOVERY_FULL_LIST_MINUTES: only then is a name that sorts before that key found.
    """
    started = timezone.now()
    cursor, _ = S3ListingCursor.objects.get_or_create(project=project, kind=kind)
    full = not cursor.start_after or _full_list_due(cursor, started)
    prefix = s3_prefix(project=project, kind=kind)
    created: list[ImportJob] = []
    pages = 0
    last_key = ""
    for page in _pages(prefix=prefix, start_after="" if full else cursor.start_after):
        pages += 1
        last_key = page[-1]["Key"]
        created += _page_jobs(project=project, kind=kind, prefix=prefix, objects=page)
        if not full:
            S3ListingCursor.objects.filter(pk=cursor.pk).update(start_after=last_key)
    if full:
        S3ListingCursor.objects.filter(pk=cursor.pk).update(
            start_after=last_key if pages > 1 else "", full_listed_at=started
        )
    return created


def _full_list_due(cursor: S3ListingCursor, now: datetime) -> bool:
    interval = timedelta(minutes=settings.S3_DISCOVERY_FULL_LIST_MINUTES)
    return cursor.full_listed_at is None or now - cursor.full_listed_at >= interval


def _pages(*, prefix: str, start_after: str) -> Iterator[list[dict[str, Any]]]:
    """The non-empty pages of list_objects_v2 (keys in ascending order), following continuation tokens."""
    params = {"Bucket": s3.import_bucket(), "Prefix": prefix, "PaginationConfig": {"PageSize": LIST_PAGE_SIZE}}
    if start_after:
        params["StartAfter"] = start_after
    for page in s3.client("s3").get_paginator("list_objects_v2").paginate(**params):
        if page.get("Contents"):
            yield page["Contents"]


def _page_jobs(*, project: Project, kind: str, prefix: str, objects: list[dict[str, Any]]) -> list[ImportJob]:
    keys = [obj["Key"] for obj in objects]
    known = selectors.import_job_s3_objects(project=project, keys=keys)
    # An API v3 upload is imported by its own job only (direct_uploads_discover), or not at all.
    awaited = selectors.import_job_direct_upload_keys(project=project, keys=keys)
    created = []
    for obj in objects:
        name = obj["Key"][len(prefix) :]
        etag = obj["ETag"].strip('"')
        # A key ending in "/" is a folder placeholder (the S3 console makes them), not a file.
        if not name or name.endswith("/") or (obj["Key"], etag) in known or obj["Key"] in awaited:
            continue
        job = _job_create(project=project, kind=kind, prefix=prefix, name=name, obj=obj, etag=etag)
        if job is not None:
            created.append(job)
    return created


def _job_create(
    *, project: Project, kind: str, prefix: str, name: str, obj: dict[str, Any], etag: str
) -> ImportJob | None:
    """The object's job, queued or already failed; None when another run created it first."""
    problem = _object_problem(kind=kind, prefix=prefix, name=name, size=obj["Size"])
    try:
        return jobs.import_job_create_for_object(
            project=project, kind=kind, file_name=name, key=obj["Key"], etag=etag, size=obj["Size"],
            started_by=STARTED_BY, problem=problem,
        )
    except IntegrityError:
        return None


def _object_problem(*, kind: str, prefix: str, name: str, size: int) -> Message | None:
    """Why the object cannot be imported at all (SPEC 5), or None."""
    if "/" in name:
        return Message(MESSAGE_NAME_IN_FOLDER, name=display_name(name), bucket=s3.import_bucket(), prefix=prefix)
    if any(char.isspace() for char in name):  # a line break or a tab too
        return Message(MESSAGE_NAME_HAS_SPACE, name=display_name(name))
    limit = settings.S3_OBJECT_MAX_BYTES[kind]
    if size > limit:
        return Message(MESSAGE_TOO_LARGE, size=f"{size:,}", limit=f"{limit / (1024 * 1024):,.0f}")
    return None
