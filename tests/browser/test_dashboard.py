"""The dashboard in a real browser: Debian's chromium, headless, driven by Playwright.

The django-q2 worker runs in django-q2's sync mode (Q_SYNC=1, set in tests/environment.py):
no qcluster process runs during tests, so ``async_task`` runs the import inline, inside the
upload request of the live server. An upload therefore returns with its job already final;
live progress is exercised separately, on a job whose counts the test advances itself.
"""

import csv
import re
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from imports.models import AppUser, EventDefinition, ImportJob, ProfileKey
from imports.importers import importer_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVENTS_CSV = (
    b"user_id,event_name,event_properties\n"
    b"u1,signup,\n"
    b'u2,purchase,"{""item"":""shoes""}"\n'
    b",signup,\n"
    b"u3,purchase,not json\n"
    b'u4,signup,"{""n"":1}"\n'
)


def upload(page, name, content, validate_only=False):
    page.set_input_files("#id_file", files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
    if validate_only:
        page.get_by_label("Validate only").check()
    page.locator("form[data-upload] button[type=submit]").click()
    page.wait_for_url("**/jobs/*/")


def test_log_in_import_events_download_errors_and_turn_an_event_off(page, alice, project, screenshot):
    page.goto(page.base_url + "/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Events · Data Import")).to_be_visible()
    expect(page.locator("#s3-off")).to_contain_text("IMPORT_BUCKET")  # S3 is off in the embedded default

    upload(page, "events.csv", EVENTS_CSV)
    expect(page.get_by_role("status").filter(has_text="processing has started")).to_be_visible()
    expect(page.locator("#job-status .state")).to_have_text("Succeeded with errors")
    stats = page.locator("#job-status .stats dd")
    expect(stats).to_have_text(["5", "2", "3"])
    expect(page.locator("table.reasons")).to_contain_text("'user_id' is invalid")
    expect(page.locator("table.reasons")).to_contain_text("'event_properties' is invalid: not valid JSON")
    screenshot(page, "job-detail")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download error CSV").first.click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows[0] == ["user_id", "event_name", "event_properties", "REPRO_ERRORS"]
    assert [row[0] for row in rows[1:]] == ["", "u3", "u4"]
    assert rows[1][3] == "'user_id' is invalid"

    page.get_by_role("link", name="Event settings").click()
    expect(page.get_by_text("2 / 1,000")).to_be_visible()
    page.get_by_role("switch", name="signup").click()
    expect(page.get_by_role("status").filter(has_text="“signup” is Off")).to_be_visible()
    expect(page.get_by_role("switch", name="signup")).to_have_attribute("aria-checked", "false")
    assert EventDefinition.objects.get(project=project, name="signup").enabled is False
    screenshot(page, "event-settings")

    page.get_by_role("link", name="Data Import").first.click()
    upload(page, "more-events.csv", b"user_id,event_name,event_properties\nu5,signup,\nu6,purchase,\n")
    expect(page.locator("#job-status .stats dd")).to_have_text(["2", "1", "1"])
    expect(page.locator("table.reasons")).to_contain_text("event 'signup' is turned off")

    page.get_by_role("link", name="Data Import").first.click()
    history = page.locator("table.jobs tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("more-events.csv")
    screenshot(page, "events-import")


def test_file_over_the_limit_is_refused_before_upload(logged_in, project, tmp_path):
    page = logged_in
    big = tmp_path / "huge.csv"
    with big.open("wb") as f:
        f.truncate(151 * 1024 * 1024)
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.set_input_files("#id_file", str(big))
    expect(page.locator("#upload-errors")).to_contain_text("This file is 151 MB")
    page.locator("form[data-upload] button[type=submit]").click()
    expect(page.locator("#upload-errors")).to_contain_text("at most 150 MB")
    assert posts == []
    assert not ImportJob.objects.exists()


def test_running_job_updates_live(logged_in, project, alice, screenshot):
    page = logged_in
    job = ImportJob.objects.create(
        project=project,
        kind="events",
        source="s3",
        file_name="big-events.csv",
        state=ImportJob.State.RUNNING,
        total_rows=1_000_000,
        rows_read=100_000,
        imported=99_000,
        failed=1_000,
        started_at=timezone.now() - timedelta(seconds=10),
        started_by="s3",
    )
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    row = page.locator(f"#job-{job.pk}")
    expect(row).to_contain_text("10%")
    page.get_by_role("link", name="big-events.csv").click()
    expect(page.locator(".progress-facts")).to_contain_text("100,000 of 1,000,000 rows")
    expect(page.locator(".progress-facts")).to_contain_text("rows/s")
    expect(page.locator(".progress-facts")).to_contain_text("left")
    screenshot(page, "job-running", full_page=False)

    ImportJob.objects.filter(pk=job.pk).update(rows_read=500_000, imported=495_000, failed=5_000)
    expect(page.locator(".progress-facts")).to_contain_text("500,000 of 1,000,000 rows")
    ImportJob.objects.filter(pk=job.pk).update(
        rows_read=1_000_000, imported=1_000_000, failed=0, state=ImportJob.State.SUCCEEDED, finished_at=timezone.now()
    )
    expect(page.locator("#job-status .state")).to_have_text("Succeeded")
    expect(page.locator("#job-status")).to_contain_text("Every row was imported.")


def _profile_importer_exists() -> bool:
    try:
        importer_for(ImportJob(kind=ImportJob.Kind.USER_PROFILES))
    except (KeyError, ValueError):
        return False
    return True


@pytest.mark.skipif(not _profile_importer_exists(), reason="the user profile importer is not in imports.sinks yet")
def test_validate_only_profile_import_then_import_it_for_real(logged_in, project, screenshot):
    page = logged_in
    AppUser.objects.bulk_create([AppUser(project=project, user_id=user_id) for user_id in ("u1", "u2")])
    content = b"user_id,plan,points\nu1,gold,120\nu2,silver,80\nnobody,gold,1\n"
    page.goto(f"{page.base_url}/p/{project.app_id}/user-profiles/import/")
    upload(page, "profiles.csv", content, validate_only=True)
    report = page.locator("section.report")
    expect(report).to_contain_text("nothing was written")
    keys = page.locator("#keys-title + p + .table-wrap")
    expect(keys).to_contain_text("plan")
    expect(keys).to_contain_text("points")
    expect(page.locator("table.reasons")).to_contain_text("user_id is unregistered user")
    assert not ProfileKey.objects.filter(project=project).exists()
    screenshot(page, "validation-report")

    page.get_by_role("button", name="Import this file").click()
    expect(page.get_by_role("status").filter(has_text="has started")).to_be_visible()
    expect(page.locator("#job-status .stats dd")).to_have_text(["3", "2", "1"])
    assert AppUser.objects.get(project=project, user_id="u1").profile
    page.get_by_role("link", name="Profile settings").click()
    expect(page.get_by_role("switch", name="points")).to_have_attribute("aria-checked", "true")
    screenshot(page, "profile-settings")


def test_switch_to_japanese(logged_in, project, screenshot):
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    upload(page, "events.csv", EVENTS_CSV)
    page.get_by_label("Language").select_option("ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#job-status .state")).to_have_text("一部エラーあり")
    expect(page.locator("table.reasons")).to_contain_text("'user_id' が不正な値です")
    screenshot(page, "job-detail-ja")
    page.get_by_role("link", name="データインポート").first.click()
    expect(page.get_by_role("heading", name="イベント · データインポート")).to_be_visible()

    # Phone width: nothing wider than the screen (wide tables scroll inside their own box).
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("events/import/", "events/settings/", f"jobs/{ImportJob.objects.get().pk}/"):
        page.goto(f"{page.base_url}/p/{project.app_id}/{path}")
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
            ".map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 12)"
        )
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (path, wide)
    screenshot(page, "phone-job-detail-ja", full_page=False)


def test_keyboard_reaches_the_upload_form(logged_in, project):
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#id_file")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Validate only")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("form[data-upload] button[type=submit]")).to_have_text("Upload and validate")
