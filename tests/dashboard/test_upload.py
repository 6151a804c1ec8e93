"""Uploading on the Data Import pages: the job is stored and run, oversize files are refused by the server."""

import gzip

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


PROFILES = b"user_id,age\nu1,30\n"


def upload_refused(client, url, content, name="f.csv"):
    response = client.post(url, {"file": csv_file(content, name)}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert not ImportJob.objects.exists()
    (message,) = response.json()["errors"]
    return message


def test_profiles_file_on_the_events_page_is_refused_before_it_is_queued(alice_client, events_url):
    message = upload_refused(alice_client, events_url, PROFILES, "profiles.csv")
    assert message == (
        "“profiles.csv” looks like a user profiles file: its header is user_id,age. Upload it on "
        "User Profiles › Data Import. An events file has the header user_id,event_name,event_properties."
    )


def test_gzipped_file_of_neither_kind_on_the_events_page_is_refused(alice_client, events_url):
    message = upload_refused(alice_client, events_url, gzip.compress(b"name,email\na,b\n"), "x.csv.gz")
    assert message == (
        "“x.csv.gz” is not an events file: its header is name,email, but an events file has the header "
        "user_id,event_name,event_properties."
    )


def test_events_file_on_the_profiles_page_is_refused(alice_client, project):
    url = reverse("dashboard:profiles_import", args=[project.app_id])
    message = upload_refused(alice_client, url, EVENTS, "events.csv")
    assert message.startswith("“events.csv” is an events file (its header is user_id,event_name,event_properties).")
    assert "e.g. user_id,plan,points" in message


def test_file_without_user_id_on_the_profiles_page_is_refused(alice_client, project):
    url = reverse("dashboard:profiles_import", args=[project.app_id])
    message = upload_refused(alice_client, url, b"id,plan\n1,gold\n")
    assert "its header id,plan has no user_id column" in message


def test_refusal_is_shown_on_the_page_without_javascript(alice_client, events_url):
    page = alice_client.post(events_url, {"file": csv_file(PROFILES, "profiles.csv")})
    assert page.status_code == 400
    assert "looks like a user profiles file" in page.content.decode()


def test_big_file_spooled_to_disk_is_checked_and_stored_whole(alice_client, events_url, settings):
    content = EVENTS + b"u2,signup,\n" * 300_000  # over FILE_UPLOAD_MAX_MEMORY_SIZE
    alice_client.post(events_url, {"file": csv_file(content)})
    assert default_storage.open(ImportJob.objects.get().storage_key).read() == content


def test_an_error_csv_goes_back_on_its_own_page(alice_client, project, events_url):
    """The REPRO_ERRORS column of an error CSV says nothing of the kind."""
    alice_client.post(events_url, {"file": csv_file(b"user_id,event_name,event_properties,REPRO_ERRORS\nu1,a,,x\n")})
    profiles = reverse("dashboard:profiles_import", args=[project.app_id])
    alice_client.post(profiles, {"file": csv_file(b"REPRO_ERRORS,user_id,plan\nx,u1,gold\n")})
    assert ImportJob.objects.count() == 2


def test_a_header_the_job_must_judge_is_not_refused_here(alice_client, events_url, django_capture_on_commit_callbacks):
    """An empty file or duplicate columns fail the job with SPEC's message, as from any source."""
    content = b"user_id,event_name,event_name,event_properties\nu1,a,a,\n"
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(events_url, {"file": csv_file(content)})
    assert ImportJob.objects.get().failure_message == "duplicate columns event_name"


@pytest.mark.parametrize("name,kind", [("events_template", "events"), ("profiles_template", "user_profiles")])
def test_template_csv_downloads_and_is_accepted_on_its_page(alice_client, project, name, kind):
    response = alice_client.get(reverse(f"dashboard:{name}", args=[project.app_id]))
    assert response["Content-Disposition"].startswith("attachment; filename=")
    page = reverse("dashboard:events_import" if kind == "events" else "dashboard:profiles_import", args=[project.app_id])
    assert response.content.decode().splitlines()[0] in alice_client.get(page).content.decode()
    alice_client.post(page, {"file": csv_file(response.content, "template.csv")})
    assert ImportJob.objects.get().kind == kind
