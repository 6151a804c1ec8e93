"""Event Bulk Tracking end to end through `import_csv --sync`, from real files (SPEC 3)."""

import csv
import gzip
import io

from django.core.files.storage import default_storage

from imports.models import AppUser, EventDefinition, ImportJob, TrackedEvent

HEADER = b"user_id,event_name,event_properties\n"


def error_rows(job):
    with default_storage.open(job.error_csv_key, "rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode("utf-8", "surrogateescape"))))


def test_valid_file_is_recorded_and_users_created(import_file, project):
    job, summary = import_file(HEADER + b'u1,purchase,"{""item"":""book""}"\nu2,purchase,\nu1,view,{}\n')
    assert summary == {"job": job.pk, "state": "succeeded", "rows": 3, "imported": 3, "failed": 0,
                       "message": "", "exit_code": 0}
    assert sorted(AppUser.objects.filter(project=project).values_list("user_id", flat=True)) == ["u1", "u2"]
    events = TrackedEvent.objects.filter(project=project).order_by("id")
    assert [(e.app_user.user_id, e.event.name, e.properties) for e in events] == [
        ("u1", "purchase", {"item": "book"}), ("u2", "purchase", {}), ("u1", "view", {}),
    ]
    assert all(e.job_id == job.pk and e.tracked_at is not None for e in events)
    assert EventDefinition.objects.get(project=project, name="view").display_name == "view"


def test_row_errors_go_to_error_csv_with_every_reason(import_file, project, tmp_path):
    content = (
        HEADER
        + b'ok,purchase,\n'
        + b',___repro___x,"[1]"\n'
        + ("u" * 192).encode() + b',e,"{""k"":1}"\n'
        + b'u3,e,{broken\n'
    )
    job, summary = import_file(content, "events", "input.csv", "--errors-out", str(tmp_path / "errors.csv"))
    assert (summary["state"], summary["rows"], summary["imported"], summary["failed"]) == (
        "succeeded_with_errors", 4, 1, 3)
    assert job.imported + job.failed == job.rows_read
    rows = error_rows(job)
    assert rows[0] == ["user_id", "event_name", "event_properties", "REPRO_ERRORS"]
    assert rows[1] == ["", "___repro___x", "[1]",
                       "'user_id' is invalid; 'event_name' is invalid; "
                       "'event_properties' is invalid: must be a JSON object"]
    assert rows[2][:3] == ["u" * 192, "e", '{"k":1}']
    assert rows[2][3] == "'user_id' is invalid; 'event_properties' is invalid: value of 'k' must be a string"
    assert rows[3] == ["u3", "e", "{broken", "'event_properties' is invalid: not valid JSON"]
    assert (tmp_path / "errors.csv").read_bytes() == default_storage.open(job.error_csv_key).read()


def test_all_rows_failing_is_succeeded_with_errors(import_file):
    job, summary = import_file(HEADER + b",e,\n")
    assert summary["state"] == "succeeded_with_errors" and summary["exit_code"] == 0
    assert job.error_csv_key


def test_unknown_column_fails_the_file_and_imports_nothing(import_file, project):
    job, summary = import_file(b"user_id,event_name,event_properties,extra\nu1,e,\n")
    assert summary["state"] == "failed" and summary["exit_code"] == 1
    assert summary["message"] == "unknown column: extra"
    assert not TrackedEvent.objects.exists() and not AppUser.objects.exists()


def test_too_many_rows_fails_before_anything_is_written(import_file):
    job, summary = import_file(HEADER + b"u,e,\n" * 1_000_001)
    assert summary["message"] == "too many rows: 1,000,001 (limit 1,000,000)"
    assert summary["state"] == "failed" and summary["rows"] == 0
    assert not TrackedEvent.objects.exists()


def test_gzip_bom_crlf_and_quoted_newline(import_file, project):
    body = b'\xef\xbb\xbfuser_id,event_name,event_properties\r\nu1,e,"{""note"":\r\n""a,b""}"\r\nu2,e,\r\n'
    job, summary = import_file(gzip.compress(body), "events", "events.csv.gz")
    assert (summary["state"], summary["imported"]) == ("succeeded", 2)
    assert TrackedEvent.objects.get(app_user__user_id="u1").properties == {"note": "a,b"}


def test_corrupt_gzip_fails_the_file(import_file):
    data = gzip.compress(HEADER + b"u1,e,\n" * 5000)
    job, summary = import_file(data[: len(data) // 2])
    assert summary["state"] == "failed" and summary["message"] == "file maybe corrupt"
    assert not TrackedEvent.objects.exists()


def test_bad_utf8_in_one_row_fails_only_that_row(import_file):
    job, summary = import_file(HEADER + b"u1,e,\nu\xff2,e,\nu3,e,\n")
    assert (summary["imported"], summary["failed"]) == (2, 1)
    with default_storage.open(job.error_csv_key, "rb") as f:
        assert b"u\xff2,e,,'user_id' is invalid\n" in f.read()


def test_off_event_rows_fail_with_the_spec_reason(import_file, project):
    EventDefinition.objects.create(project=project, name="old", display_name="Old", enabled=False)
    job, summary = import_file(HEADER + b"u1,old,\nu1,new,\n")
    assert (summary["imported"], summary["failed"]) == (1, 1)
    assert error_rows(job)[1] == ["u1", "old", "", "event 'old' is turned off"]


def test_past_the_limit_new_events_are_created_off_and_rows_fail(import_file, project):
    project.max_enabled_events = 2
    project.save()
    EventDefinition.objects.create(project=project, name="a", display_name="a")
    job, summary = import_file(HEADER + b"u,b,\nu,c,\nu,c,\nu,a,\n")
    assert (summary["imported"], summary["failed"]) == (2, 2)
    c = EventDefinition.objects.get(project=project, name="c")
    assert c.enabled is False and c.created_by_job_id == job.pk
    assert EventDefinition.objects.get(project=project, name="b").enabled is True
    assert [row[3] for row in error_rows(job)[1:]] == ["event limit reached: 'c' was added turned off"] * 2


def test_fixed_error_csv_reimports_cleanly(import_file, project, tmp_path):
    job, _ = import_file(HEADER + b"u1,e,\nu2,e,{bad\n", "events", "first.csv", "--errors-out", str(tmp_path / "e.csv"))
    fixed = (tmp_path / "e.csv").read_bytes().replace(b"{bad", b"{}")
    job2, summary = import_file(fixed, "events", "fixed.csv")
    assert (summary["state"], summary["imported"]) == ("succeeded", 1)
    assert TrackedEvent.objects.filter(project=project, app_user__user_id="u2").count() == 1


def test_chunks_checkpoint_and_counts_add_up(import_file, settings):
    settings.IMPORT_CHUNK_ROWS = 7
    lines = b"".join(b"u%d,e%d,\n" % (i, i % 3) if i % 5 else b"u%d,,\n" % i for i in range(1, 101))
    job, summary = import_file(HEADER + lines)
    assert (job.rows_read, job.imported, job.failed) == (100, 80, 20)
    assert TrackedEvent.objects.count() == 80
    assert len(error_rows(job)) == 21


def test_rerunning_a_finished_job_changes_nothing(import_file):
    from imports import pipeline

    job, _ = import_file(HEADER + b"u1,e,\n")
    pipeline.run(job.pk)
    assert TrackedEvent.objects.count() == 1
    assert ImportJob.objects.get(pk=job.pk).attempts == 1
