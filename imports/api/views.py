"""The endpoints under /v2/ and /v3/ and the OpenAPI document (/api/openapi.json, /api/docs).

Order of checks on an endpoint: method (405), token (401, 403), rate limit (429), then the
request itself. django-ninja routes and documents; every body comes from errors.py.
"""

from __future__ import annotations

import functools
from typing import Any, Union

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Swagger
from ninja.decorators import decorate_view

from imports import direct_uploads, embedded_uploads, s3
from imports.api import errors, follow, schemas, v2, v3
from imports.api.auth import ReproToken
from imports.api.ratelimit import LIMIT, WINDOW_SECONDS, rate_limited
from imports.http import content_length
from imports.models import ImportJob
from imports.s3_discovery import s3_prefix

# SPEC 6: the limit is per token and per feature; both versions are the one feature.
FEATURE_PROFILE_BULK_IMPORT = "user_profile_bulk_import"
V3_PATH = "/v3/user_profiles/bulk_import"
V2_PATH = "/v2/user_profiles/bulk_import"
# RFC 9745: deprecated since the end date the seed announced for v2 (2021-08-31, JST).
V2_DEPRECATION = "@1630335600"
STARTED_BY = "API {version} (token {prefix}…)"
V2_EXAMPLE = "user_id,birthday,name,point\n123456,2000-01-01T00:00:00+09:00,foo,123\n"
_OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]


class Api(NinjaAPI):
    def get_root_path(self, path_params: dict[str, Any]) -> str:
        # The API is mounted at the site root, whose "/" belongs to the dashboard.
        return "/"


def _docs_switch(view):
    """The docs page and the OpenAPI document exist only while the API_DOCS setting is on."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.API_DOCS:
            raise Http404("The API documentation is turned off on this server.")
        return view(request, *args, **kwargs)

    return wrapper


api = Api(
    title="Repro API: User Profile Bulk Import",
    version="3",
    description=(
        "Send a CSV of user profiles for import. v3 (two requests: this API gives a pre-signed URL, "
        "then PUT the file there) and the deprecated v2 (the file is the request body). Every request "
        f"needs the project's Repro API token in `X-Repro-Token`; each token may make "
        f"{LIMIT} requests per {WINDOW_SECONDS // 60} minutes. An accepted request names its job in "
        "`X-Repro-Job-Id` and `Location`; `GET /v3/import_jobs/{id}` follows it. See docs/api.md."
    ),
    openapi_url="/api/openapi.json",
    docs_url="/api/docs",
    # Swagger UI from django-ninja's bundled static files ("ninja" is an installed app), and without
    # its online validator, so the page loads nothing from any other host.
    docs=Swagger(settings={"validatorUrl": None}),
    docs_decorator=_docs_switch,
    urls_namespace="api",
    auth=ReproToken(),
)


@api.exception_handler(errors.ApiError)
def _api_error(request: HttpRequest, exc: errors.ApiError) -> HttpResponse:
    return exc.response


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer"}}


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": _header(f"Requests allowed per window ({LIMIT})."),
    "X-RateLimit-Remaining": _header("Requests left in the current window."),
    "X-RateLimit-Reset": _header("Unix time at which the window ends."),
}
RETRY_AFTER = {"Retry-After": _header("Seconds until the window ends.")}
JOB_HEADERS = {
    follow.JOB_ID_HEADER: _header("The import job this request made: `GET /v3/import_jobs/{id}` follows it."),
    "Location": {"description": "The job's page in the dashboard.", "schema": {"type": "string"}},
}


def _responses_extra(accepted: int, *counted: int) -> dict[int, Any]:
    """Headers of the responses the rate limit counted (ninja keys its responses by int status)."""
    responses: dict[int, Any] = {status: {"headers": RATE_LIMIT_HEADERS} for status in counted}
    responses[accepted] = {"headers": {**JOB_HEADERS, **RATE_LIMIT_HEADERS}}
    responses[429] = {"headers": {**RETRY_AFTER, **RATE_LIMIT_HEADERS}}
    return responses


@api.post(
    V3_PATH,
    response={
        200: schemas.DirectUploadResponse,
        400: schemas.Error,
        **schemas.AUTH_RESPONSES,
        413: schemas.Error,
        503: schemas.StatusError,
    },
    summary="Get a pre-signed URL to upload a CSV of user profiles",
    description=(
        "First of the two requests of v3. Then PUT the file to `direct_upload.url` with exactly the headers "
        f"in `direct_upload.headers`, within {direct_uploads.URL_SECONDS // 60} minutes. The URL is Amazon S3's, or this "
        "server's own when it keeps no files in S3 (it then enforces the signature, the expiry, the headers, "
        "the length and the MD5 as S3 does). The import starts when the file has arrived and its size and MD5 "
        "match what this request declared; members are emailed the result. A 503 is a fault of the server "
        "and is not counted against the rate limit."
    ),
    tags=["v3"],
    operation_id="user_profiles_bulk_import_v3",
    by_alias=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schemas.DirectUploadRequest.model_json_schema()}},
        },
        "responses": _responses_extra(200, 400, 413, 503),
    },
)
@decorate_view(never_cache)  # the pre-signed URL is a credential until it expires
@rate_limited(FEATURE_PROFILE_BULK_IMPORT)
def bulk_import_v3(request: HttpRequest) -> HttpResponse:
    # SPEC 6's 400s come first, whatever the storage.
    if content_length(request) > v3.MAX_REQUEST_BYTES:
        raise errors.ApiError(errors.payload_too_large())
    upload_request = v3.upload_request_parse(request.body)
    project = request.auth.project
    started_by = STARTED_BY.format(version="v3", prefix=request.auth.token_prefix)
    if s3.is_configured():
        job, direct_upload = direct_uploads.direct_upload_start(
            project=project,
            prefix=s3_prefix(project=project, kind=ImportJob.Kind.USER_PROFILES),
            request=upload_request,
            started_by=started_by,
        )
    else:
        job, direct_upload = embedded_uploads.direct_upload_start(
            project=project, request=upload_request, started_by=started_by, site_url=request.build_absolute_uri("/")
        )
    job = follow.job_name(job=job, client_name=follow.v3_file_name(request.body), version="v3")
    return follow.job_headers(errors.json_response({"direct_upload": direct_upload}), request, job)


def _deprecated(run):
    """Every answer of v2, its 401 and 403 too, says that it is deprecated."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = run(request, *args, **kwargs)
        response["Deprecation"] = V2_DEPRECATION
        return response

    return wrapper


