import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from imports.core.chunks import Checkpoint, read_chunks
from imports.core.profiles import (
    INT64_MAX,
    INT64_MIN,
    MAX_HEADER_BYTES,
    MESSAGE_UNREGISTERED_USER,
    ProfileColumns,
    ProfileType,
    ValidProfile,
    _convert_present,
    _parse_datetime,
    check_profile_key_limit,
    check_profiles,
    coerce,
    from_json_value,
    infer_type,
    infer_types,
    profile_columns,
    to_json_value,
    validate_profile,
)
from imports.core.reader import FileFormatError, open_decompressed, read_header
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


# --- check_profiles: the column-wise fast path agrees with validate_profile ---------

# Values mostly of each column's own type (so that whole columns take the fast path), some messy.
TYPED_VALUES = {
    S: st.sampled_from(["", "x", "a,b", 'q"q', "é", "line\nbreak"]),
    I: st.sampled_from(["", "0", "-0", "007", "42", "-42", "9" * 18, "9" * 19, "-9223372036854775808", "9223372036854775808"]),
    D: st.sampled_from(["", "1.5", "-1.50", "0.0000001", "007.10", "-0", "12"]),
    T: st.sampled_from([
        "", "2020-01-01", "2020-02-30", "2020-01-01T10:00", "2020-01-01T24:00", "2020-01-01T10:00:05.1234567Z",
        "2020-01-01T10:00:05+09", "2020-01-01T10:00:05+0930", "2020-01-01T10:00:05-09:60", "2020-01-01T10:00:05+24:00",
        "2021-06-01T10:00:05+09:00", "2021-06-01T10:00:05-00:00", "2021-06-01T10:00:60+09:00", "2021-02-29",
    ]),
}
MESSY_VALUE = st.sampled_from(["+1", " 1", "1 ", "1e3", "١٢", "x", "\udcff", "1\n2", "2020-01-01\n2020-01-02",
                               "2020-01-01 10:00:00"])


def csv_value(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


@st.composite
def profile_rows(draw: st.DrawFn) -> tuple[list[ProfileType], list]:
    key_types = draw(st.lists(st.sampled_from([S, I, D, T]), min_size=4, max_size=4))
    value = [TYPED_VALUES[type_] | MESSY_VALUE if draw(st.integers(0, 3)) == 0 else TYPED_VALUES[type_]
             for type_ in key_types]
    row = st.tuples(st.sampled_from(["u1", "u2", "nobody", "", "\udcff"]), st.tuples(*value),
                    st.sampled_from([0, 0, 0, 0, -2, -1, 1]))
    return key_types, draw(st.lists(row, max_size=25))


@settings(max_examples=500, deadline=None)
@given(profile_rows(), st.booleans())
def test_check_profiles_agrees_with_validate_profile(generated: tuple, with_registered: bool) -> None:
    key_types, rows = generated
    lines = []
    for user_id, values, width_change in rows:
        fields = [user_id, *values][: 5 + width_change] + (["extra"] if width_change > 0 else [])
        lines.append(",".join(map(csv_value, fields)))
    data = ("user_id,a,b,c,d\n" + "\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    columns = profile_columns(header)
    types = dict(zip("abcd", key_types))
    registered = {"u1", "u2", ""} if with_registered else None
    expected = []
    for record in read_file(data)[1]:
        result = validate_profile(record, columns, types, registered)
        expected.append(result if isinstance(result, list) else
                        (result.user_id, {k: to_json_value(v) for k, v in result.values.items()}))
    got = []
    for chunk in read_chunks(stream, start=Checkpoint.after_header(header), chunk_rows=6):
        checked = check_profiles(chunk, columns, types, registered)
        results = {row: (user_id, values) for row, user_id, values in zip(checked.rows, checked.user_ids, checked.values)}
        results.update(checked.failed)
        assert checked.rows == sorted(checked.rows) and [i for i, _ in checked.failed] == sorted(dict(checked.failed))
        assert sorted(results) == list(range(len(chunk.rows)))
        got.extend(results[i] for i in range(len(chunk.rows)))
    assert got == expected


@st.composite
def iso_date_times(draw: st.DrawFn) -> str:
    """Date-times in every form `_parse_datetime` knows, near and past the edges of each field."""
    two = lambda low, high: draw(st.integers(low, high))  # noqa: E731
    text = f"{two(0, 9999):04d}-{two(1, 13):02d}-{two(1, 32):02d}"
    if draw(st.booleans()):
        text += f"T{two(0, 24):02d}:{two(0, 60):02d}"
        if draw(st.booleans()):
            text += f":{two(0, 60):02d}"
            if draw(st.booleans()):
                text += "." + draw(st.text(alphabet="0123456789", min_size=1, max_size=9))
        offset = draw(st.sampled_from(["", "Z", "+HH", "-HH:MM", "+HH:MM", "+HHMM"]))
        text += offset.replace("HH", f"{two(0, 25):02d}").replace("MM", f"{two(0, 99):02d}")
    return text


@settings(max_examples=1000, deadline=None)
@given(iso_date_times())
@example("2020-01-01T10:00:05-00:00")
@example("2020-01-01T10:00:05+09:60")
@example("2020-02-29")
def test_fast_date_times_are_the_precise_ones(value: str) -> None:
    try:
        fast = _convert_present([value], T)
        assert _convert_present([value, value], T) == fast * 2
    except ValueError:
        assert _parse_datetime(value) is None  # the fast path refuses only what the precise one refuses
        return
    assert fast == [_parse_datetime(value).isoformat()]
