"""The users page, what one import wrote, and the events explorer (issue 16)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from imports import imported_data
from imports.models import AppUser, EventDefinition, ImportedEventBatch, TrackedEvent

EVENTS = b"user_id,event_name,event_properties\n"
ACCENTED = "\u00fcber"  # u with diaeresis: code point order puts it after every ASCII ID


def url(name, project, *args, query=""):
    return reverse(f"dashboard:{name}", args=[project.app_id, *args]) + (f"?{query}" if query else "")


@pytest.fixture
def imported(import_file, project):
    """An events import, then a profiles import over two of its users."""
    events, _ = import_file(
        EVENTS + b'u1,signup,"{""plan"":""pro""}"\nu1,purchase,"{""item"":""shoes""}"\nu2,signup,\nu3,signup,\n'
    )
    profiles, _ = import_file(b"user_id,rank,ltv\nu1,3,12.50\nu2,,7\n", "user_profiles", "profiles.csv")
    return events, profiles


def test_exact_user_lookup_and_its_profile_values_with_types_and_setter(alice_client, project, imported):
    events, profiles = imported
    response = alice_client.get(url("users", project, query="q=u1"))
    assert response.context["exact"].user_id == "u1"
    detail = alice_client.get(url("user_detail", project, query="user_id=u1"))
    values = [(v.key, v.value, v.type, v.set_by.pk) for v in detail.context["values"]]
    assert values == [("ltv", "12.50", "decimal", profiles.pk), ("rank", 3, "int", profiles.pk)]
    html = detail.content.decode()
    assert f"/jobs/{profiles.pk}/" in html and f"/jobs/{events.pk}/" in html


def test_recent_events_are_the_users_own_newest_first_with_their_import(alice_client, project, imported, import_file):
    events, _ = imported
    later, _ = import_file(EVENTS + b"u1,logout,\nu2,logout,\n", name="later.csv")
    shown = alice_client.get(url("user_detail", project, query="user_id=u1")).context["events"]
    assert [(e.event.name, e.job_id) for e in shown] == [("logout", later.pk), ("purchase", events.pk), ("signup", events.pk)]
    assert shown[1].properties_text == '{"item": "shoes"}'


def test_recent_events_stop_at_twenty(alice_client, project, import_file):
    import_file(EVENTS + b"".join(b"u1,e%d,\n" % i for i in range(25)))
    assert len(alice_client.get(url("user_detail", project, query="user_id=u1")).context["events"]) == 20


def test_unknown_user_is_404_and_the_search_says_none_match(alice_client, project, imported):
    assert alice_client.get(url("user_detail", project, query="user_id=nobody")).status_code == 404
    response = alice_client.get(url("users", project, query="q=nobody"))
    assert response.context["exact"] is None and response.context["found"] == []
    assert "No user ID starts with" in response.content.decode()


def test_prefix_search_is_paged_in_id_order_and_means_only_a_prefix(alice_client, project):
    ids = [f"a{i:03d}" for i in range(120)] + ["b1", "A1", "a%x", "a_1", ACCENTED, f"{ACCENTED}2"]
    AppUser.objects.bulk_create(AppUser(project=project, user_id=user_id) for user_id in ids)
    expected = sorted(user_id for user_id in ids if user_id.startswith("a"))
    seen = pages(alice_client, url("users", project, query="q=a"), "found")
    assert [len(page) for page in seen] == [50, 50, 22]
    assert [user.user_id for page in seen for user in page] == expected
    assert [u.user_id for u in imported_data.app_user_search(project=project, prefix="a%")] == ["a%x"]
    assert [u.user_id for u in imported_data.app_user_search(project=project, prefix="a_")] == ["a_1"]
    assert [u.user_id for u in imported_data.app_user_search(project=project, prefix=ACCENTED)] == [ACCENTED, f"{ACCENTED}2"]
    assert [u.user_id for u in imported_data.app_user_search(project=project, prefix="\U0010ffff")] == []


def test_a_job_page_links_to_what_it_wrote(alice_client, project, imported):
    events, _ = imported
    html = alice_client.get(url("job_detail", project, events.pk)).content.decode()
    assert url("job_data", project, events.pk) in html


def test_an_events_imports_data_are_its_users_and_events_paged(alice_client, project, import_file, monkeypatch):
    monkeypatch.setattr("imports.dashboard.data.ITEMS_PER_PAGE", 2)
    other, _ = import_file(EVENTS + b"u9,signup,\n", name="other.csv")
    job, _ = import_file(EVENTS + b"u3,a,\nu1,b,\nu2,a,\nu1,c,\nu3,a,\n")
    users = pages(alice_client, url("job_data", project, job.pk, query="show=users"), "touched_users")
    assert [[user.user_id for user in page] for page in users] == [["u1", "u2"], ["u3"]]
    events = pages(alice_client, url("job_data", project, job.pk, query="show=events"), "events")
    assert [[(e.app_user.user_id, e.event.name) for e in page] for page in events] == [
        [("u3", "a"), ("u1", "b")], [("u2", "a"), ("u1", "c")], [("u3", "a")]]
    assert alice_client.get(url("job_data", project, job.pk)).context["event_count"] == 5


def pages(client, first, name):
    """Every page of a cursor-paged list, following its Next links."""
    found, response = [], client.get(first)
    while True:
        found.append(list(response.context[name]))
        if not response.context["next_after"]:
            return found
        response = client.get(first + "&after=" + response.context["next_after"])


def test_a_profiles_imports_data_are_the_users_it_set_values_of(alice_client, project, imported):
    _, profiles = imported
    response = alice_client.get(url("job_data", project, profiles.pk))
    assert [user.user_id for user in response.context["touched_users"]] == ["u1", "u2"]


# --- Events explorer ---------------------------------------------------------------------


def spread_over_days(project, days):
    """Moves each chunk's events (and its batch) ``days[i % len(days)]`` days back, as if imported then."""
    for i, batch in enumerate(ImportedEventBatch.objects.filter(job__project=project).order_by("pk")):
        moved = batch.tracked_at - timedelta(days=days[i % len(days)])
        TrackedEvent.objects.filter(
            project=project, event_id=batch.event_id, tracked_at=batch.tracked_at, job_id=batch.job_id
        ).update(tracked_at=moved)
        ImportedEventBatch.objects.filter(pk=batch.pk).update(tracked_at=moved)


