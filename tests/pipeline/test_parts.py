"""A big file is cut into parts at row starts; parts give exactly the serial result."""

import gzip
import io

import pytest
from django.core import mail
from django.core.files.storage import default_storage

from imports import jobs, pipeline
from imports.models import AppUser, ImportPart, TrackedEvent
from tests.support import chunk_commit_failing, expire_leases


def events_file(rows=1000):
    lines = [b"user_id,event_name,event_properties"]
    for i in range(1, rows + 1):
        if i % 13 == 0:
            lines.append(b"u%d,,\n" % i)  # fails
        elif i % 17 == 0:
            lines.append(b'u%d,e%d,"{""note"":""multi\nline, quoted""}"' % (i % 50, i % 5))
        else:
            lines.append(b'u%d,e%d,"{""n"":""%d""}"' % (i % 50, i % 5, i))
        if i % 101 == 0:
            lines.append(b"")  # blank lines are not rows, wherever a cut falls
    return b"\n".join(lines) + b"\n"


def import_job(project, data, kind="events"):
    return jobs.import_job_create(project=project, kind=kind, source="command", file_name="big.csv",
                                  content=io.BytesIO(data), enqueue=False)


def outcome(job):
    events = sorted(TrackedEvent.objects.filter(job=job).values_list("app_user__user_id", "event__name", "properties"),
                    key=repr)
    with default_storage.open(job.error_csv_key, "rb") as f:
        error_csv = f.read()
    return (job.state, job.rows_read, job.imported, job.failed), events, error_csv


@pytest.fixture
def split(settings):
    settings.IMPORT_SPLIT_MIN_BYTES = 1
    settings.IMPORT_PART_ROWS = 97
    settings.IMPORT_CHUNK_ROWS = 40


def test_parts_give_the_serial_result(project, settings, split):
    data = events_file()
    parted = pipeline.run(import_job(project, data).pk)
    assert parted.parts_total == 11 and parted.parts_done == 11
    parts = list(parted.parts.all())
    assert [p.first_number for p in parts] == [97 * i for i in range(11)]
    assert sum(p.rows for p in parts) == parted.total_rows == 1000
    settings.IMPORT_SPLIT_MIN_BYTES = 10**12
    serial = pipeline.run(import_job(project, data).pk)
    assert serial.parts_total == 1
    assert outcome(parted) == outcome(serial)


def test_parts_as_tasks_finish_the_job_once(project, split, django_capture_on_commit_callbacks):
    job = import_job(project, events_file())
    with django_capture_on_commit_callbacks(execute=True):  # Q_SYNC: each part's task runs when queued
        pipeline.run(job.pk, inline=False)
    job.refresh_from_db()
    assert job.state == "succeeded_with_errors" and job.parts_done == job.parts_total == 11
    assert job.imported + job.failed == 1000
    assert len(mail.outbox) == 1


def test_a_part_run_twice_writes_nothing_twice(project, split):
    job = pipeline.run(import_job(project, events_file()).pk)
    count = TrackedEvent.objects.filter(job=job).count()
    for part in job.parts.all():
        pipeline.run_part(part.pk)
    job.refresh_from_db()
    assert TrackedEvent.objects.filter(job=job).count() == count == job.imported
    assert job.parts_done == job.parts_total


def test_profiles_gzip_and_dry_runs_are_not_cut(project, split):
    AppUser.objects.create(project=project, user_id="u1")
    profiles = pipeline.run(import_job(project, b"user_id,n\n" + b"u1,1\n" * 500, "user_profiles").pk)
    zipped = pipeline.run(import_job(project, gzip.compress(events_file())).pk)
    assert profiles.parts_total == 1 and zipped.parts_total == 1
    assert zipped.imported + zipped.failed == 1000
    dry = jobs.import_job_create(project=project, kind="events", source="command", file_name="d.csv",
                                 content=io.BytesIO(events_file()), dry_run=True, enqueue=False)
    assert pipeline.run(dry.pk).parts_total == 1
    assert ImportPart.objects.filter(job=dry).count() == 1


def test_watchdog_queues_stalled_parts_and_jobs_again(project, split, settings, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from imports.models import ImportJob

    job = import_job(project, events_file())
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.run(job.pk, inline=False)  # parts planned and queued, but their tasks are "lost"
    expired = timezone.now() - timedelta(seconds=1)
    ImportPart.objects.filter(job=job).update(lease_expires_at=expired)
    lost = import_job(project, events_file())  # a queued job whose task was lost
    ImportJob.objects.filter(pk=lost.pk).update(lease_expires_at=expired)
    fresh = import_job(project, events_file())  # queued just now: left alone
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.import_jobs_resume_stalled() == 11 + 1
    job.refresh_from_db()
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert job.state == lost.state == "succeeded_with_errors"
    assert job.imported + job.failed == lost.imported + lost.failed == 1000
    assert fresh.state == "queued"
    assert jobs.import_jobs_resume_stalled() == 0  # nothing is stalled any more


def test_losing_the_database_leaves_the_job_to_be_resumed(project, split, monkeypatch):
    from django.db import OperationalError

    chunk_commit_failing(monkeypatch, at=4, error=OperationalError("server closed the connection unexpectedly"))
    job = import_job(project, events_file())
    with pytest.raises(OperationalError):
        pipeline.run(job.pk)
    job.refresh_from_db()
    assert job.state == "running" and 0 < job.rows_read < 1000 and not job.failure_message
    assert pipeline.run(job.pk).rows_read == job.rows_read  # its lease is live: a second run leaves it
    expire_leases(job)  # the dead run renews nothing: the watchdog's run resumes it
    job = pipeline.run(job.pk)
    assert (job.state, job.rows_read, job.imported + job.failed) == ("succeeded_with_errors", 1000, 1000)
    assert TrackedEvent.objects.filter(job=job).count() == job.imported
