"""Following an API import: what an accepted v2 or v3 request says about the job it made (in
headers, so SPEC's JSON bodies stay as they are), the name the history gives the job, and the
token-authenticated GET of a job's state and counts."""

from __future__ import annotations

import json
import re

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import parse_header_parameters
from ninja import Router

from imports import jobs, selectors
from imports.api import errors, schemas
from imports.models import ImportJob

JOB_ID_HEADER = "X-Repro-Job-Id"
FILE_NAME_MAX_CHARS = 255
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")

router = Router(tags=["jobs"])


def job_headers(response: HttpResponse, request: HttpRequest, job: ImportJob) -> HttpResponse:
    """``Location``: the job's page in the dashboard; ``X-Repro-Job-Id``: its id, for the GET below."""
    response["Location"] = request.build_absolute_uri(_job_page(job))
    response[JOB_ID_HEADER] = str(job.pk)
    return response


def _job_page(job: ImportJob) -> str:
    return reverse("dashboard:job_detail", args=[job.project.app_id, job.pk])


def client_file_name(value: object) -> str:
    """The name a client gave its file, as a plain file name (no folders, no control characters,
    at most 255 characters); "" when it gave none."""
    if not isinstance(value, str):
        return ""
    name = _UNPRINTABLE.sub("", value.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return "" if name in ("", ".", "..") else name[-FILE_NAME_MAX_CHARS:]


def v2_file_name(request: HttpRequest) -> str:
    """v2: the body's name from ``Content-Disposition: attachment; filename="profiles.csv"``."""
    _, params = parse_header_parameters(request.headers.get("Content-Disposition", ""))
    return client_file_name(params.get("filename", ""))


def v3_file_name(body: bytes) -> str:
    """v3: the optional ``file_name`` of the first request's JSON (already known to be valid JSON)."""
    data = json.loads(body)
    return client_file_name(data.get("file_name")) if isinstance(data, dict) else ""


def job_name(*, job: ImportJob, client_name: str, version: str) -> ImportJob:
    """Name the job in the history by what the client sent, else by the job: ``api-v2-job-12.csv``."""
    suffix = ".csv.gz" if job.storage_key.endswith(".gz") else ".csv"
    return jobs.import_job_rename(job=job, file_name=client_name or f"api-{version}-job-{job.pk}{suffix}")


@router.get(
    "/v3/import_jobs/{int:job_id}",
    response={200: schemas.ImportJobStatusResponse, 401: schemas.StatusError, 403: schemas.StatusError,
              404: schemas.StatusError},
    summary="The state and counts of an import job of the token's project",
    description=(
        "Any job of the project, whatever started it; the id is the `X-Repro-Job-Id` header of an accepted "
        "v2 or v3 request. Poll until `final` is true. Not counted against the rate limit."
    ),
    operation_id="import_job_status",
)
def import_job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_find(project=request.auth.project, job_id=job_id)
    if job is None:
        raise errors.ApiError(errors.not_found())
    error_csv = reverse("dashboard:job_error_csv", args=[job.project.app_id, job.pk]) if job.error_csv_key else None
    body = {
        "import_job": {
            "id": job.pk,
            "kind": job.kind,
            "source": job.source,
            "file_name": job.file_name,
            "state": job.state,
            "final": job.is_final,
            "dry_run": job.dry_run,
            "rows": job.rows_read,
            "total_rows": job.total_rows,
            "imported": job.imported,
            "failed": job.failed,
            "failure_message": job.failure_message or None,
            "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "url": request.build_absolute_uri(_job_page(job)),
            "error_csv_url": request.build_absolute_uri(error_csv) if error_csv else None,
        }
    }
    return errors.json_response(body)
