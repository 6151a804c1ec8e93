"""Uploading on the Data Import pages: the job is stored and run, oversize files are refused by the server."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from imports.models import ImportJob

EVENTS = b"user_id,event_name,event_properties\nu1,signup,\n,signup,\n"


@pytest.fixture
def events_url(project):
    return reverse("dashboard:events_import", args=[project.app_id])


def csv_file(content=EVENTS, name="events.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_upload_runs_the_import_and_opens_its_page(
    alice_client, alice, project, events_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(events_url, {"file": csv_file()}, follow=True)
    job = ImportJob.objects.get()
    assert response.redirect_chain == [(reverse("dashboard:job_detail", args=[project.app_id, job.pk]), 302)]
    assert (job.kind, job.source, job.created_by, job.dry_run) == ("events", "dashboard", alice, False)
    assert default_storage.open(job.storage_key).read() == EVENTS
    # Q_SYNC runs the task inline, so the job is already final here.
    assert (job.state, job.imported, job.failed) == ("succeeded_with_errors", 1, 1)
    assert "“events.csv” was uploaded and processing has started." in response.content.decode()
    page = alice_client.get(response.redirect_chain[0][0]).content.decode()
    assert "&#x27;user_id&#x27; is invalid" in page


def test_script_upload_gets_json_with_where_to_go(alice_client, project, events_url):
    response = alice_client.post(events_url, {"file": csv_file()}, HTTP_ACCEPT="application/json")
    job = ImportJob.objects.get()
    assert response.json() == {"redirect": reverse("dashboard:job_detail", args=[project.app_id, job.pk])}


def test_validate_only_makes_a_dry_run(alice_client, project):
    url = reverse("dashboard:profiles_import", args=[project.app_id])
    alice_client.post(url, {"file": csv_file(b"user_id,plan\nu1,gold\n", "p.csv"), "validate_only": "on"})
    job = ImportJob.objects.get()
    assert (job.kind, job.dry_run) == ("user_profiles", True)


def test_missing_file_is_explained(alice_client, events_url):
    response = alice_client.post(events_url, {}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json() == {"errors": ["Choose a file to upload."]}
    page = alice_client.post(events_url, {})
    assert page.status_code == 400 and "Choose a file to upload." in page.content.decode()


def test_file_over_the_limit_is_refused_while_it_is_read(alice_client, events_url, settings):
    # The request is within the limit plus multipart overhead, so the upload handler must catch it.
    settings.DASHBOARD_UPLOAD_MAX_BYTES = 100
    response = alice_client.post(events_url, {"file": csv_file(EVENTS * 10)}, HTTP_ACCEPT="application/json")
    assert response.status_code == 413
    assert "files uploaded here can be at most 100\xa0bytes" in response.json()["errors"][0]
    assert not ImportJob.objects.exists()


def test_request_over_the_limit_is_refused_before_it_is_read(alice_client, events_url, settings):
    settings.DASHBOARD_UPLOAD_MAX_BYTES = 100
    response = alice_client.post(events_url, {"file": csv_file(b"x" * 200_000)})
    assert response.status_code == 413
    assert "Split it into smaller files, or upload it through Amazon S3." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_file_at_the_limit_is_accepted(alice_client, events_url, settings):
    settings.DASHBOARD_UPLOAD_MAX_BYTES = len(EVENTS)
    alice_client.post(events_url, {"file": csv_file()})
    assert ImportJob.objects.get().byte_size == len(EVENTS)


def test_upload_needs_the_csrf_token(alice, events_url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(events_url, {"file": csv_file()}).status_code == 403
    assert not ImportJob.objects.exists()


def test_upload_page_tells_the_browser_the_limit(alice_client, events_url):
    html = alice_client.get(events_url).content.decode()
    assert f'data-max-bytes="{150 * 1024 * 1024}"' in html
    assert "up to 150\xa0MB." in html
    assert "This file is {size}, but files uploaded here can be at most 150\xa0MB." in html


def test_empty_file_is_refused_with_what_to_do(alice_client, events_url):
    response = alice_client.post(events_url, {"file": csv_file(b"")}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "errors": ["This file is empty. Choose a CSV file with a header line and at least one row."]
    }
