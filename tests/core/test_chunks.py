"""The chunked reader against the line-by-line reference reader, and its own bounds."""

import gzip
import io
import time
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from imports.core.chunks import Checkpoint, Chunk, count_rows, read_chunks
from imports.core.reader import FileFormatError, Record, open_decompressed, read_header
from tests.core import reference_reader

# Pieces a messy file is made of: text with quotes, commas, CR/LF and é, invalid bytes, NUL,
# line breaks of every kind, lone and doubled quotes, and blank lines.
PIECE = (
    st.text(alphabet='ab,"\r\n\xe9', max_size=12).map(str.encode)
    | st.sampled_from([b"\xff", b"\xe3\x81", b"\x00", b"\n", b"\r\n", b"\r\r\n", b"\r", b'""', b'"', b'",', b',"'])
    | st.sampled_from([b'"x\ny",z\n', b'u1,e,"{""k"":""v""}"\n', b"\n\n\n", b"plain,row\n", b'"a""b",c\r\n'])
)
BODY = st.lists(PIECE, max_size=40).map(b"".join)


def reference(data: bytes, max_record_bytes: int = 16 * 1024 * 1024) -> tuple[list[Record], str | None]:
    """The reference reader's records, and its error message (None when the file reads through)."""
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    records: list[Record] = []
    try:
        for record in reference_reader.iter_records(stream, start=header.end, max_record_bytes=max_record_bytes):
            records.append(record)
    except FileFormatError as exc:
        return records, str(exc)
    return records, None


def chunked(data: bytes, **options: int) -> tuple[list[Chunk], str | None]:
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    chunks: list[Chunk] = []
    try:
        for chunk in read_chunks(stream, start=Checkpoint.after_header(header), **options):
            chunks.append(chunk)
    except FileFormatError as exc:
        return chunks, str(exc)
    return chunks, None


def counted(data: bytes, **options):
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    return count_rows(stream, start=Checkpoint.after_header(header), **options)


def assert_chunks_agree(chunks: list[Chunk], records: list[Record], header_end: int) -> None:
    """Rows, numbers, lines, UTF-8 flags and chunk checkpoints are the reference's."""
    rows = [(c.number(i), c.line(i), values, i in c.bad_utf8) for c in chunks for i, values in enumerate(c.rows)]
    assert rows == [(r.number, r.line, r.values, r.bad_utf8) for r in records[: len(rows)]]
    ends = {r.number: (r.end, r.number, r.last_line) for r in records}
    ends[0] = (header_end, 0, 1)
    previous = Checkpoint(header_end, 0, 1)
    for chunk in chunks:
        assert chunk.start == previous
        assert chunk.start == ends[chunk.start.rows]
        assert chunk.end == ends[chunk.end.rows]
        assert chunk.first_number == chunk.start.rows + 1
        previous = chunk.end


@settings(max_examples=500, deadline=None)
@given(
    BODY,
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=80),
    st.integers(min_value=4, max_value=80),
    st.booleans(),
    st.booleans(),
)
@example(b'a"b\nc"d\n', 2, 80, 80, False, False)
@example(b'x\r\ry,"q\rr"\n\r', 1, 80, 80, True, True)
@example(b"\r\r\r\r", 1, 80, 4, False, False)
def test_chunks_agree_with_the_reference_reader(
    body: bytes, chunk_rows: int, chunk_bytes: int, max_record_bytes: int, bom: bool, compress: bool
) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + b"h,i\r\n" + body
    if compress:
        data = gzip.compress(data)
    records, error = reference(data, max_record_bytes)
    chunks, chunk_error = chunked(data, chunk_rows=chunk_rows, chunk_bytes=chunk_bytes, max_record_bytes=max_record_bytes)
    assert chunk_error == error
    header_end = 5 + 3 * bom
    assert_chunks_agree(chunks, records, header_end)
    if error is None:
        assert sum(len(c.rows) for c in chunks) == len(records)
    for chunk in chunks:
        assert len(chunk.rows) <= chunk_rows
        if len(chunk.rows) > 1:
            assert chunk.end.offset - chunk.start.offset <= chunk_bytes


@settings(max_examples=600, deadline=None)
@given(
    BODY,
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=4, max_value=60) | st.just(16 * 1024 * 1024),
    st.booleans(),
)
@example(b"\r\r\r\r", 1, 4, False)  # a last blank line of CRs, without a line break, at the limit
def test_count_agrees_with_the_reference_scan(body: bytes, every: int, max_record_bytes: int, compress: bool) -> None:
    data = b"h\n" + body
    if compress:
        data = gzip.compress(data)
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    try:
        expected = reference_reader.scan(stream, start=header.end, every=every, max_record_bytes=max_record_bytes)
    except FileFormatError as exc:
        with pytest.raises(FileFormatError) as raised:
            counted(data, every=every, max_record_bytes=max_record_bytes)
        assert str(raised.value) == str(exc)
        return
    result = counted(data, every=every, max_record_bytes=max_record_bytes)
    assert (result.rows, result.over_limit) == (expected.rows, False)
    assert [tuple(cut) for cut in result.cuts] == expected.row_starts


@settings(max_examples=200, deadline=None)
@given(BODY, st.integers(min_value=1, max_value=4))
def test_reading_resumes_from_any_chunk_end(body: bytes, chunk_rows: int) -> None:
    data = b"h\n" + body
    chunks, error = chunked(data, chunk_rows=chunk_rows)
    rows = [values for chunk in chunks for values in chunk.rows]
    for chunk in chunks:
        stream = io.BytesIO(data)
        stream.seek(chunk.end.offset)
        rest = []
        try:
            for resumed in read_chunks(stream, start=chunk.end, chunk_rows=chunk_rows):
                rest.extend(resumed.rows)
        except FileFormatError as exc:
            assert str(exc) == error
        assert rows[chunk.end.rows :] == rest[: len(rows) - chunk.end.rows]


