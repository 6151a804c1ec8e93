from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.core.profiles import (
    INT64_MAX,
    INT64_MIN,
    MAX_HEADER_BYTES,
    MESSAGE_UNREGISTERED_USER,
    ProfileColumns,
    ProfileType,
    ValidProfile,
    check_profile_key_limit,
    coerce,
    from_json_value,
    infer_type,
    infer_types,
    profile_columns,
    to_json_value,
    validate_profile,
)
from imports.core.reader import FileFormatError
from tests.core.conftest import read_file

S, I, D, T = ProfileType.STRING, ProfileType.INT, ProfileType.DECIMAL, ProfileType.DATETIME
UTC = timezone.utc


def columns_of(header: bytes) -> ProfileColumns:
    return profile_columns(read_file(header + b"\n", max_bytes=MAX_HEADER_BYTES)[0])


def run(data: bytes, known: dict[str, ProfileType] | None = None) -> tuple[dict, list]:
    """Infer like the pipeline (first rows of the same file), then validate every row."""
    header, records = read_file(data, max_bytes=MAX_HEADER_BYTES)
    columns = profile_columns(header)
    types = infer_types(records, columns, known or {})
    return types, [validate_profile(record, columns, types) for record in records]


# --- header -----------------------------------------------------------------------


def test_seed_example_file() -> None:
    data = (
        b"user_id,birthday,name,point\n"
        b"123456,2000-01-01T00:00:00+09:00,foo,123\n"
        b"234567,2001-02-01T00:00:00+09:00,bar,234\n"
    )
    types, results = run(data)
    assert types == {"birthday": T, "name": S, "point": I}
    nine = timezone(timedelta(hours=9))
    assert results[0] == ValidProfile(
        "123456", {"birthday": datetime(2000, 1, 1, tzinfo=nine), "name": "foo", "point": 123}
    )


def test_columns_exclude_user_id_and_repro_errors() -> None:
    assert columns_of(b"REPRO_ERRORS,name,user_id,age") == ProfileColumns(
        user_id=2, keys={"name": 1, "age": 3}, width=4
    )


def test_header_over_102400_bytes() -> None:
    with pytest.raises(FileFormatError, match="^header size over 102400 bytes$"):
        columns_of(b"user_id," + b"k" * 102_400)


def test_header_of_102400_bytes_is_accepted() -> None:
    names = b"user_id" + b"".join(b",k%07d" % i for i in range(11_377))
    assert len(names) == 102_400
    assert len(columns_of(names).keys) == 11_377


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"user_id,name", "newline character not found"),
        (b"user_id,,name\n", "empty columns"),
        (b"user_id,name,\n", "empty columns"),
        (b"\n", "empty columns"),
        (b"user_id,a,b,a,b,a\n", "duplicate columns a, b"),
        (b"user_id,user_id\n", "duplicate columns user_id"),
        (b"id,name\n", "user_id column is required"),
        (b"user_id,na\xffme\n", "na\ufffdme should be UTF-8"),
        (b"user_id,na\x00me\n", "na\ufffdme should be UTF-8"),
        ("user_id,".encode() + "鍵".encode() * 256 + b"\n", "鍵" * 32 + "… is longer than 255 characters"),
    ],
)
def test_header_errors(data: bytes, message: str) -> None:
    with pytest.raises(FileFormatError) as excinfo:
        run(data)
    assert str(excinfo.value) == message


def test_key_of_255_characters_is_accepted() -> None:
    assert list(columns_of("user_id,".encode() + "鍵".encode() * 255).keys) == ["鍵" * 255]


def test_repeated_repro_errors_columns_are_all_ignored() -> None:
    assert columns_of(b"REPRO_ERRORS,user_id,REPRO_ERRORS").keys == {}


def test_profile_key_limit() -> None:
    check_profile_key_limit(new_keys=2, enabled_count=498, limit=500)
    with pytest.raises(FileFormatError, match=r"^This app has exceeded the limit of enabled user profile\(500\)$"):
        check_profile_key_limit(new_keys=3, enabled_count=498, limit=500)


