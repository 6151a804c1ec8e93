"""Undo an import (issue 16): the data exactly as before, later imports' values kept, once only."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.utils import timezone

from imports import undo as undo_service
from imports.models import (
    AppUser,
    AuditRecord,
    EventDefinition,
    ImportedEventBatch,
    ImportJob,
    ImportUndo,
    ProfileBeforeImage,
    ProfileKey,
    TrackedEvent,
)

EVENTS = b"user_id,event_name,event_properties\n"
DATA_MODELS = [AppUser, TrackedEvent, EventDefinition, ProfileKey, ImportedEventBatch, ProfileBeforeImage]


def tables():
    """Every row of every table an import writes, as plain values in primary-key order."""
    return {
        model.__name__: [model_to_dict(row, fields=[f.name for f in model._meta.fields]) for row in model.objects.order_by("pk")]
        for model in DATA_MODELS
    }


@pytest.fixture
def undo_import(capsys):
    """Run `undo_import JOB --sync`; returns (exit code, printed JSON summary)."""

    def run(job):
        capsys.readouterr()
        try:
            call_command("undo_import", str(job.pk), "--sync")
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    return run


@pytest.fixture
def small_chunks(settings):
    settings.IMPORT_CHUNK_ROWS = 2


def test_events_import_then_undo_leaves_every_table_exactly_as_before(project, import_file, undo_import, small_chunks):
    project.max_enabled_events = 3
    project.save()
    import_file(EVENTS + b'old1,signup,"{""a"":""1""}"\nold2,open,\n', name="earlier.csv")
    before = tables()
    # Existing and new users and events; "e4" and "e5" pass the limit and are created Off.
    job, _ = import_file(
        EVENTS + b'old1,signup,\nnew1,signup,"{""x"":""y""}"\nnew2,buy,\nold2,e4,\nnew1,e5,\nnew3,open,\n,bad,\n'
    )
    assert (job.imported, job.failed) == (4, 3)
    assert EventDefinition.objects.filter(project=project, enabled=True).count() == 3
    code, summary = undo_import(job)
    assert code == 0 and summary["state"] == "succeeded"
    assert (summary["events_removed"], summary["users_removed"], summary["definitions_removed"]) == (4, 3, 3)
    assert tables() == before
    assert EventDefinition.objects.filter(project=project, enabled=True).count() == 2  # the limit's count is back


def test_profiles_import_then_undo_leaves_every_table_exactly_as_before(project, import_file, undo_import, small_chunks):
    import_file(EVENTS + b"u1,a,\nu2,a,\nu3,a,\nu4,a,\n")
    import_file(b"user_id,plan,score\nu1,free,1\nu2,pro,\n", "user_profiles", "earlier.csv")
    AppUser.objects.filter(user_id="u4").update(profile={"legacy": "x"})  # a value no import recorded
    before = tables()
    # u1 appears in two chunks (the later row wins), u3 gets its first values, "ltv" is a new key,
    # an empty value leaves the key as it was, and an unknown user fails.
    job, _ = import_file(
        b"user_id,plan,score,ltv\nu1,pro,2,\nu2,,5,1.5\nu3,gold,,\nu1,team,,9.25\nghost,x,1,1\nu4,free,3,2\n",
        "user_profiles", "wrong.csv",
    )
    assert (job.imported, job.failed) == (5, 1)
    assert AppUser.objects.get(user_id="u1").profile == {"plan": "team", "score": 2, "ltv": "9.25"}
    code, summary = undo_import(job)
    assert code == 0 and summary["state"] == "succeeded"
    assert summary["values_restored"] == 9 and summary["values_kept"] == 0 and summary["definitions_removed"] == 1
    assert summary["report"] == ""
    assert tables() == before


def test_a_later_imports_values_stay_and_the_report_lists_them(project, import_file, undo_import):
    import_file(EVENTS + b"u1,a,\nu2,a,\nu3,a,\n")
    first, _ = import_file(b"user_id,plan,score\nu1,free,1\nu2,free,2\nu3,free,3\n", "user_profiles", "a.csv")
    second, _ = import_file(b"user_id,plan\nu1,pro\nu3,team\n", "user_profiles", "b.csv")
    code, summary = undo_import(first)
    assert code == 0 and (summary["values_restored"], summary["values_kept"]) == (4, 2)
    profiles = dict(AppUser.objects.values_list("user_id", "profile"))
    assert profiles == {"u1": {"plan": "pro"}, "u2": {}, "u3": {"plan": "team"}}
    setters = dict(AppUser.objects.values_list("user_id", "profile_set_by"))
    assert setters == {"u1": {"plan": second.pk}, "u2": {}, "u3": {"plan": second.pk}}
    undo = ImportUndo.objects.get(job=first)
    with default_storage.open(undo.report_key) as report:
        rows = list(csv.reader(io.StringIO(report.read().decode())))
    assert rows[0] == ["user_id", "key", "value_kept", "set_by_import", "value_before_import", "reason"]
    reason = f"changed by import #{second.pk} after this import"
    assert sorted(rows[1:]) == [["u1", "plan", "pro", str(second.pk), "", reason],
                                ["u3", "plan", "team", str(second.pk), "", reason]]
    # Undoing the later import too brings back what was there before both.
    assert undo_import(second)[0] == 0
    assert dict(AppUser.objects.values_list("user_id", "profile")) == {"u1": {}, "u2": {}, "u3": {}}


def test_users_and_definitions_another_import_refers_to_are_kept(project, import_file, undo_import):
    job, _ = import_file(EVENTS + b"u1,signup,\nu2,signup,\nu3,open,\n")
    import_file(EVENTS + b"u1,signup,\n", name="later.csv")
    import_file(b"user_id,plan\nu2,pro\n", "user_profiles", "profiles.csv")
    code, summary = undo_import(job)
    assert code == 0 and (summary["users_removed"], summary["definitions_removed"]) == (1, 1)
    assert sorted(AppUser.objects.values_list("user_id", flat=True)) == ["u1", "u2"]
    assert list(EventDefinition.objects.values_list("name", flat=True)) == ["signup"]
    assert list(TrackedEvent.objects.values_list("app_user__user_id", "job_id")) == [("u1", job.pk + 1)]


def test_parts_of_a_parallel_events_import_are_undone_together(project, import_file, undo_import, settings):
    settings.IMPORT_SPLIT_MIN_BYTES = 1
    settings.IMPORT_PART_ROWS = 3
    before = tables()
    job, _ = import_file(EVENTS + b"".join(b"u%d,e%d,\n" % (i, i % 4) for i in range(11)))
    assert job.parts.count() == 4 and job.imported == 11
    code, summary = undo_import(job)
    assert code == 0 and summary["events_removed"] == 11
    assert tables() == before


def test_an_import_is_undone_once(project, import_file, undo_import):
    job, _ = import_file(EVENTS + b"u1,signup,\n")
    assert undo_import(job)[0] == 0
    code, summary = undo_import(job)
    assert code == 1 and summary["message"] == "This import has already been undone."
    with pytest.raises(undo_service.UndoRefused):
        undo_service.import_undo_request(job=job)
    assert ImportUndo.objects.filter(job=job).count() == 1


def test_an_import_past_its_undo_window_says_so(project, import_file, undo_import, settings):
    settings.IMPORT_UNDO_DAYS = 30
    job, _ = import_file(EVENTS + b"u1,signup,\n")
    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=30, minutes=1))
    code, summary = undo_import(job)
    assert code == 1
    assert summary["message"] == "This import finished more than 30 days ago, so it can no longer be undone."
    assert TrackedEvent.objects.count() == 1


def test_before_images_of_imports_past_the_window_are_purged(project, import_file):
    import_file(EVENTS + b"u1,signup,\n")
    old, _ = import_file(b"user_id,plan\nu1,pro\n", "user_profiles", "old.csv")
    recent, _ = import_file(b"user_id,plan\nu1,team\n", "user_profiles", "recent.csv")
    ImportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    assert undo_service.before_images_purge() == 1
    assert list(ProfileBeforeImage.objects.values_list("job_id", flat=True)) == [recent.pk]
    assert undo_service.undo_refusal(ImportJob.objects.get(pk=old.pk)).startswith("This import finished more than")


def test_nothing_to_undo_is_refused(project, import_file):
    dry, _ = import_file(EVENTS + b"u1,signup,\n", "events", "dry.csv", "--dry-run")
    assert undo_service.undo_refusal(dry) == "A validation wrote nothing, so there is nothing to undo."
    failed, _ = import_file(EVENTS.replace(b"user_id", b"uid"))
    assert undo_service.undo_refusal(failed) == "This import wrote nothing, so there is nothing to undo."


def test_undo_writes_audit_records_and_emails_the_members(
    project, import_file, alice, django_capture_on_commit_callbacks
):
    job, _ = import_file(EVENTS + b"u1,signup,\nu2,signup,\n")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the queued task runs at once (django-q2 sync mode)
        undo = undo_service.import_undo_request(job=job, requested_by=alice)
    undo.refresh_from_db()
    assert undo.state == "succeeded" and undo.notified_at is not None
    records = list(AuditRecord.objects.filter(project=project).order_by("pk").values_list("action", "actor", "job"))
    assert records == [("undo_requested", alice.pk, job.pk), ("undo_finished", alice.pk, job.pk)]
    finished = AuditRecord.objects.get(action="undo_finished")
    assert finished.details["events_removed"] == 2 and finished.actor_label == "alice"
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert mail.outbox[0].subject == "[Repro] Import undone: input.csv"
    assert "Events removed: 2" in mail.outbox[0].body
    undo_service.undo_finished_notify(undo=undo)
    assert len(mail.outbox) == 1  # once


def test_a_failed_undo_can_be_tried_again_and_ends_exact(project, import_file, undo_import, monkeypatch, small_chunks):
    before = tables()
    job, _ = import_file(EVENTS + b"u1,a,\nu2,b,\nu3,c,\nu4,d,\nu5,e,\n")
    real_step, calls = undo_service._step, []

    def failing_step(undo_id):
        calls.append(undo_id)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real_step(undo_id)

    monkeypatch.setattr(undo_service, "_step", failing_step)
    with pytest.raises(RuntimeError):
        undo_service.run(undo_service.import_undo_request(job=job, enqueue=False).pk)
    undo = ImportUndo.objects.get(job=job)
    assert undo.state == "failed" and undo.steps_done == 1
    assert AuditRecord.objects.filter(action="undo_failed").count() == 1
    monkeypatch.setattr(undo_service, "_step", real_step)
    code, summary = undo_import(job)
    assert code == 0 and summary["events_removed"] == 5
    assert tables() == before


# --- The job page, the confirmation, the report; commands ------------------------------------


def page(name, job, suffix=""):
    from django.urls import reverse

    return reverse(f"dashboard:{name}", args=[job.project.app_id, job.pk]) + suffix


def test_the_confirmation_states_what_will_change_and_posting_undoes(
    alice_client, project, import_file, django_capture_on_commit_callbacks
):
    import_file(EVENTS + b"u1,old,\n", name="earlier.csv")
    job, _ = import_file(EVENTS + b"u1,signup,\nu2,signup,\nu3,buy,\n")
    detail = alice_client.get(page("job_detail", job)).content.decode()
    assert page("job_undo", job) in detail and "Undo this import…" in detail
    confirm = alice_client.get(page("job_undo", job))
    assert confirm.context["preview"] == {"events": 3, "created_users": 2, "definitions": ["buy", "signup"]}
    html = confirm.content.decode()
    assert "All 3 events this import tracked will be removed." in html
    assert "The 2 users this import created will be removed" in html
    assert TrackedEvent.objects.count() == 4  # looking changes nothing
    touched = alice_client.get(page("job_data", job)).context["touched_users"]
    assert [user.user_id for user in touched] == ["u1", "u2", "u3"]
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(page("job_undo", job), follow=True)
    assert "Undoing “input.csv” has started." in response.content.decode()
    assert list(TrackedEvent.objects.values_list("event__name", flat=True)) == ["old"]
    html = alice_client.get(page("job_detail", job)).content.decode()
    assert "Undone" in html and "3 events removed" in html and "Undo this import…" not in html
    after = alice_client.get(page("job_data", job))  # not the list read before the undo
    assert after.context["touched_users"] == [] and "This import was undone" in after.content.decode()
    again = alice_client.post(page("job_undo", job), follow=True).content.decode()
    assert "This import has already been undone." in again


def test_a_profiles_confirmation_names_later_imports_and_the_report_downloads(alice_client, project, import_file):
    import_file(EVENTS + b"u1,a,\n")
    first, _ = import_file(b"user_id,plan\nu1,free\n", "user_profiles", "a.csv")
    second, _ = import_file(b"user_id,plan\nu1,pro\n", "user_profiles", "b.csv")
    preview = alice_client.get(page("job_undo", first)).context["preview"]
    assert preview["keys"] == ["plan"] and [job.pk for job in preview["later_imports"]] == [second.pk]
    assert alice_client.get(page("job_undo_report", first)).status_code == 404
    undo_service.run(undo_service.import_undo_request(job=first, enqueue=False).pk)
    report = alice_client.get(page("job_undo_report", first))
    assert b"".join(report.streaming_content).decode().splitlines()[1].startswith("u1,plan,pro,")


def test_the_job_page_says_when_the_undo_window_has_passed(alice_client, project, import_file):
    job, _ = import_file(EVENTS + b"u1,signup,\n")
    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=45))
    html = alice_client.get(page("job_detail", job)).content.decode()
    assert "can no longer be undone" in html and page("job_undo", job) not in html
    assert alice_client.post(page("job_undo", job)).status_code == 302
    assert not ImportUndo.objects.exists()


def test_members_of_another_project_get_404_on_undo_pages_and_actions(client, project, import_file, make_project, make_user):
    job, _ = import_file(EVENTS + b"u1,signup,\n")
    mallory = make_user("mallory")
    own = make_project("Other", owner=mallory)
    client.force_login(mallory)
    for name in ("job_undo", "job_undo_report"):
        assert client.get(page(name, job)).status_code == 404, name
        assert client.get(page(name, job).replace(project.app_id, own.app_id)).status_code == 404, name
    assert client.post(page("job_undo", job)).status_code == 404
    assert client.post(page("job_undo", job).replace(project.app_id, own.app_id)).status_code == 404
    assert not ImportUndo.objects.exists() and TrackedEvent.objects.count() == 1


def test_show_user_prints_profile_values_and_last_20_events_as_json(project, import_file, capsys):
    events, _ = import_file(EVENTS + b"".join(b'u1,e%d,"{""i"":""%d""}"\n' % (i, i) for i in range(25)))
    profiles, _ = import_file(b"user_id,rank,city\nu1,3,Tokyo\n", "user_profiles", "p.csv")
    capsys.readouterr()
    call_command("show_user", project.app_id, "u1")
    shown = json.loads(capsys.readouterr().out)
    assert shown["user_id"] == "u1" and shown["app_id"] == project.app_id
    assert shown["profile"]["rank"]["value"] == 3 and shown["profile"]["rank"]["type"] == "int"
    assert shown["profile"]["city"]["set_by_import"] == profiles.pk and shown["profile"]["city"]["set_at"]
    assert len(shown["events"]) == 20
    assert {(e["import"], e["event"] == f"e{e['properties']['i']}") for e in shown["events"]} == {(events.pk, True)}
    with pytest.raises(Exception, match="no user 'nobody'"):
        call_command("show_user", project.app_id, "nobody")


def test_a_finished_undo_is_told_to_the_projects_webhooks_once(project, import_file, django_capture_on_commit_callbacks):
    from imports.models import WebhookDelivery
    from imports.webhooks import services as webhooks

    endpoint, _ = webhooks.webhook_endpoint_create(project=project, url="https://hooks.example.com/")
    job, _ = import_file(EVENTS + b"u1,signup,\n")
    with django_capture_on_commit_callbacks(execute=False):  # nothing is sent: only the delivery is made
        undo = undo_service.run(undo_service.import_undo_request(job=job, enqueue=False).pk)
        undo_service.undo_finished_notify(undo=undo)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint, event="undo.finished")
    assert [(d.job_id, json.loads(d.body)["type"]) for d in deliveries] == [(job.pk, "undo.finished")]
