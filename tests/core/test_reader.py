import csv
import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.core.reader import (
    FileFormatError,
    Message,
    _split_fields,
    iter_records,
    open_decompressed,
    printable,
    read_header,
    scan,
)
from tests.core.conftest import read_file


class ReadOnly:
    """A source with nothing but read(), like some network streams."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def rows(data: bytes) -> list[list[str]]:
    return [record.values for record in read_file(data)[1]]


def scan_file(data: bytes, every: int = 100_000, **limits: int) -> tuple[int, list[tuple[int, int, int]]]:
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    result = scan(stream, start=header.end, every=every, **limits)
    return result.rows, result.row_starts


# --- gzip and streams -------------------------------------------------------------


def test_plain_file_is_read_as_is() -> None:
    assert rows(b"a,b\n1,2\n") == [["1", "2"]]


def test_gzip_file_is_decompressed() -> None:
    assert rows(gzip.compress(b"a,b\n1,2\n3,4\n")) == [["1", "2"], ["3", "4"]]


def test_stream_without_peek_is_sniffed_without_losing_bytes() -> None:
    for data in (b"a,b\n1,2\n", gzip.compress(b"a,b\n1,2\n")):
        stream = open_decompressed(ReadOnly(data))  # type: ignore[arg-type]
        header = read_header(stream)
        assert header.names == ["a", "b"]
        assert [r.values for r in iter_records(stream, start=header.end)] == [["1", "2"]]


def test_truncated_gzip_is_file_maybe_corrupt() -> None:
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 10_000)[:-20]
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    with pytest.raises(FileFormatError, match="^file maybe corrupt$"):
        list(iter_records(stream, start=header.end))


def test_damaged_gzip_is_file_maybe_corrupt_when_scanning() -> None:
    data = bytearray(gzip.compress(b"a,b\n" + b"1,2\n" * 10_000))
    data[-6] ^= 0xFF  # the CRC no longer matches
    stream = open_decompressed(io.BytesIO(bytes(data)))
    header = read_header(stream)
    with pytest.raises(FileFormatError) as excinfo:
        scan(stream, start=header.end)
    assert str(excinfo.value) == "file maybe corrupt"


def test_gzip_header_only_garbage_is_file_maybe_corrupt() -> None:
    with pytest.raises(FileFormatError, match="^file maybe corrupt$"):
        read_file(b"\x1f\x8b\x08\x00garbage")


# --- header -----------------------------------------------------------------------


def test_empty_file() -> None:
    with pytest.raises(FileFormatError, match="^empty file$"):
        read_file(b"")


def test_file_with_only_a_bom_is_empty() -> None:
    with pytest.raises(FileFormatError, match="^empty file$"):
        read_file(b"\xef\xbb\xbf")


def test_file_without_newline() -> None:
    with pytest.raises(FileFormatError, match="^newline character not found$"):
        read_file(b"user_id,name")


def test_header_at_the_byte_limit_is_accepted() -> None:
    header, _ = read_file(b"\xef\xbb\xbf" + b"a" * 10 + b"\r\n", max_bytes=10)
    assert header.names == ["a" * 10]


def test_header_over_the_byte_limit() -> None:
    with pytest.raises(FileFormatError, match="^header size over 10 bytes$"):
        read_file(b"a" * 11 + b"\n1\n", max_bytes=10)


def test_long_header_without_newline_is_reported_as_too_large() -> None:
    with pytest.raises(FileFormatError, match="^header size over 10 bytes$"):
        read_file(b"a" * 1000, max_bytes=10)


def test_header_without_a_byte_limit_is_still_held_to_the_row_limit() -> None:
    with pytest.raises(FileFormatError, match="^row starting on line 1 is over 16,777,216 bytes$"):
        read_file(b"a" * (16 * 1024 * 1024 + 1) + b"\n")


def test_bom_is_stripped_but_counted_in_offsets() -> None:
    data = b"\xef\xbb\xbfuser_id,name\r\nu1,x\r\n"
    header, records = read_file(data)
    assert header.names == ["user_id", "name"]
    assert header.end == len(b"\xef\xbb\xbfuser_id,name\r\n")
    assert records[0].values == ["u1", "x"]
    assert records[0].end == len(data)


def test_header_names_use_csv_quoting() -> None:
    header, _ = read_file(b'"a,b","c""d",e\n')
    assert header.names == ["a,b", 'c"d', "e"]


def test_header_keeps_invalid_utf8_bytes_recoverable() -> None:
    header, _ = read_file(b"user_id,\xff\xfeabc,ok\n")
    assert header.bad_utf8 == [header.names[1]]
    assert header.names[1].encode("utf-8", "surrogateescape") == b"\xff\xfeabc"
    assert printable(header.names[1]) == "\ufffd\ufffdabc"


# --- records ----------------------------------------------------------------------


def test_records_carry_number_line_and_end_offset() -> None:
    data = b"a,b\n1,2\n\n3,4\n"
    _, records = read_file(data)
    assert [(r.number, r.line, r.end) for r in records] == [(1, 2, 8), (2, 4, len(data))]


def test_blank_lines_are_not_rows() -> None:
    assert rows(b"a\n\n\r\n1\n\r\r\n2\n\n") == [["1"], ["2"]]


def test_final_line_without_newline_is_a_row() -> None:
    assert rows(b"a,b\n1,2\n3,4") == [["1", "2"], ["3", "4"]]


def test_crlf_line_endings_are_not_part_of_values() -> None:
    assert rows(b"a,b\r\n1,2\r\n3,\r\n") == [["1", "2"], ["3", ""]]


def test_quoted_fields_hold_commas_quotes_and_newlines() -> None:
    data = b'a,b\n"x,y","say ""hi"""\n"line 1\r\nline 2",z\n5,6\n'
    _, records = read_file(data)
    assert [r.values for r in records] == [["x,y", 'say "hi"'], ["line 1\nline 2", "z"], ["5", "6"]]
    assert [r.line for r in records] == [2, 3, 5]


