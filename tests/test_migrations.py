"""Migration 0005 carries each job's free-form summary over to its typed record, and back."""

from datetime import datetime, timezone

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("imports", "0004_api_request_count")]
AFTER = [("imports", "0005_import_job_record")]
ARRIVED = datetime(2024, 5, 1, 12, 0, 30, tzinfo=timezone.utc)


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_jobs_keep_what_their_summary_said():
    apps = migrate(BEFORE)
    project = apps.get_model("imports", "Project").objects.create(name="Shop", app_id="shop000001")
    ImportJob = apps.get_model("imports", "ImportJob")
    common = {"project": project, "source": "dashboard", "file_name": "f.csv"}
    dry = ImportJob.objects.create(**common, kind="events", dry_run=True, summary={
        "new_events": {"signup": True, "extra": False}, "error_header": ["user_id", "REPRO_ERRORS"]})
    real = ImportJob.objects.create(**common, kind="user_profiles", state="failed", summary={
        "dry_run_job": dry.pk, "profile_types": {"plan": "string"}, "new_profile_keys": ["plan"],
        "ignored_keys": ["old"], "failure": {"template": "unknown column: {name}", "params": {"name": "x"}}})
    direct = ImportJob.objects.create(**common, kind="user_profiles", summary={"direct_upload": {
        "content_type": "text/csv", "expires_at": "2024-05-01T12:00:00+00:00",
        "accept_until": "2024-05-01T12:01:00+00:00", "size": 42, "arrived_at": ARRIVED.isoformat()}})
    summaries = {job.pk: job.summary for job in ImportJob.objects.all()}

    apps = migrate(AFTER)
    jobs = apps.get_model("imports", "ImportJob").objects.in_bulk()
    assert (jobs[dry.pk].planned_events, jobs[dry.pk].error_header) == (
        {"signup": True, "extra": False}, ["user_id", "REPRO_ERRORS"])
    got = jobs[real.pk]
    assert (got.dry_run_job_id, got.profile_key_types, got.new_profile_keys, got.ignored_profile_keys) == (
        dry.pk, {"plan": "string"}, ["plan"], ["old"])
    assert (got.failure_template, got.failure_params) == ("unknown column: {name}", {"name": "x"})
    upload = apps.get_model("imports", "DirectUpload").objects.get(job_id=direct.pk)
    assert (upload.content_type, upload.size, upload.arrived_at) == ("text/csv", 42, ARRIVED)
    assert upload.accept_until == datetime(2024, 5, 1, 12, 1, tzinfo=timezone.utc)

    apps = migrate(BEFORE)
    assert {job.pk: job.summary for job in apps.get_model("imports", "ImportJob").objects.all()} == summaries
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
