"""`--dry-run` validates the whole file with the same code path and writes nothing."""

from django.db import connection

from imports.models import AppUser, EventDefinition, ProfileKey, TrackedEvent


def table_contents():
    return {
        "users": sorted(AppUser.objects.values_list("user_id", "profile")),
        "events": sorted(EventDefinition.objects.values_list("name", "enabled")),
        "tracked": TrackedEvent.objects.count(),
        "keys": sorted(ProfileKey.objects.values_list("name", "type")),
    }


def test_events_dry_run_reports_and_changes_nothing(import_file, project):
    project.max_enabled_events = 2
    project.save()
    EventDefinition.objects.create(project=project, name="old", display_name="old")
    before = table_contents()
    job, summary = import_file(
        b"user_id,event_name,event_properties\nu1,old,\nu1,new1,\nu2,new2,\nu3,,\n", "events", "e.csv", "--dry-run")
    assert table_contents() == before
    assert summary["dry_run"] is True
    assert (summary["state"], summary["rows"], summary["imported"], summary["failed"]) == (
        "validated", 4, 2, 2)
    assert summary["new_events"] == {"new1": True, "new2": False}
    assert (summary["enabled_events"], summary["max_enabled_events"]) == (1, 2)
    assert job.dry_run and job.error_csv_key


def test_profiles_dry_run_reports_inferred_types_and_changes_nothing(import_file, project):
    AppUser.objects.create(project=project, user_id="u1", profile={"old": "x"})
    before = table_contents()
    job, summary = import_file(b"user_id,point,since\nu1,1,2020-01-01\nghost,2,\n", "user_profiles", "p.csv",
                               "--dry-run")
    assert table_contents() == before
    assert summary["profile_types"] == {"point": "int", "since": "datetime"}
    assert summary["new_profile_keys"] == ["point", "since"]
    assert (summary["imported"], summary["failed"]) == (1, 1)
    assert connection.vendor in ("sqlite", "postgresql")