def test_blank_line_inside_quotes_is_part_of_the_value() -> None:
    assert rows(b'a,b\n"x\n\ny",1\n') == [["x\n\ny", "1"]]


def test_lone_cr_is_data() -> None:
    assert rows(b'a,b\nx\ry,"q\rr"\n') == [["x\ry", "q\rr"]]


def test_stray_quote_in_unquoted_field_is_kept_literally() -> None:
    assert rows(b'a,b\nsay "hi",x\n') == [['say "hi"', "x"]]


def test_invalid_utf8_marks_only_its_row() -> None:
    _, records = read_file(b"a,b\nok,1\nbad\xff,2\nok,3\n")
    assert [r.bad_utf8 for r in records] == [False, True, False]
    assert records[1].values[0].encode("utf-8", "surrogateescape") == b"bad\xff"


def test_field_longer_than_csv_field_limit_is_read() -> None:
    big = "x" * 200_000
    assert rows(f'a,b\n"{big}",1\n'.encode()) == [[big, "1"]]


def test_unterminated_quote_fails_the_file_with_its_line() -> None:
    with pytest.raises(FileFormatError) as excinfo:
        read_file(b'a,b\n1,2\n3,"oops\n4,5\n')
    assert str(excinfo.value) == "unterminated quoted field starting on line 3"
    assert excinfo.value.message.template == "unterminated quoted field starting on line {line}"  # type: ignore[attr-defined]


def test_row_over_the_size_limit_fails_the_file() -> None:
    stream = io.BytesIO(b"1,2\n" + b"x" * 20 + b"\n")
    with pytest.raises(FileFormatError, match="^row starting on line 3 is over 16 bytes$"):
        list(iter_records(stream, start=0, max_record_bytes=16))


def test_unterminated_quote_is_stopped_by_the_size_limit() -> None:
    data = b'1,"2\n' + b"more text\n" * 10
    with pytest.raises(FileFormatError, match="^row starting on line 2 is over 32 bytes$"):
        list(iter_records(io.BytesIO(data), start=0, max_record_bytes=32))
    with pytest.raises(FileFormatError, match="^row starting on line 2 is over 32 bytes$"):
        scan(io.BytesIO(data), start=0, max_record_bytes=32)