# --- inference --------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, expected",
    [
        ([], S),
        (["", ""], S),
        (["1", "-2", "", "0", str(INT64_MAX), str(INT64_MIN)], I),
        (["1", str(INT64_MAX + 1)], D),
        (["1", str(INT64_MIN - 1)], D),
        (["1" * 5000], D),
        (["1", "12.5", "-0.5"], D),
        (["1", "12."], S),
        (["1", ".5"], S),
        (["1", "1e5"], S),
        (["1", "+1"], S),
        (["1", " 1"], S),
        (["1", "1,000"], S),
        (["1", "١٢"], S),
        (["007"], I),  # SPEC 4: all integers are int, leading zeros included
        (["1", "-01"], I),
        (["0.5", "00.5"], D),
        (["2000-01-01", "2000-01-01T10:20:30Z", "2000-01-01T10:20+09:00", "2000-01-01T10:20:30.123456789-0330"], T),
        (["2000-01-01T00:00:00+09"], T),
        (["2000-01-01 00:00:00.000"], S),
        (["2000-13-01"], S),
        (["2000-02-30"], S),
        (["2000-01-01T24:00:00Z"], S),
        (["2000-01-01T10:00:00+24:00"], S),
        (["2000-01-01T10:00:00+09:60"], S),
        (["2000-01-01", "1"], S),
        (["foo", "1"], S),
    ],
)
def test_infer_type(values: list[str], expected: ProfileType) -> None:
    assert infer_type(values) is expected


def test_first_1000_ints_then_a_decimal_fails_as_integer() -> None:
    data = b"user_id,point\n" + b"".join(b"u%d,%d\n" % (i, i) for i in range(1000)) + b"u1000,12.5\n"
    types, results = run(data)
    assert types == {"point": I}
    assert all(isinstance(result, ValidProfile) for result in results[:1000])
    assert results[1000] == ["point should be integer"]


def test_a_decimal_within_the_first_1000_rows_makes_the_key_decimal() -> None:
    data = b"user_id,point\n" + b"".join(b"u%d,%d\n" % (i, i) for i in range(999)) + b"u999,12.5\n"
    types, results = run(data)
    assert types == {"point": D}
    assert results[999] == ValidProfile("u999", {"point": Decimal("12.5")})


def test_known_keys_keep_their_type() -> None:
    types, results = run(b"user_id,point,rank\nu1,12,gold\n", known={"point": S, "rank": I})
    assert types == {"point": S, "rank": I}
    assert results == [["rank should be integer"]]


def test_inference_skips_invalid_utf8_and_rows_with_too_many_values() -> None:
    types, results = run(b"user_id,a,b\nu1,\xff,2\nu2,1,x,3\nu3,1,2\n")
    assert types == {"a": I, "b": I}
    assert results[:2] == [["a should be UTF-8"], ["too many values", "b should be integer"]]


# --- rows -------------------------------------------------------------------------


def test_empty_values_and_missing_fields_leave_keys_unchanged() -> None:
    _, results = run(b"user_id,a,b,c\nu1,,2\n", known={"a": I, "b": I, "c": I})
    assert results == [ValidProfile("u1", {"b": 2})]


def test_values_are_taken_exactly_as_written() -> None:
    _, results = run(b"user_id,name,n\n u1 , foo , 12\n", known={"n": I})
    assert results == [["n should be integer"]]
    _, results = run(b"user_id,name\n u1 , foo \n")
    assert results == [ValidProfile(" u1 ", {"name": " foo "})]


def test_every_row_error_is_listed_in_column_order() -> None:
    data = b"user_id,when,price,count,name\nu\xff,yesterday,cheap,1.5,\xfe,extra\n"
    known = {"when": T, "price": D, "count": I, "name": S}
    _, results = run(data, known=known)
    assert results == [
        [
            "too many values",
            "user_id should be UTF-8",
            "when should be iso8601 format",
            "price should be decimal",
            "count should be integer",
            "name should be UTF-8",
        ]
    ]


def test_seed_error_examples() -> None:
    data = (
        b"user_id,birthday,name,point\n"
        b"123456,2000-01-01 00:00:00.000,foo,123\n"
        b"234567,2001-02-01T00:00:00+09:00,bar,234.0\n"
    )
    _, results = run(data, known={"birthday": T, "point": I})
    assert results == [["birthday should be iso8601 format"], ["point should be integer"]]


