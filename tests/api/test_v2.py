"""API v2 (deprecated, SPEC 6): 202 with the key types at once, then the import; every 400, 413
and 415 body of the seed."""

import gzip

import pytest
from django.core.handlers.wsgi import WSGIRequest

from imports import s3
from imports.api import v2
from imports.models import ImportJob, ProfileKey
from tests.api.conftest import profile_of

PATH = "/v2/user_profiles/bulk_import"
CSV = b"user_id,birthday,name,point\nu1,2000-01-01T00:00:00+09:00,foo,123\nu2,2001-02-01T00:00:00+09:00,bar,234\n"


def coded(message: str) -> dict:
    return {"error": {"code": 2001, "messages": [message]}}


def test_csv_body_is_answered_with_its_types_and_imported(api, project, registered):
    reply = api(PATH, CSV, content_type="text/csv")

    assert reply.status == 202
    assert reply.body == (
        b'{"user_profile":{"birthday":{"type":"datetime"},"name":{"type":"string"},"point":{"type":"int"}}}'
    )
    assert (reply.headers["X-RateLimit-Limit"], reply.headers["X-RateLimit-Remaining"]) == ("10", "9")
    job = ImportJob.objects.get(project=project)
    assert (job.kind, job.source, job.state, job.imported) == ("user_profiles", "api_v2", "succeeded", 2)
    assert job.byte_size == len(CSV) and job.file_name.startswith("api-v2-") and job.file_name.endswith(".csv")
    assert job.started_by.startswith("API v2 (token ")
    assert profile_of(project, "u2") == {"birthday": "2001-02-01T00:00:00+09:00", "name": "bar", "point": 234}


def test_existing_keys_keep_their_type_and_keys_turned_off_are_not_listed(api, project, registered):
    ProfileKey.objects.create(project=project, name="point", type="string")
    ProfileKey.objects.create(project=project, name="name", type="string", enabled=False)
    reply = api(PATH, CSV, content_type="text/csv; charset=utf-8")
    assert reply.json() == {"user_profile": {"birthday": {"type": "datetime"}, "point": {"type": "string"}}}


def test_gzip_body_is_imported(api, project, registered):
    reply = api(PATH, gzip.compress(CSV), content_type="application/gzip")
    assert reply.status == 202
    job = ImportJob.objects.get(project=project)
    assert (job.state, job.imported) == ("succeeded", 2)
    assert job.file_name.endswith(".csv.gz")


def test_gzip_sent_as_text_csv_is_recognised_by_its_magic_bytes(api, project, registered):
    assert api(PATH, gzip.compress(CSV), content_type="text/csv").status == 202


def test_body_declared_gzip_that_is_not_gzip_is_refused(api, project):
    reply = api(PATH, CSV, content_type="application/gzip")
    assert (reply.status, reply.body) == (400, b'{"error":{"messages":["not in gzip format"]}}')
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-8] + b"\x00" * 8,  # wrong CRC and length
        lambda data: data[:20] + bytes(b ^ 0xFF for b in data[20:40]) + data[40:],  # flipped bits
    ],
)
def test_corrupt_gzip_is_refused(api, project, damage):
    rows = b"".join(b"u%d,x%d\n" % (n, n) for n in range(5000))  # corrupt past the rows read for types
    data = damage(gzip.compress(b"user_id,plan\n" + rows))
    reply = api(PATH, data, content_type="application/gzip")
    assert (reply.status, reply.body) == (400, b'{"error":{"messages":["file maybe corrupt"]}}')
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"", "empty file", id="empty"),
        pytest.param(b"user_id,name", "newline character not found", id="no-newline"),
        pytest.param(b"name,point\nfoo,1\n", "user_id column is required", id="no-user_id"),
        pytest.param(b"user_id,,point\n", "empty columns", id="empty-column"),
        pytest.param(b"user_id,a,b,a,b\n", "duplicate columns a, b", id="duplicates"),
        pytest.param(b"user_id,n\xffame\n", "n\ufffdame should be UTF-8", id="not-utf8"),
        pytest.param(b"user_id," + b"k" * 102_400 + b"\n", "header size over 102400 bytes", id="header-too-large"),
        pytest.param(b'user_id,name\nu1,"unclosed\n', "unterminated quoted field starting on line 2", id="quote"),
    ],
)
def test_file_format_errors_have_code_2001(api, project, body, message):
    reply = api(PATH, body, content_type="text/csv")
    assert (reply.status, reply.json()) == (400, coded(message))
    assert reply.body.startswith(b'{"error":{"code":2001,"messages":[')
    assert not ImportJob.objects.exists()


def test_going_over_the_profile_key_limit_is_refused(api, project):
    project.max_enabled_profile_keys = 2
    project.save()
    reply = api(PATH, CSV, content_type="text/csv")
    assert (reply.status, reply.body) == (
        400,
        b'{"error":{"messages":["This app has exceeded the limit of enabled user profile(2)"]}}',
    )
    assert not ProfileKey.objects.exists()


def test_body_over_the_limit_is_refused_by_its_content_length(api, project, monkeypatch):
    monkeypatch.setattr(v2, "MAX_BYTES", 1000)
    reply = api(PATH, b"user_id\n" + b"u\n" * 600, content_type="text/csv")
    assert (reply.status, reply.body) == (413, b'{"error":{"messages":["client intended to send too large body"]}}')
    assert reply.headers["X-RateLimit-Remaining"] == "9"
    assert api(PATH, b"user_id\n" + b"u\n" * 400, content_type="text/csv").status == 202


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_other_content_types_get_415(api, project, content_type):
    reply = api(PATH, CSV, content_type=content_type)
    assert (reply.status, reply.body) == (415, b'{"error": "415 Unsupported Media Type"}')
    assert not ImportJob.objects.exists()


def test_body_is_streamed_not_read_whole(api, project, monkeypatch):
    """Copied to a temporary file in blocks: request.body (the whole body in memory) is never used."""
    monkeypatch.setattr(WSGIRequest, "body", property(lambda request: pytest.fail("request.body was read")))
    rows = b"".join(b"u%d,%s\n" % (n, b"x" * 40) for n in range(4_000))  # 200 KB: several blocks
    reply = api(PATH, b"user_id,note\n" + rows, content_type="text/csv")
    assert (reply.status, reply.json()) == (202, {"user_profile": {"note": {"type": "string"}}})
    assert ImportJob.objects.get().byte_size == len(rows) + 13


def test_with_s3_the_body_is_stored_in_the_bucket_and_imported_from_it(api, project, registered, s3_bucket):
    assert api(PATH, CSV, content_type="text/csv").status == 202
    job = ImportJob.objects.get(project=project)
    assert job.storage_key.startswith(f"uploads/{project.app_id}/user_profiles/")
    assert s3.client("s3").head_object(Bucket=s3_bucket, Key=job.storage_key)["ContentLength"] == len(CSV)
    assert (job.state, job.imported) == ("succeeded", 2)
