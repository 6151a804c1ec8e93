"""Control characters in an S3 key or an upload's name (issue 12): the job and its email still
happen; the name is shown with U+FFFD in their place, and the subject is plain text."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from imports import pipeline
from imports.core.names import display_name
from imports.models import ImportJob
from imports.s3_discovery import s3_imports_discover

EVENTS = b"user_id,event_name,event_properties\nu1,a,\n"


def key(project, name):
    return f"{project.app_id}/event_bulk_tracking/{name}"


def test_display_name_replaces_every_control_character():
    assert display_name("a\nb\rc\td\x00e\x1bf\x85g\u2028h.csv & <b>") == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh.csv & <b>"


def test_a_key_with_a_line_break_fails_its_job_and_its_email_goes_out(put_object, project):
    # A CR breaks an email header as an LF does (moto cannot store a key with an LF).
    put_object(key(project, "bad\rname.csv"), EVENTS)
    put_object(key(project, "good.csv"), EVENTS)

    created = s3_imports_discover()  # the run goes on past the bad name

    assert len(created) == 2
    bad = ImportJob.objects.get(file_name="bad\rname.csv")
    assert bad.state == "failed"
    assert bad.failure_message == "'bad\ufffdname.csv' has a space in its name: rename the file without spaces"
    (email,) = [m for m in mail.outbox if "bad" in m.subject]
    assert email.subject == "[Repro] Import failed: bad\ufffdname.csv"
    assert ImportJob.objects.get(file_name="good.csv").state == "queued"


def test_a_key_with_another_control_character_is_imported_and_emailed(put_object, project):
    put_object(key(project, "odd\x07&<name>.csv"), EVENTS)
    (job,) = s3_imports_discover()
    job = pipeline.run(job.pk)
    assert (job.state, job.imported) == ("succeeded", 1)
    assert mail.outbox[-1].subject == "[Repro] Import finished: odd\ufffd&<name>.csv"  # plain text, not &amp;


@pytest.mark.parametrize("name", ["tab\there.csv", "bell\x07&<b>.csv"])
def test_an_upload_name_with_control_characters(project, alice_client, name):
    upload = SimpleUploadedFile(name, EVENTS, content_type="text/csv")
    reply = alice_client.post(reverse("dashboard:events_import", args=[project.app_id]), {"file": upload})
    assert reply.status_code == 302
    job = pipeline.run(ImportJob.objects.get(project=project).pk)
    assert job.state == "succeeded"
    shown = display_name(job.file_name)
    assert mail.outbox[-1].subject == f"[Repro] Import finished: {shown}"
    page = alice_client.get(reverse("dashboard:job_detail", args=[project.app_id, job.pk])).content.decode()
    assert "\x07" not in page and "\t" not in shown and escape(shown) in page
