"""API v3 on the embedded default (no S3): the server's own pre-signed PUT URL, over real HTTP.
What moto cannot prove for S3 is proven here for the server's URL: the signature, the expiry, the
signed headers and length, the body's MD5, and a single use; a refused PUT stores and imports
nothing. Then following an import: the job headers, the job's state by token, names in the history."""

import base64
import hashlib
from http.client import HTTPConnection
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from clients import bulk_import
from imports import direct_uploads, embedded_uploads, tasks
from imports.models import DirectUpload, ImportJob
from tests.api.conftest import http, profile_of

PATH = "/v3/user_profiles/bulk_import"
CSV = b"user_id,plan,point\nu1,gold,10\nu2,silver,20\n"


def md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.fixture
def start(api, registered):
    """The first request for ``data``; returns (reply, direct_upload, job)."""

    def first_request(data: bytes = CSV, **fields):
        body = json.dumps({"checksum": md5_base64(data), "byte_size": len(data), **fields}).encode()
        reply = api(PATH, body, content_type="application/json")
        assert reply.status == 200, reply.body
        job = ImportJob.objects.get(pk=int(reply.headers["X-Repro-Job-Id"]))
        return reply, reply.json()["direct_upload"], job

    return first_request


def put(direct_upload, body=CSV, headers=None, url=None):
    return http(url or direct_upload["url"], "PUT", body, headers or direct_upload["headers"])


def s3_error(reply) -> tuple[int, str, str]:
    assert reply.headers["Content-Type"] == "application/xml"
    text = reply.body.decode()
    return reply.status, re.search("<Code>(.*)</Code>", text).group(1), re.search("<Message>(.*)</Message>", text).group(1)


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return parts._replace(query=urlencode({**query, **changes})).geturl()


def untouched(job: ImportJob, project) -> bool:
    """Still waiting for its file, nothing stored under its key, nobody's profile changed."""
    job.refresh_from_db()
    from django.core.files.storage import default_storage

    return (
        job.state == "awaiting_upload"
        and not default_storage.exists(job.storage_key)
        and profile_of(project, "u1") == {}
    )


def test_the_server_gives_its_own_url_and_the_put_is_imported(start, live_server, project):
    reply, direct_upload, job = start()
    url = urlsplit(direct_upload["url"])
    assert f"{url.scheme}://{url.netloc}" == live_server.url
    assert url.path == f"/v3/direct_uploads/{job.pk}"
    assert set(parse_qs(url.query)) == {"expires", "signature"}
    assert direct_upload["headers"] == {"Content-Type": "text/csv", "Content-MD5": md5_base64(CSV)}
    assert list(reply.json()) == ["direct_upload"]  # SPEC's body, unchanged
    assert reply.headers["Location"] == f"{live_server.url}/p/{project.app_id}/jobs/{job.pk}/"
    assert (job.state, job.file_name) == ("awaiting_upload", f"api-v3-job-{job.pk}.csv")

    answer = put(direct_upload)
    assert (answer.status, answer.headers["ETag"]) == (200, f'"{hashlib.md5(CSV).hexdigest()}"')
    job.refresh_from_db()  # Q_SYNC: the import ran inside the PUT
    assert (job.state, job.imported, job.failed) == ("succeeded", 2, 0)
    assert profile_of(project, "u2") == {"plan": "silver", "point": 20}
    assert len(mail.outbox) == 1


def test_a_signature_that_does_not_match_is_refused(start, project):
    _, direct_upload, job = start()
    signature = parse_qs(urlsplit(direct_upload["url"]).query)["signature"][0]
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert s3_error(put(direct_upload, url=with_query(direct_upload["url"], signature=forged)))[:2] == (
        403, "SignatureDoesNotMatch")
    # A later expiry is not signed either.
    later = int(parse_qs(urlsplit(direct_upload["url"]).query)["expires"][0]) + 3600
    assert s3_error(put(direct_upload, url=with_query(direct_upload["url"], expires=later)))[1] == "SignatureDoesNotMatch"
    # Nor is another job's URL with this signature.
    other = direct_upload["url"].replace(f"/direct_uploads/{job.pk}?", f"/direct_uploads/{job.pk + 1}?")
    assert s3_error(put(direct_upload, url=other))[1] == "SignatureDoesNotMatch"
    assert untouched(job, project)


