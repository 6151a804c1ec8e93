"""S3 discovery (SPEC 5): every new object under a project's prefixes becomes one job, exactly once
per (key, ETag) even when runs race; bad names and oversize objects fail with their reason."""

import io
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.utils import translation
from django_q.models import Schedule

from imports import jobs, s3_discovery
from imports.models import ImportJob, S3ListingCursor
from imports.s3_discovery import s3_imports_discover


def events_key(project, name):
    return f"{project.app_id}/event_bulk_tracking/{name}"


def test_each_new_object_becomes_one_queued_job_of_its_project(put_object, project, make_project):
    other = make_project("Other")
    etag = put_object(events_key(project, "day1.csv"))
    put_object(f"{other.app_id}/user_profile_bulk_import/profiles.csv", b"user_id,plan\nu1,gold\n")

    jobs = s3_imports_discover()

    assert len(jobs) == 2
    job = ImportJob.objects.get(project=project)
    assert (job.kind, job.source, job.state) == ("events", "s3", "queued")
    assert (job.file_name, job.storage_key, job.s3_etag) == ("day1.csv", events_key(project, "day1.csv"), etag)
    assert (job.byte_size, job.started_by, job.created_by) == (47, "Amazon S3", None)
    assert ImportJob.objects.get(project=other).kind == "user_profiles"
    assert s3_imports_discover() == []
    assert ImportJob.objects.count() == 2


def test_same_name_uploaded_again_is_a_new_job_but_the_same_object_is_not(put_object, project):
    key = events_key(project, "daily.csv")
    first = put_object(key, b"user_id,event_name,event_properties\nu1,a,\n")
    s3_imports_discover()
    second = put_object(key, b"user_id,event_name,event_properties\nu2,b,\n")
    assert len(s3_imports_discover()) == 1
    # Identical bytes again: the same key and ETag, so the same object (SPEC 5).
    put_object(key, b"user_id,event_name,event_properties\nu2,b,\n")
    assert s3_imports_discover() == []
    assert sorted(ImportJob.objects.values_list("s3_etag", flat=True)) == sorted([first, second])


def test_big_prefix_is_listed_after_the_last_key_and_whole_again_at_intervals(
    put_object, project, monkeypatch, settings
):
    monkeypatch.setattr(s3_discovery, "LIST_PAGE_SIZE", 2)  # three objects make it a two-page prefix
    for name in ("a.csv", "b.csv", "c.csv"):
        put_object(events_key(project, name))
    assert len(s3_imports_discover()) == 3
    cursor = S3ListingCursor.objects.get(project=project, kind="events")
    assert cursor.start_after == events_key(project, "c.csv")

    put_object(events_key(project, "d.csv"))
    put_object(events_key(project, "a.csv"), b"user_id,event_name,event_properties\nu9,again,\n")
    assert [job.file_name for job in s3_imports_discover()] == ["d.csv"]
    assert S3ListingCursor.objects.get(pk=cursor.pk).start_after == events_key(project, "d.csv")

    # The re-uploaded a.csv sorts before the cursor: the next full listing finds it.
    due = timedelta(minutes=settings.S3_DISCOVERY_FULL_LIST_MINUTES)
    S3ListingCursor.objects.filter(pk=cursor.pk).update(full_listed_at=cursor.full_listed_at - due)
    assert [job.file_name for job in s3_imports_discover()] == ["a.csv"]
    assert ImportJob.objects.filter(file_name="a.csv").count() == 2


def test_a_run_that_loses_the_race_for_an_object_creates_nothing(put_object, project):
    """Another run inserted the job after this run listed: the unique constraint turns this run away."""
    key = events_key(project, "e.csv")
    put_object(key)
    (listed,) = next(s3_discovery._pages(prefix=s3_discovery.s3_prefix(project=project, kind="events"), start_after=""))
    create = dict(project=project, kind="events", prefix=f"{project.app_id}/event_bulk_tracking/", name="e.csv",
                  obj=listed, etag=listed["ETag"].strip('"'))
    assert s3_discovery._job_create(**create) is not None
    assert s3_discovery._job_create(**create) is None
    assert ImportJob.objects.count() == 1


# SQLite's in-memory test database makes concurrent writers fail at once instead of waiting.
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent runs are raced on PostgreSQL (bin/test runs it when postgresql is installed)")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_create_no_duplicate(put_object, project):
    names = [f"part-{number:02}.csv" for number in range(20)]
    for name in names:
        put_object(events_key(project, name))
    start = threading.Barrier(2)
    created, errors = [], []

    def discover():
        try:
            start.wait()
            created.append(len(s3_imports_discover()))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=discover) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(created) == len(names)
    assert sorted(ImportJob.objects.values_list("file_name", flat=True)) == names


