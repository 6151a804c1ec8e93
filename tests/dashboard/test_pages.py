"""Every dashboard page: members see it, other tenants get 404, logged-out users go to login."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from imports.models import ImportJob

PROJECT_PAGES = ["events_import", "event_settings", "profiles_import", "credentials", "notifications"]


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
    return urls


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


def test_logged_out_user_is_sent_to_login(client, project, job_with_errors):
    for url in project_urls(project, job_with_errors):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


def test_error_csv_download_is_the_stored_file(alice_client, project, job_with_errors):
    response = alice_client.get(reverse("dashboard:job_error_csv", args=[project.app_id, job_with_errors.pk]))
    assert b"".join(response.streaming_content) == b"user_id,event_name,event_properties,REPRO_ERRORS\n"
    assert response["Content-Disposition"].startswith("attachment")


def test_token_shown_once_after_reissue_then_masked(alice_client, project):
    response = alice_client.post(reverse("dashboard:api_token_reissue", args=[project.app_id]), follow=True)
    token_html = response.content.decode()
    assert 'id="new-api-token"' in token_html
    shown = token_html.split('id="new-api-token">')[1].split("<")[0]
    assert len(shown) > 30
    again = alice_client.get(reverse("dashboard:credentials", args=[project.app_id])).content.decode()
    assert shown not in again
    assert shown[:8] + "••" in again


def test_reissue_needs_post(alice_client, project):
    assert alice_client.get(reverse("dashboard:api_token_reissue", args=[project.app_id])).status_code == 405


def test_notifications_switch(alice_client, project, alice):
    url = reverse("dashboard:notifications", args=[project.app_id])
    alice_client.post(url, {})
    assert alice.memberships.get(project=project).email_notifications is False
    alice_client.post(url, {"email_notifications": "on"})
    assert alice.memberships.get(project=project).email_notifications is True


def test_page_renders_in_japanese(alice_client, project):
    response = alice_client.get(reverse("dashboard:events_import", args=[project.app_id]), HTTP_ACCEPT_LANGUAGE="ja")
    html = response.content.decode()
    assert '<html lang="ja">' in html
    assert "データインポート" in html and "イベント設定" in html


def test_login_page_loads(client, db):
    assert client.get(reverse("login")).status_code == 200
