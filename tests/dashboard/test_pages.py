"""Every dashboard page: members see it, other tenants get 404, logged-out users go to login."""

import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from imports.credentials import api_token_digest
from imports.models import ApiToken, EventDefinition, ImportJob, ProfileKey
from tests.support import database_text

PROJECT_PAGES = [
    "events_import", "event_settings", "profiles_import", "profile_settings", "credentials", "notifications", "webhooks"
]


@pytest.fixture
def job_with_errors(project):
    key = default_storage.save("errors/test.csv", ContentFile(b"user_id,event_name,event_properties,REPRO_ERRORS\n"))
    return ImportJob.objects.create(
        project=project, kind="events", source="dashboard", file_name="e.csv", error_csv_key=key
    )


def project_urls(project, job):
    urls = [reverse(f"dashboard:{name}", args=[project.app_id]) for name in PROJECT_PAGES]
    urls += [reverse("dashboard:job_detail", args=[project.app_id, job.pk])]
    urls += [reverse("dashboard:job_error_csv", args=[project.app_id, job.pk])]
    urls += [reverse("dashboard:jobs_live", args=[project.app_id]) + f"?ids={job.pk}"]
    return urls


def project_post_urls(project, job):
    """Every form target of a project page, with an object of that project."""
    event = EventDefinition.objects.create(project=project, name="signup", display_name="signup")
    key = ProfileKey.objects.create(project=project, name="plan", type="string")
    return [
        reverse("dashboard:events_import", args=[project.app_id]),
        reverse("dashboard:profiles_import", args=[project.app_id]),
        reverse("dashboard:event_definition_update", args=[project.app_id, event.pk]),
        reverse("dashboard:profile_key_update", args=[project.app_id, key.pk]),
        reverse("dashboard:job_import_dry_run", args=[project.app_id, job.pk]),
        reverse("dashboard:notifications", args=[project.app_id]),
    ]


def test_member_sees_every_page(alice_client, project, job_with_errors):
    for url in project_urls(project, job_with_errors):
        response = alice_client.get(url)
        assert response.status_code == 200, url


def test_member_of_another_project_gets_404_everywhere(client, project, job_with_errors, make_project, make_user):
    mallory = make_user("mallory")
    make_project("Other", owner=mallory)
    client.force_login(mallory)
    for url in project_urls(project, job_with_errors):
        assert client.get(url).status_code == 404, url
    # Even with her own project's app ID, another project's job id is not found.
    own = mallory.projects.get()
    assert client.get(reverse("dashboard:job_detail", args=[own.app_id, job_with_errors.pk])).status_code == 404
    assert client.get(reverse("dashboard:job_error_csv", args=[own.app_id, job_with_errors.pk])).status_code == 404


def test_member_of_another_project_cannot_post_to_its_forms(client, project, job_with_errors, make_project, make_user):
    mallory = make_user("mallory")
    make_project("Other", owner=mallory)
    client.force_login(mallory)
    for url in project_post_urls(project, job_with_errors):
        assert client.post(url, {"enabled": "off", "display_name": "x"}).status_code == 404, url
    assert EventDefinition.objects.get(project=project).enabled is True
    assert EventDefinition.objects.get(project=project).display_name == "signup"


def test_another_projects_objects_are_not_found_through_ones_own_project(
    client, project, job_with_errors, make_project, make_user
):
    mallory = make_user("mallory")
    own = make_project("Other", owner=mallory)
    client.force_login(mallory)
    theirs = project_post_urls(project, job_with_errors)
    for url in theirs[2:5]:
        assert client.post(url.replace(project.app_id, own.app_id), {"enabled": "off"}).status_code == 404, url
    live = client.get(reverse("dashboard:jobs_live", args=[own.app_id]) + f"?ids={job_with_errors.pk}")
    assert live.json() == {"jobs": []}


def test_logged_out_user_is_sent_to_login(client, project, job_with_errors):
    for url in project_urls(project, job_with_errors):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
    for url in project_post_urls(project, job_with_errors):
        response = client.post(url, {"enabled": "off"})
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
    assert not ImportJob.objects.exclude(pk=job_with_errors.pk).exists()


def test_error_csv_download_is_the_stored_file(alice_client, project, job_with_errors):
    response = alice_client.get(reverse("dashboard:job_error_csv", args=[project.app_id, job_with_errors.pk]))
    assert b"".join(response.streaming_content) == b"user_id,event_name,event_properties,REPRO_ERRORS\n"
    assert response["Content-Disposition"].startswith("attachment")