def test_bad_names_fail_with_their_reason_and_members_are_emailed(put_object, project, s3_bucket):
    put_object(events_key(project, "my events.csv"))
    put_object(events_key(project, "2024/01/events.csv"))
    put_object(events_key(project, "2024/"), b"")  # a folder the S3 console made: not a file

    s3_imports_discover()

    jobs = {job.file_name: job for job in ImportJob.objects.all()}
    assert sorted(jobs) == ["2024/01/events.csv", "my events.csv"]
    assert all(job.state == "failed" and job.finished_at for job in jobs.values())
    space = jobs["my events.csv"]
    assert space.failure_message == "'my events.csv' has a space in its name: rename the file without spaces"
    assert (space.failure_template, space.failure_params) == (
        s3_discovery.MESSAGE_NAME_HAS_SPACE,
        {"name": "my events.csv"},
    )
    assert jobs["2024/01/events.csv"].failure_message == (
        f"'2024/01/events.csv' is in a folder: put files directly in "
        f"s3://{s3_bucket}/{project.app_id}/event_bulk_tracking/"
    )
    with translation.override("ja"):
        assert space.failure_text == "'my events.csv' のファイル名に空白が含まれています: 空白を含まない名前に変更してください"
    assert len(mail.outbox) == 2
    bodies = "\n".join(message.body for message in mail.outbox)
    assert "has a space in its name" in bodies and "is in a folder" in bodies
    assert all(message.to == ["alice@example.com"] for message in mail.outbox)


def test_object_over_the_size_limit_fails(put_object, project, settings):
    # SPEC's 500 MB, lowered so the test uploads 1 MB.
    settings.S3_OBJECT_MAX_BYTES = {**settings.S3_OBJECT_MAX_BYTES, "events": 1024 * 1024}
    header = b"user_id,event_name,event_properties\n"
    put_object(events_key(project, "at-limit.csv"), header + b"u1,e," + b" " * (1024 * 1024 - len(header) - 6) + b"\n")
    put_object(events_key(project, "over.csv"), header + b"u1,e," + b" " * (1024 * 1024 - len(header) - 5) + b"\n")

    s3_imports_discover()

    assert ImportJob.objects.get(file_name="at-limit.csv").state == "queued"
    over = ImportJob.objects.get(file_name="over.csv")
    assert over.state == "failed"
    assert over.failure_message == "file too large: 1,048,577 bytes (limit 1 MB)"
    assert len(mail.outbox) == 1


def test_dashboard_uploads_and_error_csvs_in_the_bucket_are_never_discovered(put_object, project):
    job = jobs.import_job_create(
        project=project, kind="events", source="dashboard", file_name="events.csv",
        content=io.BytesIO(b"user_id,event_name,event_properties\n"), enqueue=False,
    )
    assert job.storage_key.startswith(f"uploads/{project.app_id}/")
    put_object(f"errors/{project.app_id}/{job.pk}/errors.csv")
    put_object(f"{project.app_id}/events.csv")  # not under one of the two folders

    assert s3_imports_discover() == []
    assert ImportJob.objects.filter(source="s3").count() == 0


def test_discover_command_lists_new_jobs(put_object, project, capsys):
    put_object(events_key(project, "e.csv"))
    call_command("discover_s3_imports")
    out = capsys.readouterr().out
    assert f"{project.app_id} events {events_key(project, 'e.csv')} (queued)" in out
    assert out.splitlines()[-1] == "1 new job(s)"


def test_discover_command_without_s3_fails_clearly(db):
    with pytest.raises(CommandError, match="not configured"):
        call_command("discover_s3_imports")


def test_migrate_keeps_the_schedule_in_line_with_the_settings(db, s3_bucket, settings):
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    schedule = Schedule.objects.get(name="s3-discovery")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "imports.tasks.s3_imports_discover", Schedule.MINUTES, 1, -1,
    )
    settings.S3_DISCOVERY_INTERVAL_MINUTES = 5
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert list(Schedule.objects.filter(name="s3-discovery").values_list("minutes", flat=True)) == [5]
    settings.IMPORT_BUCKET = ""
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert not Schedule.objects.filter(name="s3-discovery").exists()
    assert Schedule.objects.get(name="import-watchdog").func == "imports.tasks.import_jobs_resume_stalled"
