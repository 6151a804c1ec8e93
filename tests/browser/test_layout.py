"""Every page fits the window at a laptop's 1280 px and at a phone's 390 px: nothing makes the
page scroll sideways, the import history shows every column at 1280 px and stacks into labelled
rows on a phone."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from imports import services
from imports.models import EventDefinition, ImportJob, ProfileKey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}
OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"
WIDE_ELEMENTS = (
    "[...document.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap > *')"
    " && e.getBoundingClientRect().right > window.innerWidth + 1)"
    ".map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 14)"
)
LONG_NAME = "nightly-export-of-every-user-profile-from-the-crm-2026-12-01T02-47-57Z-final-version.csv"


def jobs_of_every_kind(project, alice):
    now = timezone.now()
    common = {"project": project, "created_by": alice, "started_at": now - timedelta(seconds=75), "finished_at": now}
    error_csv = default_storage.save("errors/layout.csv", ContentFile(b"user_id,event_name,event_properties,REPRO_ERRORS\n"))
    return [
        ImportJob.objects.create(kind="events", source="dashboard", file_name="events.csv", state="succeeded",
                                 rows_read=1_000_000, imported=1_000_000, **common),
        ImportJob.objects.create(kind="events", source="s3", file_name=LONG_NAME, state="succeeded_with_errors",
                                 rows_read=999_999, imported=949_996, failed=50_003, error_csv_key=error_csv, **common),
        ImportJob.objects.create(kind="events", source="dashboard", file_name="check.csv", state="validated",
                                 dry_run=True, rows_read=49_999, imported=49_996, failed=3, **common),
        ImportJob.objects.create(kind="events", source="command", file_name="bad.csv", state="failed",
                                 failure_message="unknown column: age", **common),
        ImportJob.objects.create(kind="user_profiles", source="api_v3", file_name="profiles.csv", state="running",
                                 total_rows=1_000_000, rows_read=120_000, imported=120_000, project=project,
                                 started_by="API v3 (token abcd1234…)", started_at=now - timedelta(seconds=10)),
    ]


@pytest.fixture
def site(alice, project):
    """Data for every page; the URLs of every page, logged-in ones first."""
    jobs = jobs_of_every_kind(project, alice)
    EventDefinition.objects.create(project=project, name="a-very-long-event-name-" * 4, display_name="purchase")
    ProfileKey.objects.create(project=project, name="membership_level_since_first_purchase", type="datetime")
    services.api_token_reissue(project=project)
    base = f"/p/{project.app_id}/"
    pages = [base + path for path in ("events/import/", "events/settings/", "user-profiles/import/",
                                      "user-profiles/settings/", "settings/credentials/", "settings/notifications/")]
    pages += [f"{base}jobs/{job.pk}/" for job in jobs]
    gone = ImportJob.objects.create(project=project, kind="events", source="dashboard", file_name="old.csv",
                                    state="succeeded_with_errors", failed=1, error_csv_key="errors/gone.csv")
    pages.append(f"{base}jobs/{gone.pk}/errors.csv")  # the 404 page of an error CSV no longer stored
    return pages


def open_as(page, user):
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.base_url}])


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_window(page, alice, project, site, width):
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width])))
    empty_project = services.project_create(name="Empty", owner=alice)
    open_as(page, alice)
    urls = site + [f"/p/{empty_project.app_id}/events/import/", f"/p/{empty_project.app_id}/user-profiles/import/"]
    for url in urls:
        page.goto(page.base_url + url)
        assert page.evaluate(OVERFLOW), (width, url, page.evaluate(WIDE_ELEMENTS))
    # A login without a project, and the login page itself.
    open_as(page, get_user_model().objects.create_user("newcomer"))
    page.goto(page.base_url + "/")
    assert page.evaluate(OVERFLOW), (width, "no project", page.evaluate(WIDE_ELEMENTS))
    page.context.clear_cookies()
    page.goto(page.base_url + "/login/")
    assert page.evaluate(OVERFLOW), (width, "login", page.evaluate(WIDE_ELEMENTS))


def test_history_shows_every_column_at_1280(logged_in, project, alice, site, screenshot):
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    wrap = page.locator("table.jobs").locator("xpath=..")
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), "the history table scrolls sideways"
    screenshot(page, "import-history")
    for header in ("File", "Source", "By", "State", "Rows", "Imported", "Failed", "Started", "Duration"):
        cell = page.locator("table.jobs th", has_text=header).first
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= 1280, header


def test_history_stacks_into_labelled_rows_on_a_phone(logged_in, project, alice, site, screenshot):
    page = logged_in
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    row = page.locator("table.jobs tbody tr", has_text="nightly-export")
    row.scroll_into_view_if_needed()
    screenshot(page, "phone-import-history", full_page=False)
    text = row.inner_text().lower()  # the labels are set in capitals
    for label in ("source", "state", "rows", "imported", "failed", "started", "duration"):
        assert label in text, label
    assert "949,996" in text and "1 min 15 s" in text
    assert row.bounding_box()["width"] <= 390
