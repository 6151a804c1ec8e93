"""Issue 16 in a real browser: the users page, the explorer's charts, and undo with its confirmation."""

import pytest
from playwright.sync_api import expect

from imports.models import ImportJob, TrackedEvent
from tests.dashboard.test_imported_data import spread_over_days

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVENTS = b"user_id,event_name,event_properties\n"

# Counts the canvas pixels uPlot painted: a blank chart has none.
PAINTED_PIXELS = """(box) => {
  const canvas = box.querySelector("canvas");
  if (!canvas) { return 0; }
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { painted += 1; } }
  return painted;
}"""


@pytest.fixture
def imported(import_file, settings):
    settings.IMPORT_CHUNK_ROWS = 9
    names, screens = [b"app_open", b"purchase", b"signup"], [b"home", b"cart", b"search"]
    rows = b"".join(
        b'user-%02d,%s,"{""screen"":""%s""}"\n' % (i % 12, names[(i // 12) % 3], screens[(i // 7) % 3])
        for i in range(160)
    )
    events, _ = import_file(EVENTS + rows, name="events-2026-11.csv")
    profiles, _ = import_file(
        b"user_id,plan,points,signed_up\nuser-01,pro,120,2026-10-02T09:00:00+09:00\nuser-02,free,8,2026-11-20T18:30:00+09:00\n",
        "user_profiles", "crm-export.csv",
    )
    return events, profiles


def test_users_page_finds_a_user_and_shows_values_setters_and_events(logged_in, project, imported, screenshot):
    events, profiles = imported
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    page.get_by_role("link", name="Look up users").click()
    page.get_by_label("User ID").fill("user-0")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.users tbody tr")).to_have_count(10)
    screenshot(page, "users")
    page.get_by_role("link", name="user-01", exact=True).click()
    values = page.locator("table.profile-values tbody tr")
    expect(values).to_have_count(3)
    expect(values.nth(0)).to_contain_text("plan")
    expect(values.nth(0)).to_contain_text("string")
    expect(values.nth(0)).to_contain_text(f"import #{profiles.pk}")
    expect(values.nth(1)).to_contain_text("int")
    expect(values.nth(2)).to_contain_text("datetime")
    recent = page.locator("table.events tbody tr")
    expect(recent).to_have_count(TrackedEvent.objects.filter(app_user__user_id="user-01").count())
    expect(recent.first).to_contain_text(f"#{events.pk}")
    expect(recent.first).to_contain_text('"screen"')
    screenshot(page, "user-detail")


def test_explorer_draws_a_chart_per_event_and_an_event_shows_its_occurrences(logged_in, project, imported, screenshot):
    spread_over_days(project, [0, 1, 2, 4, 5, 8, 9, 12, 15, 16, 20, 23, 27])
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/events/explorer/")
    charts = page.locator("div.chart.small")
    expect(charts).to_have_count(3)
    for i in range(3):
        expect(charts.nth(i).locator("canvas")).to_have_count(1)
        assert charts.nth(i).evaluate(PAINTED_PIXELS) > 50, f"chart {i} is blank"
    rows = page.locator("table.explorer tbody tr")
    expect(rows.nth(0)).to_contain_text("app_open")
    expect(rows.nth(0).locator("td.total")).to_have_text(str(TrackedEvent.objects.filter(event__name="app_open").count()))
    screenshot(page, "explorer")
    page.get_by_role("link", name="purchase").click()
    chart = page.locator("div.chart.large")
    expect(chart.locator("canvas")).to_have_count(1)
    assert chart.evaluate(PAINTED_PIXELS) > 500, "the event's chart is blank"
    expect(page.locator("table.events tbody tr")).to_have_count(20)
    expect(page.locator("ul.contributions")).to_contain_text("events-2026-11.csv")
    screenshot(page, "explorer-event")


def test_undo_asks_for_confirmation_then_removes_the_import(logged_in, project, imported, screenshot):
    events, _ = imported
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/jobs/{events.pk}/")
    page.get_by_role("link", name="Undo this import…").click()
    changes = page.locator("ul.undo-changes")
    expect(changes).to_contain_text("All 160 events this import tracked will be removed.")
    expect(changes).to_contain_text("The 12 users this import created will be removed")
    expect(changes).to_contain_text("app_open")
    screenshot(page, "undo-confirm")
    assert TrackedEvent.objects.count() == 160  # the confirmation page changes nothing
    page.get_by_role("button", name="Undo this import").click()
    expect(page.get_by_role("status").filter(has_text="has started")).to_be_visible()
    expect(page.locator("#undo-status .state")).to_have_text("Undone")
    expect(page.locator("#undo-status")).to_contain_text("160 events removed")
    expect(page.get_by_role("link", name="Undo this import…")).to_have_count(0)
    assert TrackedEvent.objects.count() == 0 and ImportJob.objects.get(pk=events.pk).undo.state == "succeeded"
    screenshot(page, "job-undone")
