"""Leases (issue 12): one run at a time per job and per part, a watchdog that queues again only
work whose lease expired, and attempts that run out into ``failed`` with what was committed."""

import contextvars
from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError
from django.utils import timezone

from imports import jobs, pipeline
from imports.models import ImportJob, ImportPart, TrackedEvent
from tests.pipeline.test_parts import events_file, import_job
from tests.support import chunk_commit_failing, expire_leases

SEVEN_ROWS = b"user_id,event_name,event_properties\n" + b"".join(b"u%d,e,\n" % i for i in range(1, 8))


def in_another_run(function, *args, **kwargs):
    """Call as another runner would: its own lease owner, not this run's."""
    return contextvars.copy_context().run(function, *args, **kwargs)


def test_a_second_runner_leaves_a_job_whose_lease_is_live(project, monkeypatch):
    job = import_job(project, events_file(200))
    real_touch = jobs.import_job_touch
    second = []

    def touch(*, job_id):  # while the first run is between its counting pass and its plan
        real_touch(job_id=job_id)
        if not second:
            second.append(in_another_run(pipeline.run, job_id))

    monkeypatch.setattr(jobs, "import_job_touch", touch)
    first = pipeline.run(job.pk)

    assert (second[0].state, second[0].parts_total, second[0].rows_read) == ("running", 0, 0)
    assert (first.state, first.rows_read, first.attempts) == ("succeeded_with_errors", 200, 1)
    assert TrackedEvent.objects.filter(job=job).count() == first.imported
    assert ImportPart.objects.filter(job=job).count() == 1


def test_a_second_runner_leaves_a_part_whose_lease_is_live(project, split_parts, django_capture_on_commit_callbacks):
    job = import_job(project, events_file(200))
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.run(job.pk, inline=False)
    part = ImportPart.objects.filter(job=job).first()
    owned = jobs.import_part_claim(part)
    assert owned is not None and in_another_run(jobs.import_part_claim, part) is None
    assert pipeline.run_part(part.pk).rows_read == 0  # a redelivered task: it leaves the part alone
    expire_leases(job)
    taken = in_another_run(jobs.import_part_claim, part)
    assert taken is not None and taken.lease_owner != owned.lease_owner


def test_a_run_whose_lease_was_taken_over_commits_nothing_more(project, settings, monkeypatch):
    settings.IMPORT_CHUNK_ROWS = 3
    job = import_job(project, SEVEN_ROWS)
    real_commit = jobs.chunk_commit

    def commit(**kwargs):  # the run stalled so long before this chunk that another one took its part
        expire_leases(job)
        in_another_run(jobs.import_part_claim, kwargs["part"])
        return real_commit(**kwargs)

    monkeypatch.setattr(jobs, "chunk_commit", commit)
    stopped = pipeline.run(job.pk)
    assert (stopped.state, stopped.rows_read) == ("running", 0)
    monkeypatch.setattr(jobs, "chunk_commit", real_commit)
    expire_leases(job)
    done = pipeline.run(job.pk)
    assert (done.state, done.rows_read, done.imported) == ("succeeded", 7, 7)
    assert TrackedEvent.objects.filter(job=job).count() == 7


def test_the_heartbeat_of_a_run_whose_job_was_taken_over_stops_it(project):
    job = import_job(project, SEVEN_ROWS)

    def first_run():
        jobs.import_job_claim(job.pk)
        jobs.import_job_touch(job_id=job.pk)  # renews its own lease
        expire_leases(job)
        assert in_another_run(jobs.import_job_claim, job.pk) is not None
        with pytest.raises(jobs.LeaseLost):
            jobs.import_job_touch(job_id=job.pk)

    in_another_run(first_run)


def test_the_watchdog_leaves_a_live_lease_alone_however_long_the_run(
    project, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_STALL_SECONDS = 5
    job = import_job(project, SEVEN_ROWS)
    jobs.import_job_claim(job.pk)  # a run in its counting pass for an hour, renewing its lease
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1),
                                               created_at=timezone.now() - timedelta(hours=1))
    jobs.import_job_touch(job_id=job.pk)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert jobs.import_jobs_resume_stalled() == 0
    assert queued == []

    expire_leases(job)  # the run died: 5 s without a renewal
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert jobs.import_jobs_resume_stalled() == 1
    assert len(queued) == 1
    job.refresh_from_db()
    assert (job.state, job.rows_read, job.attempts) == ("succeeded", 7, 2)


def test_the_watchdog_requeues_a_part_only_once_its_lease_expired(project, split_parts,
                                                                   django_capture_on_commit_callbacks):
    job = import_job(project, events_file(300))
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.run(job.pk, inline=False)
    parts = list(ImportPart.objects.filter(job=job))
    assert len(parts) == 4
    working = jobs.import_part_claim(parts[0])  # alive
    ImportPart.objects.filter(pk__in=[p.pk for p in parts[1:]]).update(lease_expires_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert jobs.import_jobs_resume_stalled() == 3
    assert len(queued) == 3
    assert ImportPart.objects.get(pk=working.pk).lease_owner == working.lease_owner


@pytest.fixture
def split_parts(settings):
    settings.IMPORT_SPLIT_MIN_BYTES = 1
    settings.IMPORT_PART_ROWS = 97


def killed_after_one_chunk(project, settings, monkeypatch):
    """A job whose run committed one chunk (2 rows imported, 1 failed), then was killed by the time limit."""
    settings.IMPORT_CHUNK_ROWS = 3
    job = import_job(project, b"user_id,event_name,event_properties\nu1,e,\nu2,,\nu3,e,\nu4,e,\nu5,e,\n")
    # A lost database leaves the job as a kill would: running, with its first chunk committed.
    restore = chunk_commit_failing(monkeypatch, at=2, error=OperationalError("the worker was killed"))
    with pytest.raises(OperationalError):
        pipeline.run(job.pk)
    restore()
    job.refresh_from_db()
    assert (job.state, job.rows_read, job.imported) == ("running", 3, 2)
    return job


def test_attempts_run_out_into_failed_with_the_rows_committed(project, settings, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    settings.IMPORT_MAX_ATTEMPTS = 3
    job = killed_after_one_chunk(project, settings, monkeypatch)
    ImportPart.objects.filter(job=job).update(attempts=3)  # killed twice more since
    expire_leases(job)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert jobs.import_jobs_resume_stalled() == 0
    assert queued == []
    job.refresh_from_db()
    assert (job.state, job.rows_read, job.imported, job.failed) == ("failed", 3, 2, 1)
    assert job.failure_message.startswith("The import was stopped after 3 attempts that did not finish")
    assert job.remainder_csv_key
    assert "2 rows were imported before it stopped" in mail.outbox[-1].body
    assert jobs.import_jobs_resume_stalled() == 0  # and never queued again


def test_a_redelivered_task_past_its_attempts_fails_the_job_instead_of_running(project, settings, monkeypatch):
    settings.IMPORT_MAX_ATTEMPTS = 2
    job = killed_after_one_chunk(project, settings, monkeypatch)
    ImportPart.objects.filter(job=job).update(attempts=2)
    expire_leases(job)
    job = pipeline.run_part(ImportPart.objects.get(job=job).pk)
    assert (job.state, job.imported) == ("failed", 2)
    assert "after 2 attempts" in job.failure_message