def test_new_token_is_in_the_post_answer_only_then_masked(alice_client, project):
    response = alice_client.post(reverse("dashboard:api_token_reissue", args=[project.app_id]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token_html = response.content.decode()
    assert "The project&#x27;s API token was issued." in token_html  # the first one: there is no previous token
    shown = re.search(r'<code class="secret" id="new-api-token">([^<]+)</code>', token_html).group(1)
    assert ApiToken.objects.get(project=project).token_hash == api_token_digest(shown)
    assert shown not in database_text()  # not in the session, not in any table
    again = alice_client.get(reverse("dashboard:credentials", args=[project.app_id]))
    assert "no-store" in again["Cache-Control"]
    assert shown not in again.content.decode()
    assert shown[:8] + "••" in again.content.decode()


def test_reissue_needs_post(alice_client, project):
    assert alice_client.get(reverse("dashboard:api_token_reissue", args=[project.app_id])).status_code == 405


def test_notifications_switch(alice_client, project, alice):
    url = reverse("dashboard:notifications", args=[project.app_id])
    alice_client.post(url, {})
    assert alice.memberships.get(project=project).email_notifications is False
    alice_client.post(url, {"email_notifications": "on"})
    assert alice.memberships.get(project=project).email_notifications is True


def test_email_language_is_saved_per_membership(alice_client, project, alice):
    url = reverse("dashboard:notifications", args=[project.app_id])
    response = alice_client.post(url, {"email_notifications": "on", "language": "ja"}, follow=True)
    assert alice.memberships.get(project=project).language == "ja"
    assert "Saved. You will receive an email" in response.content.decode()
    assert '<option value="ja" selected>日本語</option>' in response.content.decode()
    alice_client.post(url, {"email_notifications": "on", "language": "fr"})
    assert alice.memberships.get(project=project).language == "ja"


def test_page_renders_in_japanese(alice_client, project):
    response = alice_client.get(reverse("dashboard:events_import", args=[project.app_id]), HTTP_ACCEPT_LANGUAGE="ja")
    html = response.content.decode()
    assert '<html lang="ja">' in html
    assert "データインポート" in html and "イベント設定" in html


def test_login_page_loads(client, db):
    assert client.get(reverse("login")).status_code == 200


def test_error_csv_no_longer_in_storage_is_a_clear_404(alice_client, project, job_with_errors):
    default_storage.delete(job_with_errors.error_csv_key)
    response = alice_client.get(reverse("dashboard:job_error_csv", args=[project.app_id, job_with_errors.pk]))
    assert response.status_code == 404
    html = response.content.decode()
    assert f"The error CSV of import #{job_with_errors.pk} is no longer stored" in html
    assert reverse("dashboard:job_detail", args=[project.app_id, job_with_errors.pk]) in html


def test_without_s3_the_import_pages_say_how_to_turn_it_on(alice_client, project, settings):
    settings.IMPORT_BUCKET = ""
    for name in ("events_import", "profiles_import"):
        html = alice_client.get(reverse(f"dashboard:{name}", args=[project.app_id])).content.decode()
        assert "Upload through Amazon S3" not in html
        assert "s3://" not in html and "Issue one in Project settings" not in html
        assert 'id="s3-off"' in html and "<code>IMPORT_BUCKET</code>" in html


def test_with_s3_the_import_pages_show_the_path_to_copy(alice_client, project, settings):
    settings.IMPORT_BUCKET = settings.IMPORT_BUCKET_NAME = "repro-data-store"
    html = alice_client.get(reverse("dashboard:events_import", args=[project.app_id])).content.decode()
    assert "Upload through Amazon S3" in html and 'id="s3-off"' not in html
    path = f"s3://repro-data-store/{project.app_id}/event_bulk_tracking/"
    assert f'<code id="s3-path">{path}</code>' in html
    assert 'data-copy="#s3-path"' in html


def test_first_token_is_issued_without_talk_of_a_previous_one(alice_client, project):
    page = alice_client.get(reverse("dashboard:credentials", args=[project.app_id])).content.decode()
    assert "Issue API token" in page and "Reissue the API token?" not in page
    response = alice_client.post(reverse("dashboard:api_token_reissue", args=[project.app_id]), follow=True)
    html = response.content.decode()
    assert "The project&#x27;s API token was issued." in html and "no longer works" not in html
    assert 'data-copy="#new-api-token"' in html
    response = alice_client.post(reverse("dashboard:api_token_reissue", args=[project.app_id]), follow=True)
    html = response.content.decode()
    assert "A new API token was issued. The previous token no longer works." in html
    assert "Reissue the API token?" in html
