"""User Profile Bulk Import end to end through `import_csv user_profiles --sync` (SPEC 4)."""

import csv
import gzip
import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage

from imports.core.profiles import ProfileType, from_json_value
from imports.models import AppUser, ProfileKey


@pytest.fixture
def users(project):
    return {uid: AppUser.objects.create(project=project, user_id=uid) for uid in ("123456", "234567", "u3")}


def profile(project, user_id):
    user = AppUser.objects.get(project=project, user_id=user_id)
    types = dict(ProfileKey.objects.filter(project=project).values_list("name", "type"))
    return {key: from_json_value(value, ProfileType(types[key])) for key, value in user.profile.items()}


def error_rows(job):
    with default_storage.open(job.error_csv_key, "rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode("utf-8", "surrogateescape"))))


def test_seed_file_sets_typed_profiles(import_file, project, users):
    job, summary = import_file(
        b"user_id,birthday,name,point\n"
        b"123456,2000-01-01T00:00:00+09:00,foo,123\n"
        b"234567,2001-02-01T00:00:00+09:00,bar,234\n",
        "user_profiles",
    )
    assert (summary["state"], summary["imported"], summary["failed"]) == ("succeeded", 2, 0)
    assert dict(ProfileKey.objects.filter(project=project).values_list("name", "type")) == {
        "birthday": "datetime", "name": "string", "point": "int"}
    assert profile(project, "123456") == {
        "birthday": datetime(1999, 12, 31, 15, tzinfo=timezone.utc), "name": "foo", "point": 123}
    assert isinstance(AppUser.objects.get(user_id="123456").profile["point"], int)


def test_seed_error_example(import_file, project, users):
    ProfileKey.objects.create(project=project, name="point", type="int")
    job, summary = import_file(
        b"user_id,birthday,name,point\n"
        b"123456,2000-01-01 00:00:00.000,foo,123\n"
        b"234567,2001-02-01T00:00:00+09:00,bar,234.0\n",
        "user_profiles",
    )
    # birthday is new: inferred from both values, which are not all ISO 8601 -> string
    assert summary["failed"] == 1
    assert error_rows(job) == [
        ["REPRO_ERRORS", "user_id", "birthday", "name", "point"],
        ["point should be integer", "234567", "2001-02-01T00:00:00+09:00", "bar", "234.0"],
    ]


def test_existing_key_keeps_its_type_and_every_row_error_is_listed(import_file, project, users):
    ProfileKey.objects.create(project=project, name="when", type="datetime")
    ProfileKey.objects.create(project=project, name="price", type="decimal")
    job, summary = import_file(
        b"user_id,when,price,extra\n123456,yesterday,abc,1,2\nnobody,,,\n\xff,,,\n", "user_profiles")
    assert (summary["imported"], summary["failed"]) == (0, 3)
    reasons = [row[0] for row in error_rows(job)[1:]]
    assert reasons == [
        "too many values; when should be iso8601 format; price should be decimal",
        "user_id is unregistered user",
        "user_id should be UTF-8",
    ]


def test_empty_value_leaves_the_key_and_values_are_not_trimmed(import_file, project, users):
    import_file(b"user_id,name,rank\n123456,foo,gold\n", "user_profiles")
    job, summary = import_file(b"user_id,name,rank\n123456,, silver \n", "user_profiles")
    assert summary["imported"] == 1
    assert profile(project, "123456") == {"name": "foo", "rank": " silver "}


def test_later_row_for_the_same_user_wins_across_chunks(import_file, project, users, settings):
    settings.IMPORT_CHUNK_ROWS = 2
    import_file(b"user_id,a,b\nu3,1,x\nu3,2,\nu3,,y\nu3,4,\n", "user_profiles")
    assert profile(project, "u3") == {"a": 4, "b": "y"}


def test_thousand_and_first_value_fails_as_integer(import_file, project):
    AppUser.objects.bulk_create(AppUser(project=project, user_id=f"u{i}") for i in range(1001))
    rows = b"".join(b"u%d,%d\n" % (i, i) for i in range(1000)) + b"u1000,12.5\n"
    job, summary = import_file(b"user_id,score\n" + rows, "user_profiles")
    assert ProfileKey.objects.get(project=project, name="score").type == "int"
    assert (summary["imported"], summary["failed"]) == (1000, 1)
    assert error_rows(job)[1] == ["score should be integer", "u1000", "12.5"]


def test_decimal_keeps_its_digits_and_negative_numbers(import_file, project, users):
    import_file(b"user_id,ltv,delta\n123456,1234567890.123456789,-5\n234567,0.10,7\n", "user_profiles")
    assert profile(project, "123456") == {"ltv": Decimal("1234567890.123456789"), "delta": -5}
    assert profile(project, "234567")["ltv"] == Decimal("0.10")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"user_id,name", "newline character not found"),
        (b"user_id," + b"k" * 102_400 + b"\n", "header size over 102400 bytes"),
        (b"name,age\nx,1\n", "user_id column is required"),
        (b"user_id,,age\n1,,2\n", "empty columns"),
        (b"user_id,a,b,a,b\n", "duplicate columns a, b"),
        (b"user_id,\xffkey\n1,2\n", "\ufffdkey should be UTF-8"),
    ],
)
def test_file_level_messages(import_file, project, content, message):
    job, summary = import_file(content, "user_profiles")
    assert (summary["state"], summary["message"]) == ("failed", message)
    assert not ProfileKey.objects.exists()