def test_explorer_daily_counts_equal_a_direct_count(alice_client, project, import_file, settings):
    settings.IMPORT_CHUNK_ROWS = 7
    rows = b"".join(b"u%d,%s,\n" % (i % 13, [b"signup", b"purchase", b"open"][i % 3]) for i in range(200))
    import_file(EVENTS + rows)
    spread_over_days(project, [0, 1, 3, 12, 29, 30, 45])
    response = alice_client.get(url("explorer", project))
    series = {one.definition.name: one for one, _ in response.context["series"]}
    start, end = response.context["start"], response.context["end"]
    assert (end - start).days == 29 and end == timezone.localdate()
    for name in ("signup", "purchase", "open"):
        direct = Counter(
            timezone.localtime(at).date()
            for at in TrackedEvent.objects.filter(event__name=name).values_list("tracked_at", flat=True)
        )
        expected = [direct.get(day, 0) for day in series[name].days]
        assert series[name].counts == expected
        assert series[name].total == sum(expected) > 0
        assert sum(direct.values()) > series[name].total  # days 30 and 45 fall outside the range


def test_explorer_lists_off_events_and_the_imports_that_tracked_each(alice_client, project, import_file):
    first, _ = import_file(EVENTS + b"u1,signup,\nu2,signup,\n")
    second, _ = import_file(EVENTS + b"u1,signup,\nu1,open,\n", name="second.csv")
    EventDefinition.objects.filter(project=project, name="open").update(enabled=False)
    response = alice_client.get(url("explorer", project))
    series = {one.definition.name: one for one, _ in response.context["series"]}
    assert [(job.pk, n) for job, n in series["signup"].imports] == [(second.pk, 1), (first.pk, 2)]
    assert series["open"].definition.enabled is False and series["open"].total == 1
    html = response.content.decode()
    assert 'data-chart="chart-%d"' % series["open"].definition.pk in html
    assert "uPlot.iife.min.js" in html


def test_explorer_range_is_chosen_and_capped(alice_client, project, import_file):
    import_file(EVENTS + b"u1,signup,\n")
    today = timezone.localdate()
    response = alice_client.get(url("explorer", project, query=f"from={today - timedelta(days=6)}&to={today}"))
    (one, chart), = response.context["series"]
    assert len(one.days) == 7 and one.counts[-1] == 1 and chart["data"]["counts"] == one.counts
    capped = alice_client.get(url("explorer", project, query="from=2000-01-01&to=2001-12-31")).context
    assert (capped["end"] - capped["start"]).days == 365
    assert alice_client.get(url("explorer", project, query="from=nonsense")).status_code == 200


def test_clicking_an_event_shows_its_recent_occurrences(alice_client, project, import_file):
    job, _ = import_file(EVENTS + b'u1,signup,"{""n"":""1""}"\nu2,signup,"{""n"":""2""}"\nu3,open,\n')
    definition = EventDefinition.objects.get(project=project, name="signup")
    response = alice_client.get(url("explorer_event", project, definition.pk))
    sample = response.context["sample"]
    assert sorted((e.app_user.user_id, e.properties_text, e.job_id) for e in sample) == [
        ("u1", '{"n": "1"}', job.pk), ("u2", '{"n": "2"}', job.pk)]
    assert response.context["one"].total == 2


# --- Tenancy -------------------------------------------------------------------------------


def test_members_of_another_project_get_404_on_every_new_page(client, project, imported, make_project, make_user):
    events, _ = imported
    definition = EventDefinition.objects.filter(project=project).first()
    mallory = make_user("mallory")
    own = make_project("Other", owner=mallory)
    client.force_login(mallory)
    pages = [
        url("users", project, query="q=u1"),
        url("user_detail", project, query="user_id=u1"),
        url("explorer", project),
        url("explorer_event", project, definition.pk),
        url("job_data", project, events.pk),
    ]
    for page in pages:
        assert client.get(page).status_code == 404, page
    # Through her own project: the other project's objects are not found either.
    assert client.get(url("user_detail", own, query="user_id=u1")).status_code == 404
    assert client.get(url("explorer_event", own, definition.pk)).status_code == 404
    assert client.get(url("job_data", own, events.pk)).status_code == 404
    assert client.get(url("users", own, query="q=u")).context["found"] == []
