"""Jobs read their file straight from the bucket: a customer's upload ends as rows and an email,
a dashboard upload stored in the bucket imports the same way, and memory stays flat."""

import gzip
import io
import threading

import psutil
from django.core import mail

from imports import jobs, pipeline, s3
from imports.credentials import s3_access_key_issue
from imports.models import AppUser, TrackedEvent
from imports.s3_discovery import s3_imports_discover
from tests.support import expire_leases

HEADER = b"user_id,event_name,event_properties\n"


class WorkerKilled(BaseException):
    """Stands for the worker process dying: not an Exception, so the pipeline cannot record a failure."""


def test_customer_upload_is_discovered_imported_and_emailed(
    s3_bucket, project, iam_enforced, customer_s3, django_capture_on_commit_callbacks
):
    key, secret = s3_access_key_issue(project=project)
    body = gzip.compress(HEADER + b'u1,purchase,"{""item"":""tea""}"\nu2,opened,\n')
    with iam_enforced():
        customer_s3(key.access_key_id, secret).put_object(
            Bucket=s3_bucket, Key=f"{project.app_id}/event_bulk_tracking/nightly.csv.gz", Body=body
        )

    with django_capture_on_commit_callbacks(execute=True):  # the queued task runs inline (Q_SYNC)
        (job,) = s3_imports_discover()

    job.refresh_from_db()
    assert (job.state, job.rows_read, job.imported, job.failed) == ("succeeded", 2, 2, 0)
    events = TrackedEvent.objects.filter(project=project, job=job).order_by("app_user__user_id")
    assert [(e.app_user.user_id, e.event.name, e.properties) for e in events] == [
        ("u1", "purchase", {"item": "tea"}),
        ("u2", "opened", {}),
    ]
    (email,) = mail.outbox
    assert email.to == ["alice@example.com"]
    assert "nightly.csv.gz" in email.body and "Amazon S3" in email.body


def test_profile_upload_is_imported_from_its_own_folder(put_object, project, django_capture_on_commit_callbacks):
    AppUser.objects.create(project=project, user_id="u1")
    put_object(f"{project.app_id}/user_profile_bulk_import/plans.csv", b"user_id,plan\nu1,gold\n")
    with django_capture_on_commit_callbacks(execute=True):
        (job,) = s3_imports_discover()
    job.refresh_from_db()
    assert (job.kind, job.state, job.imported) == ("user_profiles", "succeeded", 1)
    assert AppUser.objects.get(project=project, user_id="u1").profile == {"plan": "gold"}


def test_dashboard_upload_is_stored_in_the_bucket_and_imported_from_it(s3_bucket, project):
    job = jobs.import_job_create(
        project=project, kind="events", source="dashboard", file_name="events.csv",
        content=io.BytesIO(HEADER + b"u1,opened,\n"), enqueue=False,
    )
    job = pipeline.run(job.pk)
    assert (job.state, job.imported) == ("succeeded", 1)
    assert job.storage_key.startswith(f"uploads/{project.app_id}/events/")


def test_an_interrupted_job_resumes_from_its_checkpoint_on_the_stream(put_object, project, settings):
    settings.IMPORT_CHUNK_ROWS = 10
    rows = b"".join(b"u%d,opened,\n" % number for number in range(35))
    put_object(f"{project.app_id}/event_bulk_tracking/e.csv", HEADER + rows)
    (job,) = s3_imports_discover()

    def die_after_first_chunk(job):
        raise WorkerKilled

    try:
        pipeline.run(job.pk, progress=die_after_first_chunk)
    except WorkerKilled:
        pass
    job.refresh_from_db()
    assert (job.state, job.rows_read) == ("running", 10)
    expire_leases(job)  # the killed run renews nothing
    # The S3 body cannot seek: the second run reads forward to the checkpoint.
    job = pipeline.run(job.pk)
    assert (job.state, job.rows_read, job.imported) == ("succeeded", 35, 35)
    assert TrackedEvent.objects.filter(job=job).count() == 35


def test_object_replaced_before_its_import_fails_that_job_and_the_new_one_imports(put_object, project):
    key = f"{project.app_id}/event_bulk_tracking/e.csv"
    put_object(key, HEADER + b"u1,first,\n")
    (job,) = s3_imports_discover()
    put_object(key, HEADER + b"u1,second,\n")

    job = pipeline.run(job.pk)

    assert job.state == "failed"
    assert job.failure_message.startswith("the file was replaced in the bucket before it was imported")
    (replacement,) = s3_imports_discover()
    assert pipeline.run(replacement.pk).state == "succeeded"
    assert list(TrackedEvent.objects.values_list("event__name", flat=True)) == ["second"]


def test_object_deleted_before_its_import_fails_its_job(put_object, project, s3_bucket):
    key = f"{project.app_id}/event_bulk_tracking/e.csv"
    put_object(key)
    (job,) = s3_imports_discover()
    s3.client("s3").delete_object(Bucket=s3_bucket, Key=key)

    job = pipeline.run(job.pk)

    assert (job.state, job.failure_message) == ("failed", "the file was deleted from the bucket before it was imported")


class PeakRss:
    """The process's peak resident memory above its level on entry, sampled every 5 ms."""

    def __enter__(self):
        self._process = psutil.Process()
        self.base = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def test_a_100_mb_object_imports_with_flat_memory(s3_bucket, project, tmp_path):
    # Rows of about 9 KB: 100 MB in ~11,600 rows. The padding sits in the REPRO_ERRORS column,
    # which the import reads and ignores, so the database (in this process on SQLite) stays small.
    path = tmp_path / "big.csv"
    padding = b"x" * 9000
    with path.open("wb") as out:
        out.write(b"user_id,event_name,event_properties,REPRO_ERRORS\n")
        number = 0
        while out.tell() < 100 * 1024 * 1024:
            out.write(b'u%d,opened,"{""n"":""%d""}",%s\n' % (number % 50, number, padding))
            number += 1
    s3.client("s3").upload_file(str(path), s3_bucket, f"{project.app_id}/event_bulk_tracking/big.csv")
    (job,) = s3_imports_discover()

    with PeakRss() as memory:
        job = pipeline.run(job.pk)

    assert (job.state, job.imported) == ("succeeded", number)
    assert memory.growth < 60 * 1024 * 1024, f"RSS grew by {memory.growth / 1024 / 1024:.0f} MB"


def test_error_csv_gone_from_the_bucket_is_a_404_page(s3_bucket, project, alice_client):
    job = jobs.import_job_create(
        project=project, kind="events", source="dashboard", file_name="events.csv",
        content=io.BytesIO(HEADER + b",opened,\n"),
    )
    job = pipeline.run(job.pk)
    url = f"/p/{project.app_id}/jobs/{job.pk}/errors.csv"
    assert b"".join(alice_client.get(url).streaming_content).endswith(b"'user_id' is invalid\n")
    s3.client("s3").delete_object(Bucket=s3_bucket, Key=job.error_csv_key)
    response = alice_client.get(url)
    assert response.status_code == 404
    assert "is no longer stored" in response.content.decode()
