import io

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imports.core.errors_csv import (
    ERRORS_COLUMN,
    FORMULA_STARTS,
    REASON_SEPARATOR,
    encode_row,
    error_line,
    event_error_header,
    original_values,
    reasons_cell,
    write_error_csv,
)
from imports.core.events import ValidEvent, event_columns, validate_event
from imports.core.profiles import ProfileType, ValidProfile, profile_columns, validate_profile
from imports.core.reader import FileFormatError
from tests.core.conftest import read_file


def error_csv(data: bytes, *, errors_first: bool, reasons: list[str] | None = None) -> bytes:
    """Every row of `data` written to an error CSV."""
    header, records = read_file(data)
    out = io.BytesIO()
    rows = [(record.values, reasons or [f"row {record.number}"]) for record in records]
    assert write_error_csv(out, header.names, rows, errors_first=errors_first) == len(records)
    return out.getvalue()


def test_event_error_csv_puts_reasons_last() -> None:
    assert event_error_header() == ["user_id", "event_name", "event_properties", "REPRO_ERRORS"]
    data = b'user_id,event_name,event_properties\n,ebt-sample,\nu1,buy,"{""a"": 1}"\n'
    header, records = read_file(data)
    columns = event_columns(header)
    failed = [(r.values, validate_event(r, columns)) for r in records]
    out = io.BytesIO()
    write_error_csv(out, header.names, failed, errors_first=False)  # type: ignore[arg-type]
    assert out.getvalue() == (
        b"user_id,event_name,event_properties,REPRO_ERRORS\n"
        b",ebt-sample,,'user_id' is invalid\n"
        b"u1,buy,\"{\"\"a\"\": 1}\",'event_properties' is invalid: value of 'a' must be a string\n"
    )


def test_profile_error_csv_puts_reasons_first_like_the_seed() -> None:
    data = (
        b"user_id,birthday,name,point\n"
        b"123456,2000-01-01 00:00:00.000,foo,123\n"
        b"234567,2001-02-01T00:00:00+09:00,bar,234.0\n"
    )
    header, records = read_file(data)
    columns = profile_columns(header)
    types = {"birthday": ProfileType.DATETIME, "name": ProfileType.STRING, "point": ProfileType.INT}
    failed = [(r.values, validate_profile(r, columns, types)) for r in records]
    out = io.BytesIO()
    write_error_csv(out, header.names, failed, errors_first=True)  # type: ignore[arg-type]
    assert out.getvalue() == (
        b"REPRO_ERRORS,user_id,birthday,name,point\n"
        b"birthday should be iso8601 format,123456,2000-01-01 00:00:00.000,foo,123\n"
        b"point should be integer,234567,2001-02-01T00:00:00+09:00,bar,234.0\n"
    )


def test_several_reasons_are_joined_by_semicolons() -> None:
    out = error_csv(b"user_id,event_name,event_properties\n,,\n", errors_first=False, reasons=["one", "two"])
    assert out.endswith(b",,,one; two\n")


def test_old_reasons_are_replaced_and_the_fixed_file_imports_again() -> None:
    first = error_csv(b"user_id,event_name,event_properties\n,buy,\n", errors_first=False)
    fixed = first.replace(b",buy,", b"u1,buy,")
    second = error_csv(fixed, errors_first=False)
    assert second == b"user_id,event_name,event_properties,REPRO_ERRORS\nu1,buy,,row 1\n"
    header, records = read_file(fixed)
    assert validate_event(records[0], event_columns(header)) == ValidEvent("u1", "buy", {})


def test_profile_error_csv_imports_again() -> None:
    out = error_csv(b"REPRO_ERRORS,user_id,point\nold,u1,12\n", errors_first=True)
    assert out == b"REPRO_ERRORS,user_id,point\nrow 1,u1,12\n"
    header, records = read_file(out)
    result = validate_profile(records[0], profile_columns(header), {"point": ProfileType.INT})
    assert result == ValidProfile("u1", {"point": 12})


def test_invalid_utf8_and_quoting_are_written_back_exactly() -> None:
    data = b'user_id,event_name,event_properties\nu\xff1,"a,b","x ""q""\nline"\n'
    out = error_csv(data, errors_first=False)
    assert out.split(b"\n", 1)[1] == b'u\xff1,"a,b","x ""q""\nline",row 1\n'


def test_short_rows_are_padded_and_long_rows_keep_their_extra_values() -> None:
    header = ["user_id", "REPRO_ERRORS", "event_name", "event_properties"]
    assert original_values(["u1"], header) == ["u1", "", ""]
    assert original_values(["u1", "old", "buy", "", "extra"], header) == ["u1", "buy", "", "extra"]


def test_encoded_rows_read_back_as_the_same_values() -> None:
    for values in (["", "a"], [""], ["a\r", 'b"', "c,d", "e\nf", "g\udcff"]):
        assert read_file(b"h\n" + encode_row(values))[1][0].values == values


def test_error_lines_concatenate_into_the_error_csv() -> None:
    header = ["user_id", "event_name", "event_properties"]
    rows = [(["", "buy", ""], ["'user_id' is invalid"]), (["u1", "___repro___x", "{}"], ["a", "b"])]
    out = io.BytesIO()
    write_error_csv(out, header, rows, errors_first=False)
    lines = [error_line(values, reasons, header, errors_first=False) for values, reasons in rows]
    assert out.getvalue() == encode_row(event_error_header(header)) + b"".join(lines)


