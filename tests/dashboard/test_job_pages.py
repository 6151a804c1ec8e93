"""Job detail, live progress and the validate-only flow."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from imports.dashboard import jobs as job_views
from imports.dashboard.progress import duration_text, job_progress
from imports.dashboard.reasons import reason_display
from imports.models import EventDefinition, ImportJob, TrackedEvent

HEADER = b"user_id,event_name,event_properties\n"


def detail(client, job, **headers):
    return client.get(reverse("dashboard:job_detail", args=[job.project.app_id, job.pk]), **headers)


def test_row_errors_are_grouped_by_reason_with_counts_and_first_rows(alice_client, import_file):
    rows = b"".join([b",signup,\n"] * 5 + [b"u1,signup,not json\n", b'u2,buy,"{""a"":1}"\n', b"u3,signup,\n"])
    job, _ = import_file(HEADER + rows)
    response = detail(alice_client, job)
    groups = [(g.text, g.rows, [(s.number, s.line, s.values) for s in g.samples]) for g in response.context["reason_groups"]]
    assert groups == [
        ("'user_id' is invalid", 5, [(1, 2, ",signup,"), (2, 3, ",signup,"), (3, 4, ",signup,")]),
        ("'event_properties' is invalid: not valid JSON", 1, [(6, 7, "u1,signup,not json")]),
        ("'event_properties' is invalid: value of 'a' must be a string", 1, [(7, 8, 'u2,buy,"{""a"":1}"')]),
    ]
    assert response.context["more_reasons"] == 0
    assert 'href="/p/%s/jobs/%s/errors.csv"' % (job.project.app_id, job.pk) in response.content.decode()


def test_job_page_says_the_error_csv_holds_the_data_as_sent(alice_client, import_file):
    failed_rows, _ = import_file(HEADER + b"=1+2,signup,not json\n")
    note = "The error CSV holds your own data exactly as it was sent, unchanged"
    assert note in detail(alice_client, failed_rows).content.decode()
    clean, _ = import_file(HEADER + b"u1,signup,\n")
    assert not clean.error_csv_key and note not in detail(alice_client, clean).content.decode()


def test_a_row_with_several_reasons_counts_in_each(alice_client, import_file):
    job, _ = import_file(HEADER + b",___repro___x,not json\n")
    groups = {g.reason: g.rows for g in detail(alice_client, job).context["reason_groups"]}
    assert groups == {
        "'user_id' is invalid": 1,
        "'event_name' is invalid": 1,
        "'event_properties' is invalid: not valid JSON": 1,
    }


def test_only_the_most_frequent_reasons_are_listed(alice_client, import_file, monkeypatch):
    monkeypatch.setattr(job_views, "REASON_GROUPS_SHOWN", 1)
    job, _ = import_file(HEADER + b",a,\n,b,\nu1,c,not json\n")
    response = detail(alice_client, job)
    assert [g.reason for g in response.context["reason_groups"]] == ["'user_id' is invalid"]
    assert "One less frequent reason is not shown here" in response.content.decode()


def test_reasons_and_failure_are_shown_in_japanese(alice_client, import_file, project):
    EventDefinition.objects.create(project=project, name="signup", display_name="signup", enabled=False)
    job, _ = import_file(HEADER + b"u1,signup,\n")
    html = detail(alice_client, job, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "イベント &#x27;signup&#x27; はオフになっています" in html
    assert "行がエラーになった理由" in html
    failed, _ = import_file(b"user_id,event_name,event_properties,color\nu1,a,\n")
    html = detail(alice_client, failed, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "不明なカラムです: color" in html
    assert "ファイルをインポートできなかった理由" in html


@pytest.mark.parametrize(
    ("stored", "japanese"),
    [
        ("'user_id' is invalid", "'user_id' が不正な値です"),
        ("event 'a b' is turned off", "イベント 'a b' はオフになっています"),
        ("'event_properties' is invalid: value of 'k' must be a string", "'event_properties' が不正な値です: 'k' の値は文字列である必要があります"),
        ("birth day should be iso8601 format", "birth day は ISO 8601 形式である必要があります"),
        ("something the core never says", "something the core never says"),
    ],
)
def test_stored_reasons_are_translated_back_from_their_template(stored, japanese):
    with translation.override("ja"):
        assert reason_display(stored) == japanese
    # Explicitly English: a test client request of another test may have left Japanese active
    # in this thread (LocaleMiddleware activates a language and nothing resets it).
    with translation.override("en"):
        assert reason_display(stored) == stored


def running_job(project, **fields):
    values = {
        "project": project,
        "kind": "events",
        "source": "s3",
        "file_name": "big.csv",
        "state": ImportJob.State.RUNNING,
        "total_rows": 1000,
        "rows_read": 250,
        "started_at": timezone.now() - timedelta(seconds=5),
    }
    return ImportJob.objects.create(**{**values, **fields})


def test_progress_in_words():
    now = timezone.now()
    job = ImportJob(state="running", total_rows=1000, rows_read=250, started_at=now - timedelta(seconds=5))
    progress = job_progress(job, now)
    assert (progress.percent, progress.rate, progress.time_left, progress.duration) == (
        25,
        "50 rows/s",
        "about 15 s left",
        "5 s",
    )
    assert job_progress(ImportJob(state="running", started_at=now), now).percent is None
    assert job_progress(ImportJob(state="queued")) == job_progress(ImportJob(state="queued"))
    assert job_progress(ImportJob(state="queued")).duration == ""
    assert [duration_text(s) for s in (0.2, 59, 61, 7322)] == ["under 1 s", "59 s", "1 min 1 s", "2 h 2 min"]


def test_live_endpoint_renders_the_jobs_asked_for(alice_client, project):
    running = running_job(project)
    done = running_job(project, state=ImportJob.State.SUCCEEDED, finished_at=timezone.now())
    url = reverse("dashboard:jobs_live", args=[project.app_id])
    answer = alice_client.get(url, {"ids": f"{running.pk},{done.pk},x", "part": "row"}).json()
    assert answer == {"jobs": []}  # a malformed id list asks for nothing
    answer = alice_client.get(url, {"ids": f"{running.pk},{done.pk}", "part": "row"}).json()
    by_id = {job["id"]: job for job in answer["jobs"]}
    assert by_id[running.pk]["final"] is False and by_id[done.pk]["final"] is True
    assert by_id[running.pk]["html"].startswith(f'<tr id="job-{running.pk}" data-live-job=')
    assert "25%" in by_id[running.pk]["html"]
    assert "data-live-job" not in by_id[done.pk]["html"]
    detail_part = alice_client.get(url, {"ids": running.pk}).json()["jobs"][0]["html"]
    assert "250 of 1,000 rows" in detail_part and "data-reload-when-final" in detail_part


def test_running_job_page_polls_and_history_marks_it_live(alice_client, project):
    job = running_job(project)
    assert "data-reload-when-final" in detail(alice_client, job).content.decode()
    history = alice_client.get(reverse("dashboard:events_import", args=[project.app_id])).content.decode()
    assert f'data-live-job="{job.pk}"' in history


def test_history_is_newest_first_and_paginated(alice_client, project):
    for n in range(25):
        ImportJob.objects.create(project=project, kind="events", source="dashboard", file_name=f"f{n}.csv")
    ImportJob.objects.create(project=project, kind="user_profiles", source="dashboard", file_name="profiles.csv")
    url = reverse("dashboard:events_import", args=[project.app_id])
    first = alice_client.get(url).context["jobs"]
    assert [job.file_name for job in first][:2] == ["f24.csv", "f23.csv"] and len(first) == 20
    second = alice_client.get(url, {"page": 2}).context["jobs"]
    assert [job.file_name for job in second] == [f"f{n}.csv" for n in range(4, -1, -1)]


def test_validate_only_then_import_the_same_file(alice_client, alice, import_file, project, django_capture_on_commit_callbacks):
    dry_run, _ = import_file(HEADER + b"u1,signup,\n,signup,\n", "events", "e.csv", "--dry-run")
    assert dry_run.dry_run and dry_run.state == "validated"
    assert not EventDefinition.objects.exists()
    page = detail(alice_client, dry_run).content.decode()
    assert "Validation report" in page and "Import this file" in page and "Would be added On" in page
    assert '<span class="state state-validated big">Validated</span>' in page
    history = alice_client.get(reverse("dashboard:events_import", args=[project.app_id])).content.decode()
    assert "would import 1" in history and ">Validated<" in history

    url = reverse("dashboard:job_import_dry_run", args=[project.app_id, dry_run.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url)
    real = ImportJob.objects.get(dry_run=False)
    assert response.url == reverse("dashboard:job_detail", args=[project.app_id, real.pk])
    assert (real.storage_key, real.file_name, real.byte_size) == (dry_run.storage_key, "e.csv", dry_run.byte_size)
    assert (real.created_by, real.dry_run_job_id) == (alice, dry_run.pk)
    real.refresh_from_db()
    assert (real.state, real.imported, real.failed) == ("succeeded_with_errors", 1, 1)
    assert TrackedEvent.objects.count() == 1

    again = alice_client.post(url, follow=True)
    assert ImportJob.objects.filter(dry_run=False).count() == 1
    assert "This file has already been imported." in again.content.decode()
    assert "See that import" in detail(alice_client, dry_run).content.decode()


def test_only_a_finished_dry_run_can_be_imported(alice_client, import_file, project):
    real, _ = import_file(HEADER + b"u1,signup,\n")
    response = alice_client.post(reverse("dashboard:job_import_dry_run", args=[project.app_id, real.pk]), follow=True)
    assert "Only a finished validation can be imported." in response.content.decode()
    assert ImportJob.objects.count() == 1
    queued = ImportJob.objects.create(project=project, kind="events", source="dashboard", file_name="q.csv", dry_run=True)
    alice_client.post(reverse("dashboard:job_import_dry_run", args=[project.app_id, queued.pk]))
    assert ImportJob.objects.count() == 2


def test_profile_validation_report_lists_types_and_new_keys(alice_client, project):
    job = ImportJob.objects.create(
        project=project,
        kind="user_profiles",
        source="dashboard",
        file_name="p.csv",
        dry_run=True,
        state=ImportJob.State.VALIDATED,
        finished_at=timezone.now(),
        profile_key_types={"plan": "string", "points": "int"},
        new_profile_keys=["points"],
    )
    response = detail(alice_client, job)
    assert response.context["profile_keys"] == [("plan", "string", False), ("points", "int", True)]
    html = response.content.decode()
    assert "New keys: 1. Keys turned On in this project now: 0 of 500." in html
    assert "Every row is valid. Nothing has been imported yet." in html


def test_import_page_lists_the_events_it_created_as_they_are_now(alice_client, import_file, project):
    project.max_enabled_events = 1
    project.save()
    job, _ = import_file(HEADER + b"u1,signup,\nu2,purchase,\n")
    response = detail(alice_client, job)
    assert response.context["new_events"] == [("purchase", False), ("signup", True)]
    html = response.content.decode()
    assert "New events added by this import" in html
    assert "Rows of events that are Off failed." in html
    assert "event limit reached: &#x27;purchase&#x27; was added turned off" in html


def test_dry_run_lists_the_events_it_would_add(alice_client, import_file, project):
    project.max_enabled_events = 1
    project.save()
    job, _ = import_file(HEADER + b"u1,signup,\nu2,purchase,\n", "events", "e.csv", "--dry-run")
    response = detail(alice_client, job)
    assert response.context["new_events"] == [("purchase", False), ("signup", True)]
    assert "Would be added Off (limit reached)" in response.content.decode()
    assert not EventDefinition.objects.exists()


def test_job_waiting_for_its_upload_says_so(alice_client, project):
    job = ImportJob.objects.create(
        project=project, kind="user_profiles", source="api_v3", file_name="p.csv", state="awaiting_upload"
    )
    html = detail(alice_client, job).content.decode()
    assert "Waiting for the file to be uploaded…" in html and "<progress" not in html
