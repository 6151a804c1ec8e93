"""Conservation (a property over generated messy files): every data row read ends up exactly once,
imported or in the error CSV with its original values; imported + failed = rows read."""

import io

from django.core.files.storage import default_storage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imports import jobs, pipeline
from imports.core.reader import iter_records, open_decompressed, read_header
from imports.models import AppUser, TrackedEvent

EVENT_FIELDS = {
    "user_id": st.sampled_from([b"u1", b"u2", b"", b"u" * 192, b"\xff\xfe", b'"quoted, user"', b"u\r\n3"]),
    "event_name": st.sampled_from([b"buy", b"view", b"", b"___repro___x", b"e" * 191, b"\xc3"]),
    "event_properties": st.sampled_from([
        b"", b"{}", b'"{""k"":""v""}"', b'"{""k"":1}"', b"[1]", b"{broken", b'"{""a"":""b"",""a"":""c""}"',
        b'"{""' + b"k" * 49 + b'"":""v""}"', b'"{""line"":\n""x""}"', b'"{""k"":""\\u0000""}"',
    ]),
}
ROW = st.builds(
    lambda u, e, p, extra: b",".join([u, e, p] + extra),
    EVENT_FIELDS["user_id"], EVENT_FIELDS["event_name"], EVENT_FIELDS["event_properties"],
    st.lists(st.sampled_from([b"x", b""]), max_size=1),
) | st.sampled_from([b"only_one_field", b""])
FILE = st.tuples(st.lists(ROW, min_size=1, max_size=30), st.sampled_from([b"\n", b"\r\n"]))

PROFILE_ROW = st.builds(
    lambda u, a, b: b",".join([u, a, b]),
    st.sampled_from([b"u1", b"u2", b"nobody", b"", b"\xff"]),
    st.sampled_from([b"1", b"-2", b"1.5", b"x", b"", b"2020-01-01T00:00:00Z", b"\x80"]),
    st.sampled_from([b"a", b"", b" b ", b'"c,d"']),
) | st.sampled_from([b"u1,1,2,3", b"u1"])


def records_of(data: bytes):
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    return {record.number: record.values for record in iter_records(stream, start=header.end)}


def run_import(project, kind, data):
    job = jobs.import_job_create(project=project, kind=kind, source="command", file_name="f.csv",
                                 content=io.BytesIO(data), enqueue=False)
    return pipeline.run(job.pk)


def assert_conserved(job, data, errors_first):
    rows = records_of(data)
    assert job.state in ("succeeded", "succeeded_with_errors"), job.failure_message
    assert job.rows_read == len(rows)
    assert job.imported + job.failed == job.rows_read
    failed_numbers = sorted(job.row_errors.values_list("number", flat=True))
    assert len(failed_numbers) == job.failed
    if job.failed:
        with default_storage.open(job.error_csv_key, "rb") as f:
            written = list(records_of(f.read()).values())
        assert len(written) == job.failed
        for number, line in zip(failed_numbers, written, strict=True):
            reasons, values = (line[0], line[1:]) if errors_first else (line[-1], line[:-1])
            assert reasons
            original = rows[number]
            assert values[: len(original)] == original
            assert all(v == "" for v in values[len(original):])  # a short row padded to the header


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FILE)
def test_events_every_row_imported_or_reported(project, generated):
    rows, newline = generated
    data = newline.join([b"user_id,event_name,event_properties", *rows]) + newline
    before = TrackedEvent.objects.count()
    job = run_import(project, "events", data)
    assert TrackedEvent.objects.count() - before == job.imported
    assert_conserved(job, data, errors_first=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(PROFILE_ROW, min_size=1, max_size=30))
def test_profiles_every_row_imported_or_reported(project, rows):
    AppUser.objects.get_or_create(project=project, user_id="u1")
    AppUser.objects.get_or_create(project=project, user_id="u2")
    data = b"\n".join([b"user_id,n,s", *rows]) + b"\n"
    job = run_import(project, "user_profiles", data)
    assert_conserved(job, data, errors_first=True)
