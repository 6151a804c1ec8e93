"""The shapes of the API's bodies, for the OpenAPI document. The views build the bodies themselves
(errors.py), byte for byte as SPEC 6 quotes them; these classes only describe them."""

from __future__ import annotations

from typing import Literal, Union

from ninja import Field, Schema

from imports import direct_uploads
from imports.api import v3

ProfileTypeName = Literal["string", "int", "decimal", "datetime"]


class Messages(Schema):
    messages: list[str]


class StatusError(Schema):
    status: str = Field(examples=["unauthorized"])
    error: Messages


class Error(Schema):
    error: Messages


class CodedMessages(Schema):
    code: Literal[2001] = Field(description="The file breaks a rule of the CSV format (header, encoding, …).")
    messages: list[str] = Field(examples=[["user_id column is required"]])


class FileFormatError(Schema):
    error: CodedMessages


class UnsupportedMediaType(Schema):
    error: Literal["415 Unsupported Media Type"]


class DirectUploadHeaders(Schema):
    content_type: str = Field(alias="Content-Type", examples=["text/csv"])
    content_md5: str = Field(alias="Content-MD5", examples=["QYLqokRq51xGBqakDLsBvA=="])


class DirectUpload(Schema):
    url: str = Field(
        description=f"Pre-signed URL for one PUT, valid {direct_uploads.URL_SECONDS // 60} minutes: Amazon S3's, or this "
        "server's own when it keeps no files in S3."
    )
    headers: DirectUploadHeaders = Field(description="Send exactly these headers with the PUT.")


class DirectUploadResponse(Schema):
    direct_upload: DirectUpload


class DirectUploadRequest(Schema):
    checksum: str = Field(
        description="Base64 of the file's MD5: `openssl dgst -md5 -binary FILE | base64`.",
        pattern=r"^[A-Za-z0-9+/]{21}[AQgw]==$",
        examples=["J1h240z2CdsRjz2Et5mnkA=="],
    )
    byte_size: Union[int, str] = Field(
        description="The file's size in bytes: a JSON number or a string of digits. At most 1 GB for "
        "text/csv, 100 MB for application/gzip.",
        examples=["123456"],
    )
    content_type: Literal["text/csv", "application/gzip"] = v3.DEFAULT_CONTENT_TYPE
    file_name: Union[str, None] = Field(
        default=None,
        description="Optional: the file's name, shown in the import history and the emails (else api-v3-job-<id>.csv).",
        examples=["profiles.csv"],
    )


class ProfileKeyType(Schema):
    type: ProfileTypeName


class BulkImportAccepted(Schema):
    user_profile: dict[str, ProfileKeyType] = Field(
        description="Each profile key the file updates, with its type (kept, or inferred for a new key).",
        examples=[{"birthday": {"type": "datetime"}, "name": {"type": "string"}, "point": {"type": "int"}}],
    )


class ImportJobStatus(Schema):
    id: int
    kind: Literal["events", "user_profiles"]
    source: Literal["dashboard", "s3", "api_v2", "api_v3", "command"]
    file_name: str = Field(description="The name the client sent (v2: Content-Disposition; v3: file_name), else api-v2-job-<id>.csv.")
    state: Literal["awaiting_upload", "queued", "running", "succeeded", "succeeded_with_errors", "failed", "validated"]
    final: bool = Field(description="True once the state no longer changes.")
    dry_run: bool
    rows: int = Field(description="Data rows read so far.")
    total_rows: Union[int, None] = Field(description="Data rows in the file, once the file-level checks counted them.")
    imported: int
    failed: int = Field(description="Rows that failed; each is in the error CSV with its reasons.")
    failure_message: Union[str, None] = Field(description="Why the whole file failed (state failed).")
    created_at: str
    finished_at: Union[str, None]
    url: str = Field(description="The job's page in the dashboard (members only).")
    error_csv_url: Union[str, None] = Field(description="The error CSV in the dashboard (members only), when rows failed.")


class ImportJobStatusResponse(Schema):
    import_job: ImportJobStatus


AUTH_RESPONSES = {401: StatusError, 403: StatusError, 429: StatusError}