def test_unregistered_user_message_is_the_seed_wording() -> None:
    assert MESSAGE_UNREGISTERED_USER == "user_id is unregistered user"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789-.:TZ+ a\xff", max_size=12), min_size=1, max_size=5))
def test_every_row_is_either_valid_or_explained(fields: list[str]) -> None:
    row = ",".join(fields).encode("utf-8", "surrogateescape") + b"\n"
    for known in ({}, {"a": I, "b": D, "c": T}):
        _, results = run(b"user_id,a,b,c\n" + row, known=known)
        for result in results:
            assert isinstance(result, ValidProfile) or (result and all(result))


# --- coercion and storage ---------------------------------------------------------


@pytest.mark.parametrize(
    "value, type_, expected",
    [
        ("12", I, 12),
        ("-0", I, 0),
        ("007", I, 7),
        (str(INT64_MAX), I, INT64_MAX),
        (str(INT64_MIN), I, INT64_MIN),
        ("12", D, Decimal("12")),
        ("-12.50", D, Decimal("-12.50")),
        ("0." + "1" * 60, D, Decimal("0." + "1" * 60)),
        ("2000-01-01", T, datetime(2000, 1, 1, tzinfo=UTC)),
        ("2000-01-01T10:20", T, datetime(2000, 1, 1, 10, 20, tzinfo=UTC)),
        ("2000-01-01T10:20:30.5Z", T, datetime(2000, 1, 1, 10, 20, 30, 500_000, tzinfo=UTC)),
        ("2000-01-01T10:20:30.1234567+09:00", T, datetime(2000, 1, 1, 1, 20, 30, 123_456, tzinfo=UTC)),
        ("2000-01-01T10:20:30-0330", T, datetime(2000, 1, 1, 13, 50, 30, tzinfo=UTC)),
        (" x ", S, " x "),
    ],
)
def test_coerce(value: str, type_: ProfileType, expected: object) -> None:
    result = coerce(value, type_)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "value, type_",
    [
        (str(INT64_MAX + 1), I),
        (str(INT64_MIN - 1), I),
        ("1" * 5000, I),
        ("1.0", I),
        ("+1", I),
        ("１", I),
        ("1\n", I),
        ("1e3", D),
        ("NaN", D),
        ("Infinity", D),
        (".5", D),
        ("2000-01-01 10:00:00", T),
        ("2000-01-01T10:00:00+09:00\n", T),
        ("0000-01-01", T),
        ("20000101T100000Z", T),
        ("", I),
    ],
)
def test_coerce_refuses(value: str, type_: ProfileType) -> None:
    with pytest.raises(ValueError):
        coerce(value, type_)


def test_naive_and_date_only_values_are_utc() -> None:
    assert coerce("2000-01-01T00:00:00", T).utcoffset() == timedelta(0)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value, type_, stored",
    [
        (12, I, 12),
        (Decimal("12.50"), D, "12.50"),
        (Decimal("-0." + "9" * 40), D, "-0." + "9" * 40),
        (datetime(2000, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))), T, "2000-01-01T09:00:00+09:00"),
        ("text", S, "text"),
    ],
)
def test_json_values_round_trip(value: object, type_: ProfileType, stored: object) -> None:
    assert to_json_value(value) == stored  # type: ignore[arg-type]
    back = from_json_value(stored, type_)  # type: ignore[arg-type]
    assert back == value and type(back) is type(value)
    if isinstance(value, datetime):
        assert back.utcoffset() == value.utcoffset()  # type: ignore[union-attr]


def test_unregistered_user_is_a_row_error_in_order():
    header, records = read_file(b"user_id,point\nu1,1\nu2,x\nu3,2\n")
    columns = profile_columns(header)
    results = [validate_profile(r, columns, {"point": I}, registered={"u1"}) for r in records]
    assert results[0] == ValidProfile("u1", {"point": 1})
    assert results[1] == [MESSAGE_UNREGISTERED_USER, "point should be integer"]
    assert results[2] == ["user_id is unregistered user"]
