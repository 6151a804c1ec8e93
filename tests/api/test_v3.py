"""API v3 (SPEC 6): the first request's 400s and its pre-signed URL; the upload PUT to moto, found
by discovery and imported; and every upload that is not the declared file, or that came too late,
is never imported (the job's own check: moto enforces neither Content-MD5 nor expiry)."""

import base64
import gzip
import hashlib
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.utils import timezone, translation

from imports import direct_uploads, s3
from imports.api import v3
from imports.models import ImportJob, ProfileKey
from imports.s3_discovery import s3_imports_discover
from tests.api.conftest import http, profile_of

PATH = "/v3/user_profiles/bulk_import"
CSV = b"user_id,birthday,name,point\nu1,2000-01-01T00:00:00+09:00,foo,123\nu2,2001-02-01T00:00:00+09:00,bar,234\n"


def md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def request_body(data: bytes = CSV, **fields) -> bytes:
    return json.dumps({"checksum": md5_base64(data), "byte_size": str(len(data)), **fields}).encode()


def put(direct_upload: dict, body: bytes, headers: dict | None = None):
    return http(direct_upload["url"], "PUT", body, headers or direct_upload["headers"])


@pytest.fixture
def start(api, s3_bucket):
    """The first request for ``data``; returns its ``direct_upload``."""

    def first_request(data: bytes = CSV, **fields):
        reply = api(PATH, request_body(data, **fields), content_type="application/json")
        assert reply.status == 200, reply.body
        return reply.json()["direct_upload"]

    return first_request