def test_an_expired_url_is_refused(start, project, monkeypatch):
    _, direct_upload, job = start()
    expires = int(parse_qs(urlsplit(direct_upload["url"]).query)["expires"][0])
    assert expires - embedded_uploads.clock() == pytest.approx(direct_uploads.URL_SECONDS, abs=2)
    monkeypatch.setattr(embedded_uploads, "clock", lambda: expires + 1)
    assert s3_error(put(direct_upload)) == (403, "AccessDenied", "Request has expired")
    assert untouched(job, project)


def test_other_headers_than_the_signed_ones_are_refused(start, project):
    _, direct_upload, job = start()
    other_md5 = {**direct_upload["headers"], "Content-MD5": md5_base64(b"something else")}
    assert s3_error(put(direct_upload, headers=other_md5))[:2] == (403, "SignatureDoesNotMatch")
    gzip_type = {**direct_upload["headers"], "Content-Type": "application/gzip"}
    assert s3_error(put(direct_upload, headers=gzip_type))[:2] == (403, "SignatureDoesNotMatch")
    assert untouched(job, project)


def test_a_body_whose_md5_is_not_the_declared_one_is_refused(start, project):
    _, direct_upload, job = start()
    same_size = CSV.replace(b"gold", b"GOLD")
    assert s3_error(put(direct_upload, same_size)) == (
        400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    assert untouched(job, project)


def test_a_body_of_another_size_is_refused(start, project, live_server):
    _, direct_upload, job = start()
    assert s3_error(put(direct_upload, CSV + b"u3,gold,1\n"))[:2] == (403, "SignatureDoesNotMatch")
    # The declared length, but the connection ends early.
    url = urlsplit(direct_upload["url"])
    connection = HTTPConnection(url.hostname, url.port, timeout=30)
    connection.putrequest("PUT", f"{url.path}?{url.query}")
    for name, value in {**direct_upload["headers"], "Content-Length": str(len(CSV))}.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(CSV[:10])
    connection.sock.shutdown(1)  # no more to send
    response = connection.getresponse()
    assert response.status == 400 and b"<Code>IncompleteBody</Code>" in response.read()
    connection.close()
    assert untouched(job, project)


def test_a_second_put_is_refused_and_nothing_is_imported_twice(start, project):
    _, direct_upload, job = start()
    assert put(direct_upload).status == 200
    assert s3_error(put(direct_upload))[:2] == (403, "AccessDenied")
    job.refresh_from_db()
    assert (job.state, job.imported) == ("succeeded", 2)
    assert ImportJob.objects.count() == 1


def test_only_put_is_allowed_on_the_upload_url(start):
    _, direct_upload, _ = start()
    reply = http(direct_upload["url"], "GET", None)
    assert s3_error(reply)[:2] == (405, "MethodNotAllowed") and reply.headers["Allow"] == "PUT"


def test_an_upload_that_never_comes_fails_its_job_at_the_watchdog(start, project):
    _, _, job = start()
    assert tasks.import_jobs_resume_stalled() == 0  # not expired yet
    DirectUpload.objects.filter(job=job).update(accept_until=timezone.now() - timedelta(seconds=1))
    assert tasks.import_jobs_resume_stalled() == 1
    job.refresh_from_db()
    assert (job.state, job.failure_message) == ("failed", direct_uploads.MESSAGE_UPLOAD_MISSING)
    assert "before it expired" in mail.outbox[0].body


def test_the_client_file_name_names_the_job(start):
    _, _, job = start(file_name="C:\\exports\\crm profiles.csv")
    assert job.file_name == "crm profiles.csv"


# --- Following an import ---------------------------------------------------------------------


def test_v2_names_its_job_in_headers_and_by_the_sent_file_name(api, project, registered, live_server):
    reply = api("/v2/user_profiles/bulk_import", CSV, content_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="nightly/crm.csv"'})
    assert reply.status == 202
    job = ImportJob.objects.get(pk=int(reply.headers["X-Repro-Job-Id"]))
    assert reply.headers["Location"] == f"{live_server.url}/p/{project.app_id}/jobs/{job.pk}/"
    assert job.file_name == "crm.csv"
    unnamed = api("/v2/user_profiles/bulk_import", CSV, content_type="text/csv")
    assert ImportJob.objects.get(pk=int(unnamed.headers["X-Repro-Job-Id"])).file_name == (
        f"api-v2-job-{unnamed.headers['X-Repro-Job-Id']}.csv")


def test_the_jobs_state_and_counts_by_token(api, start, project, make_project, live_server):
    one_bad_row = CSV.replace(b"u2,", b"nobody,")
    _, direct_upload, job = start(one_bad_row)
    path = f"/v3/import_jobs/{job.pk}"
    waiting = api(path, None, method="GET")
    assert waiting.status == 200 and "X-RateLimit-Remaining" not in waiting.headers  # not counted
    assert waiting.json()["import_job"]["state"] == "awaiting_upload"
    assert waiting.json()["import_job"]["final"] is False
    assert put(direct_upload, one_bad_row).status == 200
    done = api(path, None, method="GET").json()["import_job"]
    assert {k: done[k] for k in ("id", "state", "final", "rows", "imported", "failed", "file_name")} == {
        "id": job.pk, "state": "succeeded_with_errors", "final": True, "rows": 2, "imported": 1, "failed": 1,
        "file_name": f"api-v3-job-{job.pk}.csv",
    }
    assert done["url"] == f"{live_server.url}/p/{project.app_id}/jobs/{job.pk}/"
    assert done["error_csv_url"] == f"{live_server.url}/p/{project.app_id}/jobs/{job.pk}/errors.csv"
    # Only the token's own project, and only with a token.
    other = make_project("Other")
    foreign = ImportJob.objects.create(project=other, kind="events", source="dashboard", file_name="x.csv")
    assert api(f"/v3/import_jobs/{foreign.pk}", None, method="GET").json() == {
        "status": "not_found", "error": {"messages": ["Not found."]}}
    assert api(path, None, method="GET", token=None).status == 401
    assert api("/v3/import_jobs/99999999999999999999", None, method="GET").status == 404


def test_a_request_the_server_fails_does_not_use_up_the_limit(api, registered, settings, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("files cannot be stored under a file")
    settings.MEDIA_ROOT = blocked
    reply = api("/v2/user_profiles/bulk_import", CSV, content_type="text/csv")
    assert reply.status == 503
    assert reply.json()["error"]["messages"] == [
        "The server could not handle this request; it was not counted against the rate limit. Please try again later."]
    assert reply.headers["X-RateLimit-Remaining"] == "10"
    assert api(PATH, b"{}", content_type="application/json").headers["X-RateLimit-Remaining"] == "9"


def test_client_waits_for_the_import_and_prints_its_counts(live_server, token, project, registered, tmp_path, capsys):
    path = tmp_path / "crm.csv"
    path.write_bytes(CSV)
    assert bulk_import.main([str(path), "--url", live_server.url, "--token", token, "--wait", "--poll", "0.1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    job = ImportJob.objects.get(project=project)
    assert {k: printed[k] for k in ("job", "state", "rows", "imported", "failed")} == {
        "job": job.pk, "state": "succeeded", "rows": 2, "imported": 2, "failed": 0}
    assert job.file_name == "crm.csv"


def test_client_exits_1_when_the_import_fails(live_server, token, project, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,plan\n1,gold\n")
    assert bulk_import.main([str(path), "--url", live_server.url, "--token", token, "--wait", "--poll", "0.1"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert (printed["state"], printed["failure_message"]) == ("failed", "user_id column is required")