def test_key_over_255_characters_fails_the_file(import_file):
    job, summary = import_file(b"user_id," + b"k" * 256 + b"\n1,2\n", "user_profiles")
    assert summary["state"] == "failed" and "is longer than 255 characters" in summary["message"]


def test_profile_key_limit_fails_before_anything_is_written(import_file, project, users):
    project.max_enabled_profile_keys = 2
    project.save()
    ProfileKey.objects.create(project=project, name="old", type="string")
    job, summary = import_file(b"user_id,a,b\n123456,1,2\n", "user_profiles")
    assert summary["message"] == "This app has exceeded the limit of enabled user profile(2)"
    assert set(ProfileKey.objects.values_list("name", flat=True)) == {"old"}
    assert AppUser.objects.get(user_id="123456").profile == {}


def test_off_key_is_not_changed(import_file, project, users):
    ProfileKey.objects.create(project=project, name="locked", type="string", enabled=False)
    job, summary = import_file(b"user_id,locked,free\n123456,x,y\n", "user_profiles")
    assert summary["imported"] == 1
    assert profile(project, "123456") == {"free": "y"}


def test_gzip_and_fixed_error_csv_reimports(import_file, project, users, tmp_path):
    job, _ = import_file(gzip.compress(b"user_id,n\n123456,1\n234567,x\n"), "user_profiles", "p.csv.gz",
                         "--errors-out", str(tmp_path / "e.csv"))
    assert job.failed == 0  # n inferred as string from "1" and "x"
    ProfileKey.objects.filter(name="n").update(type="int")
    job, _ = import_file(b"user_id,n\n123456,1\n234567,x\n", "user_profiles", "p.csv", "--errors-out",
                         str(tmp_path / "e.csv"))
    assert job.failed == 1
    fixed = (tmp_path / "e.csv").read_bytes().replace(b",x\n", b",2\n")
    job, summary = import_file(fixed, "user_profiles", "fixed.csv")
    assert (summary["state"], summary["imported"]) == ("succeeded", 1)
    assert profile(project, "234567") == {"n": 2}


def test_email_lists_the_keys_and_their_types(import_file, users):
    from django.core import mail

    import_file(b"user_id,point,rank\n123456,1,gold\n", "user_profiles")
    body = mail.outbox[0].body
    assert "point (int)" in body and "rank (string)" in body


def test_value_that_is_not_utf8_fails_its_row_with_the_key(import_file, project, users):
    job, summary = import_file(b"user_id,name,city\n123456,ok,Tokyo\n234567,\xff\xfe,Osaka\n", "user_profiles")
    assert (summary["imported"], summary["failed"]) == (1, 1)
    with default_storage.open(job.error_csv_key, "rb") as f:
        assert f.read().splitlines()[1] == b"name should be UTF-8,234567,\xff\xfe,Osaka"
    assert profile(project, "234567") == {}


def test_reason_that_starts_with_a_formula_like_key_cannot_run_in_a_spreadsheet(import_file, project, users):
    key = "=cmd|' /C calc'!A0"
    ProfileKey.objects.create(project=project, name=key, type="int")
    data = b"user_id,=cmd|' /C calc'!A0\nu3,=1+2\n"
    job, summary = import_file(data, "user_profiles")
    assert summary["failed"] == 1
    with default_storage.open(job.error_csv_key, "rb") as f:
        written = f.read()
    # The reason (ours) is made text; the header and the data cell are the file's own bytes.
    assert written == b"REPRO_ERRORS,user_id,=cmd|' /C calc'!A0\n'=cmd|' /C calc'!A0 should be integer,u3,=1+2\n"
    assert error_rows(job)[1] == [f"'{key} should be integer", "u3", "=1+2"]
