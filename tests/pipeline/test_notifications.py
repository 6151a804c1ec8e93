"""The completion email: who receives it, what it says, and that its link works only for members."""

from django.core import mail

from imports import services
from imports.models import Membership

HEADER = b"user_id,event_name,event_properties\n"


def test_members_with_notifications_on_get_one_email_each(import_file, project, make_user, make_project):
    bob = make_user("bob")
    services.membership_add(project=project, user=bob)
    carol = make_user("carol")
    services.membership_set_notifications(membership=services.membership_add(project=project, user=carol),
                                          enabled=False)
    make_project("Other", owner=make_user("dave"))  # another project's member
    job, _ = import_file(HEADER + b"u1,e,\n,e,\n", "events", "daily.csv")
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    message = mail.outbox[0]
    assert "daily.csv" in message.subject
    for text in ("daily.csv", "Events", "Command", "Rows read: 2", "Imported: 1", "Failed: 1",
                 f"/p/{project.app_id}/jobs/{job.pk}/errors.csv"):
        assert text in message.body, text
    html = message.alternatives[0][0]
    assert f"/p/{project.app_id}/jobs/{job.pk}/errors.csv" in html


def test_file_failure_email_gives_the_reason(import_file):
    import_file(b"user_id,event_name,event_properties,x\nu,e,\n")
    assert len(mail.outbox) == 1
    assert "Import failed" in mail.outbox[0].subject
    assert "unknown column: x" in mail.outbox[0].body


def test_email_in_the_members_language(import_file, project, alice):
    Membership.objects.filter(user=alice).update(language="ja")
    import_file(HEADER + b"u1,e,\n")
    assert "インポート" in mail.outbox[0].subject
    assert "インポート済み: 1" in mail.outbox[0].body


def test_email_is_sent_once_even_if_the_job_runs_again(import_file):
    from imports import pipeline

    job, _ = import_file(HEADER + b"u1,e,\n")
    pipeline.run(job.pk)
    assert len(mail.outbox) == 1


def test_error_csv_link_needs_a_logged_in_member(import_file, client, make_user, make_project):
    job, _ = import_file(HEADER + b",e,\n")
    link = mail.outbox[0].body.split("http://127.0.0.1:8000", 2)[1].split()[0]
    assert client.get(link).status_code == 302  # to the login page
    outsider = make_user("mallory")
    make_project("Mine", owner=outsider)
    client.force_login(outsider)
    assert client.get(link).status_code == 404
    client.force_login(job.project.members.get(username="alice"))
    response = client.get(link)
    assert response.status_code == 200
    assert b"REPRO_ERRORS" in b"".join(response.streaming_content)


def test_dry_run_email_says_what_would_be_imported(import_file, project):
    from imports.models import AppUser

    AppUser.objects.create(project=project, user_id="u1")
    import_file(b"user_id,plan\nu1,gold\nghost,x\n", "user_profiles", "plans.csv", "--dry-run")
    (message,) = mail.outbox
    assert message.subject == "[Repro] Validation finished: plans.csv"
    body = message.body
    for text in ("A file was validated for Shop. Nothing was imported.", "State: Validated", "Would be imported: 1",
                 "Failed: 1", "User profile keys in this file, with the types an import would give them:\n  plan (string)"):
        assert text in body, text
    assert "updated" not in body and "Imported:" not in body
    assert "User profile keys in this file" in message.alternatives[0][0]


def test_dry_run_that_fails_says_validation_failed(import_file):
    import_file(b"user_id,event_name,event_properties,x\nu,e,\n", "events", "bad.csv", "--dry-run")
    (message,) = mail.outbox
    assert message.subject == "[Repro] Validation failed: bad.csv"
    assert message.body.startswith("A file could not be validated for Shop. Nothing was imported.")
