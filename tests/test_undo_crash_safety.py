"""An undo killed with SIGKILL mid-way, then resumed: the tables end exactly as before the import."""

import pytest
from django.core.management import call_command
from django.db import connection

from imports.models import AppUser, ImportJob, ImportUndo, ProfileKey
from tests.pipeline.test_crash_safety import manage_process, sigkill_when
from tests.test_undo import tables

ROWS = 20_000

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="crash safety is proven on PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def kill_mid_undo(job: ImportJob) -> ImportUndo:
    """`undo_import JOB --sync` in a real process, SIGKILLed once a quarter of its steps are done."""
    worker = manage_process("undo_import", str(job.pk), "--sync")

    def quarter_done():
        undo = ImportUndo.objects.filter(job=job).first()
        return undo is not None and undo.steps_done >= undo.steps_total // 4

    sigkill_when(worker, quarter_done)
    undo = ImportUndo.objects.get(job=job)
    assert undo.state == "running" and 0 < undo.steps_done < undo.steps_total, "the undo was not killed mid-way"
    return undo


def resume(job: ImportJob) -> ImportUndo:
    call_command("undo_import", str(job.pk), "--sync")
    undo = ImportUndo.objects.get(job=job)
    assert (undo.state, undo.attempts) == ("succeeded", 2)
    return undo


def test_killed_events_undo_resumes_to_exactly_the_tables_before(project, import_file, settings):
    settings.IMPORT_CHUNK_ROWS = 500
    import_file(b"user_id,event_name,event_properties\n" + b"".join(b"u%d,early,\n" % i for i in range(50)), name="a.csv")
    before = tables()
    rows = b"".join(b'u%d,e%d,"{""n"":""%d""}"\n' % (i, i % 9, i) for i in range(ROWS))
    job, _ = import_file(b"user_id,event_name,event_properties\n" + rows)
    kill_mid_undo(job)
    undo = resume(job)
    assert undo.events_removed == ROWS and undo.users_removed == ROWS - 50 and undo.definitions_removed == 9
    assert tables() == before


def test_killed_profiles_undo_resumes_to_exactly_the_tables_before(project, import_file, settings):
    settings.IMPORT_CHUNK_ROWS = 500
    ProfileKey.objects.create(project=project, name="n", type="int")
    AppUser.objects.bulk_create(AppUser(project=project, user_id=f"u{i}", profile={"n": -i}) for i in range(ROWS))
    before = tables()
    rows = b"".join(b"u%d,%d,t%d\n" % (i, i, i) for i in range(ROWS))
    job, _ = import_file(b"user_id,n,tag\n" + rows, "user_profiles", "profiles.csv")
    kill_mid_undo(job)
    undo = resume(job)
    assert undo.values_restored == 2 * ROWS and undo.values_kept == 0
    assert tables() == before