def test_default_size_limit_reads_16_mib_and_says_so() -> None:
    assert read_file(b"a\n" + b"x" * (16 * 1024 * 1024 - 1) + b"\n")[1][0].values == ["x" * (16 * 1024 * 1024 - 1)]
    with pytest.raises(FileFormatError, match="^row starting on line 2 is over 16,777,216 bytes$"):
        read_file(b"a\n" + b"x" * (16 * 1024 * 1024) + b"\n")


def test_resuming_from_a_record_end_yields_the_remaining_records() -> None:
    data = b'a,b\n1,2\n\n"x\ny",3\r\n4,5\n6,7'
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    records = list(iter_records(stream, start=header.end))
    for i, record in enumerate(records):
        resumed = io.BytesIO(data)
        resumed.seek(record.end)
        rest = list(iter_records(resumed, start=record.end, number=record.number, line=record.last_line))
        assert rest == records[i + 1 :]


def test_message_is_plain_text_with_its_template() -> None:
    message = Message("header size over {max_bytes} bytes", max_bytes=5)
    assert message == "header size over 5 bytes"
    assert (message.template, message.params) == ("header size over {max_bytes} bytes", {"max_bytes": 5})


# --- scan -------------------------------------------------------------------------


def test_scan_counts_rows_like_the_reader() -> None:
    data = b'a,b\n1,2\n\n"x\n\ny",3\r\n4,5\n6,7'
    assert scan_file(data)[0] == len(rows(data)) == 4


def test_scan_gives_cut_points_never_inside_quotes() -> None:
    data = b'a,b\n1,2\n"x\ny",3\n\n4,5\n6,7\n8,9\n'
    assert scan_file(data, every=2)[1] == [(4, 0, 1), (17, 2, 5), (25, 4, 7)]


def test_scan_of_unterminated_quote_fails_like_the_reader() -> None:
    with pytest.raises(FileFormatError, match="^unterminated quoted field starting on line 3$"):
        scan_file(b'a,b\n1,2\n3,"oops\n4,5\n')


def test_scan_stops_recording_cut_points_past_max_rows_but_counts_all() -> None:
    stream = io.BytesIO(b"1\n" * 10)
    result = scan(stream, start=0, line=0, every=2, max_rows=4)
    assert result.rows == 10
    assert [cut[1] for cut in result.row_starts] == [0, 2]


# --- properties -------------------------------------------------------------------

messy_lines = st.lists(
    st.text(alphabet='ab,"\r\n\xe9', max_size=12).map(lambda s: s.encode())
    | st.sampled_from([b"\xff", b"\n", b"\r\n", b'""', b'"']),
    max_size=25,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(messy_lines, st.integers(min_value=1, max_value=4), st.integers(min_value=1, max_value=60))
def test_scan_agrees_with_iter_records(body: bytes, every: int, max_record_bytes: int) -> None:
    data = b"h\n" + body
    stream = io.BytesIO(data)
    header = read_header(stream)
    try:
        records = list(iter_records(stream, start=header.end, max_record_bytes=max_record_bytes))
    except FileFormatError as exc:
        with pytest.raises(FileFormatError) as scanned:
            scan_file(data, max_record_bytes=max_record_bytes)
        assert str(scanned.value) == str(exc)
        return
    count, cuts = scan_file(data, every=every, max_record_bytes=max_record_bytes)
    assert count == len(records)
    for offset, before, line in cuts:
        stream = io.BytesIO(data)
        stream.seek(offset)
        resumed = list(iter_records(stream, start=offset, number=before, line=line))
        assert resumed == records[before:]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab,"\n\r ', min_size=1, max_size=20))
def test_field_splitting_matches_the_csv_module(text: str) -> None:
    text = text.replace("\r", "").replace("\n", "")
    expected = next(csv.reader([text]), [])
    assert (_split_fields(text) if text else []) == expected