@settings(max_examples=200, deadline=None)
@given(BODY, st.integers(min_value=0, max_value=12), st.integers(min_value=1, max_value=5))
def test_max_rows_stops_reading_after_that_many_rows(body: bytes, max_rows: int, chunk_rows: int) -> None:
    data = b"h\n" + b"r\n" * 3 + body
    records, error = reference(data)
    part, part_error = chunked(data, max_rows=max_rows, chunk_rows=chunk_rows)
    rows = [values for chunk in part for values in chunk.rows]
    expected = [record.values for record in records][:max_rows]
    if part_error is None:
        assert rows == expected
    else:  # the error lies within the first max_rows rows
        assert part_error == error and rows == expected[: len(rows)] and len(records) < max_rows


# --- examples ----------------------------------------------------------------------


def test_chunk_records_where_it_starts_and_ends() -> None:
    data = b'a,b\n1,2\n\n"x\ny",3\r\n4,5\n6,7'
    chunks, error = chunked(data, chunk_rows=2)
    assert error is None
    assert [(c.start, c.end, c.first_line, c.rows) for c in chunks] == [
        (Checkpoint(4, 0, 1), Checkpoint(18, 2, 5), 2, [["1", "2"], ["x\ny", "3"]]),
        (Checkpoint(18, 2, 5), Checkpoint(len(data), 4, 7), 6, [["4", "5"], ["6", "7"]]),
    ]
    assert [chunks[0].line(i) for i in range(2)] == [2, 4]
    assert chunks[1].row(1) == (4, 7, ["6", "7"], False)


def test_chunk_closes_at_its_byte_budget() -> None:
    data = b"h\n" + b"0123456789\n" * 10
    chunks, _ = chunked(data, chunk_bytes=25)
    assert [len(c.rows) for c in chunks] == [2, 2, 2, 2, 2]


def test_a_record_larger_than_the_budget_is_a_chunk_of_its_own() -> None:
    data = b"h\n1\n" + b"x" * 100 + b"\n2\n"
    chunks, _ = chunked(data, chunk_bytes=10)
    assert [c.rows for c in chunks] == [[["1"]], [["x" * 100]], [["2"]]]


def test_invalid_utf8_is_flagged_per_row() -> None:
    chunks, _ = chunked(b"h\nok\nbad\xff\nn\x00ul\nok\n")
    assert chunks[0].bad_utf8 == {1, 2}
    assert chunks[0].rows[1][0].encode("utf-8", "surrogateescape") == b"bad\xff"


def test_field_longer_than_the_csv_modules_limit_is_read() -> None:
    big = "x" * 200_000
    chunks, _ = chunked(f'a,b\n"{big}",1\n2,3\n'.encode())
    assert chunks[0].rows == [[big, "1"], ["2", "3"]]


def test_decompressed_size_limit_fails_the_file_whatever_the_compression() -> None:
    data = b"h\n" + b"row\n" * 1000
    for content in (data, gzip.compress(data)):
        with pytest.raises(FileFormatError, match="^file is over 1,000 bytes when decompressed$"):
            list(chunked_stream(content, max_file_bytes=1000))
        with pytest.raises(FileFormatError, match="^file is over 1,000 bytes when decompressed$"):
            counted(content, max_file_bytes=1000)
    assert counted(data, max_file_bytes=len(data)).rows == 1000


def chunked_stream(data: bytes, **options: int):
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    return read_chunks(stream, start=Checkpoint.after_header(header), **options)


def test_blank_lines_count_toward_the_decompressed_size() -> None:
    data = gzip.compress(b"h\n" + b"\n" * 10_000 + b"row\n")
    with pytest.raises(FileFormatError, match="bytes when decompressed"):
        counted(data, max_file_bytes=5000)


def test_count_stops_as_soon_as_the_limit_is_passed() -> None:
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, size=-1):
            block = super().read(size)
            self.read_bytes += len(block)
            return block

    stream = Counting(b"r\n" * 5_000_000)
    result = count_rows(stream, start=Checkpoint(0, 0, 0), max_rows=1000)
    assert (result.rows, result.over_limit) == (1001, True)
    assert stream.read_bytes <= 2 << 20  # a block or two, not the 10 MB file


def test_count_reports_progress_every_n_bytes() -> None:
    reached = []
    result = count_rows(io.BytesIO(b"r\n" * 3_000_000), start=Checkpoint(0, 0, 0), progress=reached.append,
                        progress_bytes=1 << 20)
    assert result.rows == 3_000_000
    assert len(reached) >= 5 and reached == sorted(reached)
    assert all(b - a >= 1 << 20 for a, b in zip(reached, reached[1:]))


def test_256_mib_of_blank_lines_are_skipped_in_seconds() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = compressor.compress(b"h\n") + b"".join(compressor.compress(b"\n" * (1 << 20)) for _ in range(256))
    data += compressor.compress(b"last\n") + compressor.flush()
    started = time.perf_counter()
    result = counted(data)
    chunks, error = chunked(data)
    assert time.perf_counter() - started < 20  # minutes before: each blank line was a Python step
    assert (result.rows, error, [c.rows for c in chunks]) == (1, None, [[["last"]]])
    assert chunks[0].first_line == 2 + 256 * (1 << 20)


def test_huge_line_of_crs_is_too_large_like_any_row() -> None:
    data = b"h\n" + b"\r" * 100 + b"\n1\n"
    for error in (chunked(data, max_record_bytes=50)[1], reference(data, 50)[1]):
        assert error == "row starting on line 2 is over 50 bytes"