def discover_and_run(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return s3_imports_discover()


def only_job(project) -> ImportJob:
    (job,) = ImportJob.objects.filter(project=project)
    return job


def test_first_request_gives_a_put_url_bound_to_type_and_md5_and_a_job_awaiting_it(start, project, s3_bucket):
    direct_upload = start()

    job = only_job(project)
    assert (job.kind, job.source, job.state) == ("user_profiles", "api_v3", "awaiting_upload")
    assert (job.byte_size, job.checksum) == (len(CSV), md5_base64(CSV))
    assert job.storage_key.startswith(f"{project.app_id}/user_profile_bulk_import/api-v3-")
    assert job.storage_key.endswith(".csv") and job.file_name == f"api-v3-job-{job.pk}.csv"
    assert job.started_by.startswith("API v3 (token ")
    assert direct_upload["headers"] == {"Content-Type": "text/csv", "Content-MD5": md5_base64(CSV)}
    url = urlsplit(direct_upload["url"])
    assert url.path == f"/{s3_bucket}/{job.storage_key}"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-SignedHeaders"] == ["content-md5;content-type;host"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_response_and_its_headers_are_exactly_the_seeds_shape(api, s3_bucket):
    reply = api(PATH, request_body(content_type="application/gzip"), content_type="application/json")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert list(reply.json()) == ["direct_upload"]
    assert list(reply.json()["direct_upload"]) == ["url", "headers"]
    assert reply.body.startswith(b'{"direct_upload":{"url":"http')
    assert reply.json()["direct_upload"]["headers"]["Content-Type"] == "application/gzip"
    assert (reply.headers["X-RateLimit-Limit"], reply.headers["X-RateLimit-Remaining"]) == ("10", "9")


def test_answer_with_the_pre_signed_url_is_never_stored_by_a_cache(api, s3_bucket):
    reply = api(PATH, request_body(), content_type="application/json")
    assert reply.status == 200
    assert "no-store" in reply.headers["Cache-Control"]


def test_upload_with_the_given_headers_is_imported_end_to_end(
    start, project, registered, django_capture_on_commit_callbacks
):
    direct_upload = start()
    assert put(direct_upload, CSV).status == 200

    (job,) = discover_and_run(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert (job.state, job.imported, job.failed) == ("succeeded", 2, 0)
    assert profile_of(project, "u1") == {"birthday": "2000-01-01T00:00:00+09:00", "name": "foo", "point": 123}
    assert dict(ProfileKey.objects.values_list("name", "type")) == {"birthday": "datetime", "name": "string", "point": "int"}
    (email,) = mail.outbox
    assert job.file_name in email.body
    # The object is the job's alone: later runs neither import it again nor make an "s3" job of it.
    assert discover_and_run(django_capture_on_commit_callbacks) == []
    assert ImportJob.objects.filter(project=project).count() == 1


def test_gzip_upload_is_imported(start, project, registered, django_capture_on_commit_callbacks):
    data = gzip.compress(CSV)
    direct_upload = start(data, content_type="application/gzip")
    assert only_job(project).storage_key.endswith(".csv.gz")
    put(direct_upload, data)
    (job,) = discover_and_run(django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.state, job.imported) == ("succeeded", 2)


def test_multipart_upload_is_checked_by_reading_it_and_imported(
    start, project, registered, s3_bucket, django_capture_on_commit_callbacks
):
    """A multipart ETag is not the MD5: the job reads the object once to check it."""
    data = b"user_id,note\nu1," + b"x" * (5 * 1024 * 1024) + b"\n"
    start(data)
    job = only_job(project)
    client = s3.client("s3")
    upload_id = client.create_multipart_upload(Bucket=s3_bucket, Key=job.storage_key)["UploadId"]
    cut = 5 * 1024 * 1024
    parts = [
        {"PartNumber": n, "ETag": client.upload_part(
            Bucket=s3_bucket, Key=job.storage_key, UploadId=upload_id, PartNumber=n, Body=chunk)["ETag"]}
        for n, chunk in ((1, data[:cut]), (2, data[cut:]))
    ]
    client.complete_multipart_upload(
        Bucket=s3_bucket, Key=job.storage_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )

    discover_and_run(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.s3_etag.endswith("-2")
    assert (job.state, job.imported) == ("succeeded", 1)
    assert len(profile_of(project, "u1")["note"]) == len(data) - 17


def test_body_of_another_file_than_declared_is_never_imported(
    start, project, registered, django_capture_on_commit_callbacks
):
    """Same size, other bytes, PUT with that file's own Content-MD5: S3 would refuse the signature;
    moto stores it, and the job refuses it."""
    other = CSV.replace(b"foo", b"BAD")
    put(start(), other, {"Content-Type": "text/csv", "Content-MD5": md5_base64(other)})

    discover_and_run(django_capture_on_commit_callbacks)

    job = only_job(project)
    assert job.state == "failed"
    assert job.failure_message == direct_uploads.MESSAGE_CHECKSUM_MISMATCH
    assert (job.rows_read, job.imported) == (0, 0)
    assert profile_of(project, "u1") == {} and not ProfileKey.objects.exists()
    (email,) = mail.outbox
    assert "checksum" in email.body


def test_body_of_another_size_than_declared_is_never_imported(
    start, project, registered, django_capture_on_commit_callbacks
):
    put(start(), CSV + b"u1,,,999\n")
    discover_and_run(django_capture_on_commit_callbacks)
    job = only_job(project)
    assert (job.state, job.imported) == ("failed", 0)
    assert job.failure_message == (
        f"the uploaded file has {len(CSV) + 9} bytes but the API v3 request declared {len(CSV)}, so it was not imported"
    )
    assert profile_of(project, "u1") == {}


def test_upload_after_the_url_expired_is_never_imported(
    start, project, registered, django_capture_on_commit_callbacks
):
    direct_upload = start()
    job = only_job(project)
    # The URL was issued 6 minutes ago: expired for 1 minute, and the grace is over too.
    issued = timezone.now() - timedelta(minutes=6)
    upload = job.direct_upload
    upload.expires_at = issued + timedelta(seconds=direct_uploads.URL_SECONDS)
    upload.accept_until = (
        issued + timedelta(seconds=direct_uploads.URL_SECONDS + direct_uploads.ACCEPT_GRACE_SECONDS) - timedelta(seconds=1)
    )
    upload.save(update_fields=["expires_at", "accept_until"])
    assert put(direct_upload, CSV).status == 200  # moto does not check X-Amz-Expires

    discover_and_run(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert (job.state, job.imported, job.failure_message) == ("failed", 0, direct_uploads.MESSAGE_UPLOAD_LATE)
    assert profile_of(project, "u1") == {}


def test_job_whose_upload_never_comes_fails_once_the_url_and_grace_are_over(
    start, project, django_capture_on_commit_callbacks
):
    start()
    job = only_job(project)
    assert discover_and_run(django_capture_on_commit_callbacks) == []
    job.refresh_from_db()
    assert job.state == "awaiting_upload"  # the URL is still valid

    job.direct_upload.accept_until = timezone.now() - timedelta(seconds=1)
    job.direct_upload.save(update_fields=["accept_until"])
    discover_and_run(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert (job.state, job.failure_message) == ("failed", direct_uploads.MESSAGE_UPLOAD_MISSING)
    (email,) = mail.outbox
    assert "before it expired" in email.body


def test_without_s3_a_bad_body_is_still_the_seeds_400(api, project):
    reply = api(PATH, json.dumps({"checksum": CHECKSUM}).encode(), content_type="application/json")
    assert reply.status == 400
    assert reply.json() == {"error": {"messages": ["param is missing or the value is empty: byte_size"]}}
    assert not ImportJob.objects.exists()


CHECKSUM = "J1h240z2CdsRjz2Et5mnkA=="


@pytest.mark.parametrize(
    "body",
    [
        {"checksum": CHECKSUM},
        {"checksum": CHECKSUM, "byte_size": ""},
        {"checksum": CHECKSUM, "byte_size": None},
        {},
        [],
        "123",
    ],
)
def test_missing_byte_size_is_the_seeds_400(api, s3_bucket, body):
    reply = api(PATH, json.dumps(body).encode(), content_type="application/json")
    assert (reply.status, reply.body) == (
        400,
        b'{"error":{"messages":["param is missing or the value is empty: byte_size"]}}',
    )


@pytest.mark.parametrize(
    "checksum",
    [None, "", "J1h240z2CdsRjz2Et5mnkA=", "J1h240z2CdsRjz2Et5mnkB==", "J1h240z2CdsRjz2Et5mnk===", "x" * 24,
     "J1h240z2CdsRjz2Et5mnkA==\n", "J1h240z2CdsRjz2Et5mnkJ1h240z2CdsRjz2Et5mnkA==", 123, ["a"], "Jh240z2CdsRjz2Et5mnkA=="],
)
def test_checksum_that_is_not_base64_of_16_bytes_is_the_seeds_400(api, s3_bucket, checksum):
    reply = api(PATH, json.dumps({"checksum": checksum, "byte_size": "123456"}).encode(), content_type="application/json")
    assert (reply.status, reply.body) == (400, b'{"error":{"messages":["Validation failed: Checksum is invalid"]}}')


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"byte_size": "12a"}, "Validation failed: Byte size is not a number"),
        ({"byte_size": True}, "Validation failed: Byte size is not a number"),
        ({"byte_size": 1.5}, "Validation failed: Byte size must be an integer"),
        ({"byte_size": 0}, "Validation failed: Byte size must be greater than 0"),
        ({"byte_size": "-5"}, "Validation failed: Byte size must be greater than 0"),
        ({"byte_size": 1024**3 + 1}, "Validation failed: Byte size must be less than or equal to 1073741824"),
        ({"byte_size": "9" * 5000}, "Validation failed: Byte size must be less than or equal to 1073741824"),
        (
            {"byte_size": 100 * 1024**2 + 1, "content_type": "application/gzip"},
            "Validation failed: Byte size must be less than or equal to 104857600",
        ),
        ({"byte_size": 10, "content_type": "application/json"}, "Validation failed: Content type is not included in the list"),
        ({"byte_size": 10, "content_type": ["text/csv"]}, "Validation failed: Content type is not included in the list"),
        (
            {"byte_size": "0", "checksum": "nope"},
            "Validation failed: Checksum is invalid, Byte size must be greater than 0",
        ),
    ],
)
def test_other_invalid_parameters_are_named_in_one_validation_message(api, s3_bucket, fields, message):
    body = json.dumps({"checksum": CHECKSUM, **fields}).encode()
    reply = api(PATH, body, content_type="application/json")
    assert (reply.status, reply.json()) == (400, {"error": {"messages": [message]}})
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("byte_size", [123456, "123456", "0123456"])
def test_byte_size_is_a_number_or_a_string_of_digits(api, s3_bucket, project, byte_size):
    body = json.dumps({"checksum": CHECKSUM, "byte_size": byte_size}).encode()
    assert api(PATH, body, content_type="application/json").status == 200
    assert only_job(project).byte_size == 123456


def test_largest_declared_sizes_are_accepted(api, s3_bucket):
    for size, content_type in ((1024**3, "text/csv"), (100 * 1024**2, "application/gzip")):
        body = json.dumps({"checksum": CHECKSUM, "byte_size": size, "content_type": content_type}).encode()
        assert api(PATH, body, content_type="application/json").status == 200


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[" * 10_000, b'{"byte_size": 1' + b"0" * 5000 + b"}"])
def test_a_body_that_is_not_json_is_a_400(api, s3_bucket, body):
    reply = api(PATH, body, content_type="application/json")
    assert (reply.status, reply.body) == (400, b'{"error":{"messages":["request body is not valid JSON"]}}')


def test_an_oversized_json_body_is_refused_without_reading_it(api, s3_bucket):
    reply = api(PATH, b" " * (v3.MAX_REQUEST_BYTES + 1), content_type="application/json")
    assert (reply.status, reply.body) == (413, b'{"error":{"messages":["client intended to send too large body"]}}')


def test_upload_failure_messages_are_translated_to_japanese():
    with translation.override("ja"):
        untranslated = [message for message in direct_uploads.MESSAGES if translation.gettext(message) == message]
    assert untranslated == []