# No CR: the reader folds a CR before a line break inside quotes into the break, by design.
messy = st.lists(
    st.lists(st.text(alphabet='ab,"\n é', max_size=8) | st.just("\udcff"), min_size=1, max_size=5),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(messy, st.booleans(), st.booleans())
def test_values_survive_read_write_read(lines: list[list[str]], errors_first: bool, with_old_errors: bool) -> None:
    header = ["a", ERRORS_COLUMN, "b", "c"] if with_old_errors else ["a", "b", "c"]
    body = "\n".join(",".join(fields) for fields in lines).encode("utf-8", "surrogateescape")
    data = ",".join(header).encode() + b"\n" + body
    try:
        _, records = read_file(data)
    except FileFormatError:
        assume(False)
    out = error_csv(data, errors_first=errors_first)
    out_header, rewritten = read_file(out)
    assert out_header.names == (["REPRO_ERRORS", "a", "b", "c"] if errors_first else ["a", "b", "c", "REPRO_ERRORS"])
    assert len(rewritten) == len(records)
    for before, after in zip(records, rewritten):
        kept = original_values(before.values, header)
        reason = f"row {before.number}"
        assert after.values == ([reason, *kept] if errors_first else [*kept, reason])


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_reasons_that_start_like_a_formula_are_made_text_and_data_cells_are_kept(start) -> None:
    data = f"user_id,event_name,event_properties\n{start}u1,{start}buy,\n".encode()
    out = error_csv(data, errors_first=True, reasons=[f"{start}key should be integer", "other"])
    header, records = read_file(out)
    reasons, *values = records[0].values
    assert reasons == f"'{start}key should be integer; other"
    assert values == [f"{start}u1", f"{start}buy", ""]


@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=3))
def test_the_reasons_cell_never_starts_like_a_formula(reasons: list[str]) -> None:
    joined = REASON_SEPARATOR.join(reasons)
    cell = reasons_cell(reasons)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (joined, "'" + joined)
# --- rows over the size bound (issue 12) ---------------------------------------------

EVENT_HEADER = ["user_id", "event_name", "event_properties"]


def test_a_row_within_the_bound_is_written_whole() -> None:
    values = ["u1", "buy", "x" * 90]
    line = error_line(values, ["why"], EVENT_HEADER, errors_first=False, max_bytes=100)
    assert line == encode_row([*values, "why"])


def test_a_row_over_the_bound_is_cut_and_says_how_large_it_was() -> None:
    values = ["u1", "buy", "p" * 1000]
    line = error_line(values, ["why"], EVENT_HEADER, errors_first=False, max_bytes=100)
    (row,) = read_file(b"h\n" + line)[1]
    assert row.values[:2] == ["u1", "buy"]
    assert row.values[2] == "p" * (100 - len("u1,buy,") - len("…".encode()) - len(",")) + "…"
    assert row.values[3:] == ["why", "[row cut: 1,005 bytes]"]
    assert len(",".join(row.values[:3]).encode()) + 1 == 100


def test_values_after_the_cut_are_emptied_and_values_beyond_the_header_left_out() -> None:
    values = ["u" * 500, "buy", "{}", "extra", "more"]
    line = error_line(values, ["r1", "r2"], EVENT_HEADER, errors_first=False, max_bytes=100)
    (row,) = read_file(b"h\n" + line)[1]
    assert row.values == ["u" * 94 + "…", "", "", "r1; r2", "[row cut: 514 bytes]"]
    profile = error_line(values, ["r"], EVENT_HEADER, errors_first=True, max_bytes=100)
    assert read_file(b"h\n" + profile)[1][0].values == ["r", "u" * 94 + "…", "", "", "[row cut: 514 bytes]"]


def test_a_cut_row_fails_again_when_the_error_csv_is_uploaded_as_it_is() -> None:
    values = ["u1", "buy", '{"k":"' + "v" * 100_000 + '"}']
    out = io.BytesIO()
    write_error_csv(out, EVENT_HEADER, [(values, ["too large"])], errors_first=False)
    header, (record,) = read_file(out.getvalue())
    assert validate_event(record, event_columns(header))[0] == "too many values"
    profile = io.BytesIO()
    write_error_csv(profile, ["user_id", "name"], [(["u1", "n" * 100_000], ["user_id is unregistered user"])],
                    errors_first=True)
    header, (record,) = read_file(profile.getvalue())
    assert validate_profile(record, profile_columns(header), {"name": ProfileType.STRING}) == ["too many values"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet='a"é,\n\U0001F600', max_size=300) | st.just("\udcff" * 40), min_size=1, max_size=6),
    st.integers(min_value=16, max_value=400),
    st.booleans(),
)
def test_cut_rows_stay_within_the_bound_and_whole_characters(values: list[str], max_bytes: int, errors_first: bool) -> None:
    header = ["a", "b", "c"]
    line = error_line(values, ["r"], header, errors_first=errors_first, max_bytes=max_bytes)
    (row,) = read_file(b"h\n" + line)[1]
    kept = original_values(values, header)
    if row.values[-1].startswith("[row cut: "):
        written = row.values[1:-1] if errors_first else row.values[:-2]
        assert len(written) >= len(header)
        assert sum(len(encode_row([v, ""])) - 1 for v in written) <= max_bytes
        first = next((i for i, v in enumerate(written) if i >= len(kept) or v != kept[i]), len(written))
        assert written[:first] == kept[:first] and not any(written[first + 1 :])
        if first < len(written) and written[first]:  # cut short and marked, unless not even the mark fitted
            assert written[first].endswith("…")
            assert kept[first].startswith(written[first][:-1])  # a prefix: no character split
        size = sum(len(v.encode("utf-8", "surrogateescape")) for v in kept)
        assert row.values[-1] == f"[row cut: {size:,} bytes]"
    else:
        assert row.values == (["r", *kept] if errors_first else [*kept, "r"])
        assert sum(len(encode_row([v, ""])) - 1 for v in kept) <= max_bytes
