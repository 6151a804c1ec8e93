"""A job that fails after committing rows says so everywhere, and its remainder CSV, imported as it
is, completes the file exactly: the tables end as after one clean run (issue 12)."""

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.urls import reverse

from imports.models import AppUser, TrackedEvent
from tests.support import chunk_commit_failing

EVENTS = (
    b"user_id,event_name,event_properties\n"
    b'u1,buy,"{""n"":""1""}"\n'
    b"u2,,\n"  # fails: no event name (committed in chunk 1, with its reason)
    b"u3,view,\n"
    b'u4,buy,"{""n"":""4""}"\n'  # chunk 2: the internal error
    b"u5,,\n"
    b"u1,view,\n"
    b"u6,buy,\n"
)
PROFILES = (
    b"n,user_id,tag\n"  # user_id not first: the remainder keeps the file's own columns
    b"1,u1,a\n"
    b"2,ghost,b\n"  # fails: unregistered user
    b"3,u3,c\n"
    b"4,u4,d\n"
    b"x,u5,e\n"  # fails: not an integer
    b"6,u1,\n"  # a later row for u1 wins over row 1 for n
    b"7,u6,g\n"
)


@pytest.fixture
def failing_second_chunk(settings, monkeypatch):
    settings.IMPORT_CHUNK_ROWS = 3
    return chunk_commit_failing(monkeypatch, at=2, error=RuntimeError("a bug in chunk 2"))


def table(project, kind):
    if kind == "events":
        return sorted(
            TrackedEvent.objects.filter(event__project=project).values_list("app_user__user_id", "event__name", "properties"),
            key=repr,
        )
    return dict(AppUser.objects.filter(project=project).values_list("user_id", "profile"))


def users(project):
    for uid in ("u1", "u3", "u4", "u5", "u6"):
        AppUser.objects.create(project=project, user_id=uid)


@pytest.mark.parametrize(("kind", "data"), [("events", EVENTS), ("user_profiles", PROFILES)])
def test_failed_in_chunk_2_reports_what_it_committed_and_its_remainder_completes_the_file(
    project, make_project, alice, alice_client, import_file, failing_second_chunk, tmp_path, kind, data
):
    clean_project = make_project("Clean", owner=alice)
    if kind == "user_profiles":
        users(project)
        users(clean_project)
    failed, summary = import_file(data, kind)

    assert (failed.state, failed.rows_read, failed.imported, failed.failed) == ("failed", 3, 2, 1)
    assert summary["exit_code"] == 1 and summary["imported"] == 2
    assert summary["message"].startswith("The import stopped because of an internal error.")
    assert "2 row(s) were imported before the import stopped" in summary["message"]
    assert summary["remainder_csv"] is True
    email = mail.outbox[-1]
    assert "2 rows were imported before it stopped" in email.body and "Nothing was imported" not in email.body
    assert reverse("dashboard:job_remainder_csv", args=[project.app_id, failed.pk]) in email.body
    page = alice_client.get(reverse("dashboard:job_detail", args=[project.app_id, failed.pk])).content.decode()
    assert "2 rows were imported before the import stopped" in page and "Nothing from this file" not in page
    history = alice_client.get(reverse(f"dashboard:{'events' if kind == 'events' else 'profiles'}_import",
                                       args=[project.app_id])).content.decode()
    assert "2 rows imported before it stopped" in history

    download = alice_client.get(reverse("dashboard:job_remainder_csv", args=[project.app_id, failed.pk]))
    remainder = b"".join(download.streaming_content)
    with default_storage.open(failed.remainder_csv_key, "rb") as stored:
        assert stored.read() == remainder
    failing_second_chunk()  # the bug is fixed
    rest, _ = import_file(remainder, kind, "remainder.csv")
    clean, _ = import_file(data, kind, target=clean_project)

    assert table(project, kind) == table(clean_project, kind)
    assert failed.imported + rest.imported == clean.imported
    assert (rest.failed, rest.rows_read) == (clean.failed, clean.rows_read - failed.imported)


def test_the_remainder_keeps_the_failed_rows_reasons_and_the_unread_rows_as_they_were(
    project, import_file, failing_second_chunk
):
    failed, _ = import_file(EVENTS)
    with default_storage.open(failed.remainder_csv_key, "rb") as stored:
        assert stored.read() == (
            b"user_id,event_name,event_properties,REPRO_ERRORS\n"
            b"u2,,,'event_name' is invalid\n"
            b'u4,buy,"{""n"":""4""}",\n'
            b"u5,,,\n"
            b"u1,view,,\n"
            b"u6,buy,,\n"
        )


def test_a_failure_before_any_commit_still_says_nothing_was_imported(project, import_file, alice_client):
    failed, summary = import_file(b"user_id,event_name,event_properties\n" + b"u1,e,\n" * 3 + b'u2,"open\n')
    assert (failed.state, failed.imported, failed.remainder_csv_key) == ("failed", 0, "")
    assert "remainder_csv" not in summary
    assert "Nothing was imported" in mail.outbox[-1].body
    page = alice_client.get(reverse("dashboard:job_detail", args=[project.app_id, failed.pk])).content.decode()
    assert "Nothing from this file was imported" in page