@api.post(
    V2_PATH,
    response={
        202: schemas.BulkImportAccepted,
        400: Union[schemas.FileFormatError, schemas.Error],
        **schemas.AUTH_RESPONSES,
        413: schemas.Error,
        415: schemas.UnsupportedMediaType,
        503: schemas.StatusError,
    },
    summary="Import a CSV of user profiles sent as the request body (deprecated: use v3)",
    description=(
        "The body is the CSV (`Content-Type: text/csv`) or the gzipped CSV (`application/gzip`), at most "
        f"{v2.MAX_BYTES // 1024**2} MiB. The header is checked and the types inferred at once; the rows are "
        "imported afterwards and members are emailed the result. Every response carries a `Deprecation` header."
    ),
    tags=["v2"],
    deprecated=True,
    operation_id="user_profiles_bulk_import_v2",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": V2_EXAMPLE},
                "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "responses": _responses_extra(202, 400, 413, 415, 503),
    },
)
@decorate_view(_deprecated)
@rate_limited(FEATURE_PROFILE_BULK_IMPORT)
def bulk_import_v2(request: HttpRequest) -> HttpResponse:
    job, types = v2.profile_bulk_import(
        request=request,
        project=request.auth.project,
        started_by=STARTED_BY.format(version="v2", prefix=request.auth.token_prefix),
    )
    job = follow.job_name(job=job, client_name=follow.v2_file_name(request), version="v2")
    return follow.job_headers(errors.json_response({"user_profile": types}, 202), request, job)


api.add_router("", follow.router)


@api.api_operation(_OTHER_METHODS, V3_PATH, auth=None, include_in_schema=False)
def method_not_allowed_v3(request: HttpRequest) -> HttpResponse:
    return errors.method_not_allowed(["POST"])


@api.api_operation(_OTHER_METHODS, V2_PATH, auth=None, include_in_schema=False)
def method_not_allowed_v2(request: HttpRequest) -> HttpResponse:
    return errors.method_not_allowed(["POST"])


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /v2/ or /v3/, whatever the method or token."""
    return errors.not_found()
