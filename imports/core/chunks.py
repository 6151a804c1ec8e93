"""Decompressed bytes to chunks of CSV rows at C speed, bounded by rows and by bytes.

Record boundaries follow the reader's rule (a record ends at a line break once the number
of double quotes since it began is even), but applied to whole buffers: one regular
expression walks up to 1,024 records per call, `bytes.count` counts their lines, and each
run of well-formed records is decoded once and parsed by the `csv` module in one go. Only
a malformed record (a stray quote, a lone CR outside quotes) is split by Python on its own,
exactly as before, so rows, numbers, line numbers and errors are those of the old
line-by-line reader (kept in tests/core/reference_reader.py, which the property tests
compare against).

Two passes use this: `count_rows` (the cheap first pass: row count, cut points, limits)
and `read_chunks` (the rows themselves, chunk by chunk, each with the checkpoint it starts
and ends at).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import repeat
from typing import BinaryIO, NamedTuple

from imports.core.i18n import gettext_noop
from imports.core.reader import (
    _CORRUPT_ERRORS,
    MAX_RECORD_BYTES,
    MESSAGE_CORRUPT,
    MESSAGE_UNTERMINATED_QUOTE,
    FileFormatError,
    Header,
    Message,
    _split_fields,
    _too_large,
    has_bad_utf8,
)

CHUNK_ROWS = 10_000
CHUNK_BYTES = 32 * 1024 * 1024
COUNT_EVERY = 100_000
PROGRESS_BYTES = 64 * 1024 * 1024
BLOCK_BYTES = 1 << 20  # read from the (decompressed) stream at a time

MESSAGE_FILE_TOO_LARGE = gettext_noop("file is over {limit} bytes when decompressed")

# One record, blank lines before it included, by the quote-parity rule: any input tiles into these.
_PARITY_RECORD = rb'(?:\r*+\n)*+[^"\n]*+(?:"[^"]*+"[^"\n]*+)*+\n'
# One record as RFC 4180 writes it (fields plain, or quoted with "" for a quote; no CR outside
# quotes but before the line break). For these the csv module and the parity rule agree.
_FIELD = rb'(?:"[^"]*+(?:""[^"]*+)*+"|[^,"\r\n]*+)'
_CLEAN_RECORD = rb"(?:\r*+\n)*+" + _FIELD + rb"(?:," + _FIELD + rb")*+\r*+\n"
_ONE_RECORD = re.compile(rb'((?:\r*+\n)*+)([^"\n]*+(?:"[^"]*+"[^"\n]*+)*+)\n')
_CR_OR_LF = re.compile(rb"[\r\n]*+")
_ALL_BUT_QUOTES_AND_LF = bytes(set(range(256)) - set(b'"\n'))
_CRS_BEFORE_LF = re.compile("\r+\n")
_MOST_RECORDS = 1024  # per regular-expression call: the largest power of two tried


class Checkpoint(NamedTuple):
    """A place in the decompressed stream where a record starts: reading can resume there."""

    offset: int  # bytes before it (a UTF-8 BOM included)
    rows: int  # data rows before it
    lines: int  # physical lines before it (the header is line 1)

    @classmethod
    def after_header(cls, header: Header) -> Checkpoint:
        return cls(header.end, 0, 1)


class Row(NamedTuple):
    """One data row with what a row error needs; `bad_utf8` as in `Record`."""

    number: int
    line: int
    values: list[str]
    bad_utf8: bool


@dataclass(slots=True)
class Chunk:
    """Consecutive data rows; `end` is the checkpoint to commit with them."""

    start: Checkpoint
    end: Checkpoint
    first_line: int  # physical line of the first row (blank lines before it are skipped)
    rows: list[list[str]]  # each row's values
    # Rows that hold bytes that were not UTF-8, or NUL: only their fields need has_bad_utf8.
    bad_utf8: set[int] = field(default_factory=set)
    # Each row's first line when they are not consecutive (blank lines, line breaks in fields).
    lines: list[int] | None = None

    @property
    def first_number(self) -> int:
        return self.start.rows + 1

    def number(self, index: int) -> int:
        return self.start.rows + 1 + index

    def line(self, index: int) -> int:
        return self.first_line + index if self.lines is None else self.lines[index]

    def row(self, index: int) -> Row:
        return Row(self.number(index), self.line(index), self.rows[index], index in self.bad_utf8)


@dataclass(frozen=True, slots=True)
class RowCount:
    rows: int  # data rows after `start`; max_rows + 1 when the count stopped at the limit
    over_limit: bool  # more than max_rows rows: counting stopped there
    cuts: list[Checkpoint]  # where row k*every+1 (counted from `start`) begins, k = 0, 1, …


def count_rows(
    stream: BinaryIO,
    *,
    start: Checkpoint,
    every: int = COUNT_EVERY,
    max_rows: int | None = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
    max_file_bytes: int | None = None,
    progress: Callable[[int], None] | None = None,
    progress_bytes: int = PROGRESS_BYTES,
) -> RowCount:
    """Count the data rows from `start` (where `stream` is positioned) without parsing fields.

    Stops as soon as the count passes `max_rows`. Fails (FileFormatError) exactly where
    `read_chunks` would. `progress` is called with the offset reached every
    `progress_bytes` decompressed bytes, so a caller can show it is alive on a huge file.
    """
    tiles = _Tiles(stream, start, max_record_bytes, max_file_bytes, progress, progress_bytes)
    limit = float("inf") if max_rows is None else max_rows
    counted = 0
    cuts: list[Checkpoint] = []
    next_cut = 0
    while tiles.next_row():
        if counted == next_cut:
            cuts.append(tiles.checkpoint())
            next_cut += every
        want = int(min(next_cut - counted, limit + 1 - counted))
        taken = tiles.take_lines(want) or tiles.take(_parity_records, want)
        if taken:
            counted += taken
            if counted > limit:
                return RowCount(rows=counted, over_limit=True, cuts=cuts)
        else:
            tiles.take_incomplete()
    return RowCount(rows=counted, over_limit=False, cuts=cuts)


def read_chunks(
    stream: BinaryIO,
    *,
    start: Checkpoint,
    max_rows: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    chunk_bytes: int = CHUNK_BYTES,
    max_record_bytes: int = MAX_RECORD_BYTES,
    max_file_bytes: int | None = None,
) -> Iterator[Chunk]:
    """Yield the data rows from `start` (where `stream` is positioned) in chunks.

    A chunk closes at `chunk_rows` rows or once its records span `chunk_bytes` (a single
    larger record still makes a chunk of its own, within `max_record_bytes`). Reading stops
    after `max_rows` rows (a part's end). Blank lines outside quotes are not rows; they are
    skipped at C speed and count toward `max_file_bytes`, the decompressed-size limit
    (measured from the start of the stream, header included).
    """
    tiles = _Tiles(stream, start, max_record_bytes, max_file_bytes, None, PROGRESS_BYTES)
    remaining = float("inf") if max_rows is None else max_rows
    chunk_start = start
    while remaining > 0:
        builder = _ChunkBuilder(chunk_start)
        size = int(min(chunk_rows, remaining))
        budget_end = chunk_start.offset + chunk_bytes
        while len(builder.rows) < size and tiles.next_row():
            # The first record is taken whatever its size; the others while they fit the budget.
            want, endpos = (size - len(builder.rows), budget_end) if builder.rows else (1, None)
            begin, lines = tiles.position, tiles.lines
            if taken := tiles.take_lines(want, endpos, plain=True):
                builder.add_plain(tiles.buffer[begin : tiles.position], taken, lines)
            elif taken := tiles.take(_clean_records, want, endpos):
                builder.add_clean(tiles.buffer[begin : tiles.position], taken, lines, tiles.lines - lines)
            elif tiles.take(_parity_records, 1, endpos):
                builder.add_record(tiles.buffer[begin : tiles.position], lines)
            elif endpos is not None and tiles.reaches(endpos):
                break  # the next record would take the chunk past its byte budget
            else:
                tiles.take_incomplete()
                continue
            chunk_end = tiles.checkpoint()  # blank lines after it belong to the next chunk
        if not builder.rows:
            return
        remaining -= len(builder.rows)
        yield builder.chunk(chunk_end)
        chunk_start = chunk_end


@cache
def _clean_records(count: int) -> re.Pattern[bytes]:
    return re.compile(b"(?:" + _CLEAN_RECORD + b"){%d}+" % count)


@cache
def _lines(count: int) -> re.Pattern[bytes]:
    return re.compile(b"(?:[^\n]*+\n){%d}" % count)


@cache
def _parity_records(count: int) -> re.Pattern[bytes]:
    return re.compile(b"(?:" + _PARITY_RECORD + b"){%d}+" % count)


class _Tiles:
    """The stream as a buffer of whole records: reads blocks, skips blank lines, takes
    records by the parity rule, keeps offsets and line counts, and raises the file-level
    errors (too large, unterminated quote, corrupt, over the decompressed-size limit).

    `buffer[position:]` is what is not yet taken; `base` is the offset of `buffer[0]`. At the
    end of the stream a line break is added if the last line has none (`real_end` is the true
    end), so the last record is matched like any other.
    """

    def __init__(
        self,
        stream: BinaryIO,
        start: Checkpoint,
        max_record_bytes: int,
        max_file_bytes: int | None,
        progress: Callable[[int], None] | None,
        progress_bytes: int,
    ) -> None:
        self._stream = stream
        self._max_record = max_record_bytes
        self._max_file = max_file_bytes
        self._progress = progress
        self._progress_bytes = progress_bytes
        self._next_progress = start.offset + progress_bytes
        self.buffer = b""
        self.position = 0
        self.base = start.offset
        self.rows = start.rows  # data rows before `position`
        self.lines = start.lines
        self.real_end: int | None = None  # set at the end of the stream

    @property
    def offset(self) -> int:
        position = self.base + self.position
        return position if self.real_end is None else min(position, self.real_end)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.offset, self.rows, self.lines)

    def reaches(self, endpos: int) -> bool:
        """Whether the buffer holds bytes up to the absolute offset `endpos`."""
        return self.base + len(self.buffer) >= endpos

    def next_row(self) -> bool:
        """Skip blank lines; True when a non-blank line starts at `position`, False at the end."""
        while True:
            run_end = _CR_OR_LF.match(self.buffer, self.position).end()
            if run_end > self.position:
                blank_end = self.buffer.rfind(b"\n", self.position, run_end) + 1
                if blank_end:
                    self._check_blank_lines(self.position, blank_end, self.lines)
                    self.lines += self.buffer.count(b"\n", self.position, blank_end)
                    self.position = blank_end
            if run_end < len(self.buffer):
                return True
            # Only CRs (or nothing) left: they may start a blank line or a row; read on.
            if self.real_end is not None:
                return False
            self._check_incomplete()
            self._fill()

    def take(self, pattern: Callable[[int], re.Pattern[bytes]], want: int, endpos: int | None = None) -> int:
        """Take up to `want` whole records (blank lines between them included) from `position`;
        returns how many. Records must end by the absolute offset `endpos` when it is given."""
        end = len(self.buffer) if endpos is None else max(0, min(len(self.buffer), endpos - self.base))
        begin = self.position
        taken = 0
        # No more records than line breaks: big records make few tries, each of which rescans them.
        size = min(_MOST_RECORDS, self.buffer.count(b"\n", begin, end))
        while want and size:
            size = min(size, 1 << (want.bit_length() - 1))
            match = pattern(size).match(self.buffer, self.position, end)
            if match:
                self.position = match.end()
                taken += size
                want -= size
            else:
                size >>= 1
        if taken:
            self._check_record_sizes(begin, self.position)
            self.lines += self.buffer.count(b"\n", begin, self.position)
            self.rows += taken
        return taken

    def take_lines(self, want: int, endpos: int | None = None, *, plain: bool = False) -> int:
        """Take up to `want` lines at once when each is a record of its own: no blank line, and
        an even number of quotes in each line, or with `plain` no quote at all and no CR but
        before a line break (lines the csv module would split exactly as `str.split` does).
        Returns how many (0: not so here; take records one by one). Lines must end by the
        absolute offset `endpos` when it is given."""
        buffer, begin = self.buffer, self.position
        limit = len(buffer) if endpos is None else max(begin, min(len(buffer), endpos - self.base))
        end = buffer.rfind(b"\n", begin, limit) + 1
        if end <= begin or end - begin > self._max_record:
            return 0
        if plain and buffer.find(b'"', begin, end) >= 0:
            return 0
        count = buffer.count(b"\n", begin, end)
        if count > want:
            end = _lines(want).match(buffer, begin).end()  # type: ignore[union-attr]
            count = want
        if buffer.find(b"\n\n", begin, end) >= 0 or buffer.find(b"\n\r", begin, end) >= 0:
            return 0
        if plain:
            if buffer.count(b"\r", begin, end) != buffer.count(b"\r\n", begin, end):
                return 0
        # Left of each line's quotes once pairs are dropped: one quote where the count is odd.
        elif buffer.find(b'"', begin, end) >= 0 and b'"' in (
            buffer[begin:end].translate(None, _ALL_BUT_QUOTES_AND_LF).replace(b'""', b"")
        ):
            return 0
        self.position = end
        self.lines += count
        self.rows += count
        return count

    def take_incomplete(self) -> None:
        """No whole record starts at `position`: read more, or fail at the end of the stream."""
        self._check_incomplete()
        if self.real_end is not None:
            raise FileFormatError(Message(MESSAGE_UNTERMINATED_QUOTE, line=self.lines + 1))
        self._fill()

    def _fill(self) -> None:
        try:
            block = self._stream.read(BLOCK_BYTES)
        except _CORRUPT_ERRORS as exc:
            raise FileFormatError(Message(MESSAGE_CORRUPT)) from exc
        self.buffer = self.buffer[self.position :] + block
        self.base += self.position
        self.position = 0
        end = self.base + len(self.buffer)
        if self._max_file is not None and end > self._max_file:
            raise FileFormatError(Message(MESSAGE_FILE_TOO_LARGE, limit=f"{self._max_file:,}"))
        if self._progress is not None and end >= self._next_progress:
            self._progress(end)
            self._next_progress = end + self._progress_bytes
        if not block:
            self.real_end = end
            if self.buffer and not self.buffer.endswith(b"\n"):
                self.buffer += b"\n"

    def _real_size(self, begin: int, end: int) -> int:
        """Bytes from `begin` to `end` in the buffer, the added final line break left out."""
        size = end - begin
        if self.real_end is not None and self.base + end > self.real_end:
            size -= 1
        return size

    def _check_incomplete(self) -> None:
        """The record (or run of CRs) at `position` has no end yet: fail once it is too large."""
        if self._real_size(self.position, len(self.buffer)) > self._max_record:
            raise _too_large(self.lines + 1, self._max_record)

    def _check_blank_lines(self, begin: int, end: int, lines_before: int) -> None:
        """Blank lines over the row size limit fail the file like any row (a run of CRs)."""
        if self._real_size(begin, end) <= self._max_record:
            return
        position = begin
        for line in range(lines_before + 1, lines_before + 1 + self.buffer.count(b"\n", begin, end)):
            stop = self.buffer.index(b"\n", position) + 1
            if self._real_size(position, stop) > self._max_record:
                raise _too_large(line, self._max_record)
            position = stop

    def _check_record_sizes(self, begin: int, end: int) -> None:
        """Taken records over the row size limit fail the file, at the first one."""
        if end - begin <= self._max_record:
            return
        lines = self.lines
        position = begin
        while position < end:
            match = _ONE_RECORD.match(self.buffer, position)
            blank, record = match.span(1), match.span(2)  # type: ignore[union-attr]
            self._check_blank_lines(*blank, lines)
            lines += self.buffer.count(b"\n", *blank)
            if self._real_size(record[0], record[1] + 1) > self._max_record:
                raise _too_large(lines + 1, self._max_record)
            lines += self.buffer.count(b"\n", record[0], record[1] + 1)
            position = match.end()  # type: ignore[union-attr]


def _decode(data: bytes) -> tuple[str, bool]:
    """The text, and whether it may hold invalid UTF-8 (as surrogates) or NUL."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), True
    return text, "\x00" in text


class _ChunkBuilder:
    """Parses taken records into a chunk's rows: runs of clean records with the csv module in
    one call, any other record on its own as the line-by-line reader did."""

    def __init__(self, start: Checkpoint) -> None:
        self.start = start
        self.first_line = start.lines + 1
        self.rows: list[list[str]] = []
        self.bad_utf8: set[int] = set()
        self.lines: list[int] | None = None  # None: row i starts on line first_line + i

    def chunk(self, end: Checkpoint) -> Chunk:
        return Chunk(self.start, end, self.first_line, self.rows, self.bad_utf8, self.lines)

    def add_plain(self, data: bytes, count: int, lines_before: int) -> None:
        """`count` lines without quotes, one record each: split at commas (what csv would do)."""
        text, suspect = _decode(data)
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        rows = list(map(str.split, text[:-1].split("\n"), repeat(",")))
        first = len(self.rows)
        self._add(rows, range(lines_before + 1, lines_before + 1 + count))
        if suspect:
            self._flag_bad_utf8(first, rows)

    def add_clean(self, data: bytes, count: int, lines_before: int, line_breaks: int) -> None:
        """`count` clean records (blank lines between them included) spanning `line_breaks` lines."""
        text, suspect = _decode(data)
        if "\r" in text:
            text = _CRS_BEFORE_LF.sub("\n", text)
        try:
            if line_breaks == count:  # a line per row: no blank lines, no line breaks in fields
                rows = list(csv.reader(text[:-1].split("\n")))
                lines = range(lines_before + 1, lines_before + 1 + count)
            else:  # the csv module joins a record's lines: each keeps its line break
                reader = csv.reader(map(str.__add__, text[:-1].split("\n"), repeat("\n")))
                rows, lines = [], []
                consumed = 0
                for values in reader:
                    if values:
                        rows.append(values)
                        lines.append(lines_before + consumed + 1)
                    consumed = reader.line_num
        except csv.Error:  # a field over the csv module's size limit
            self._add_one_by_one(data, lines_before)
            return
        first = len(self.rows)
        self._add(rows, lines)
        if suspect:
            self._flag_bad_utf8(first, rows)

    def _flag_bad_utf8(self, first: int, rows: list[list[str]]) -> None:
        """The chunk holds invalid UTF-8 or NUL somewhere: find the rows, one by one."""
        self.bad_utf8.update(first + i for i, values in enumerate(rows) if has_bad_utf8(",".join(values)))

    def add_record(self, data: bytes, lines_before: int) -> None:
        """One record that is not clean RFC 4180 (data: blank lines, the record, its line break)."""
        match = _ONE_RECORD.fullmatch(data)
        blank, record = match.group(1, 2)  # type: ignore[union-attr]
        text = "\n".join(part.rstrip("\r") for part in record.decode("utf-8", "surrogateescape").split("\n"))
        if has_bad_utf8(text):
            self.bad_utf8.add(len(self.rows))
        line = lines_before + blank.count(b"\n") + 1
        self._add([_split_fields(text) if '"' in text else text.split(",")], range(line, line + 1))

    def _add_one_by_one(self, data: bytes, lines_before: int) -> None:
        position = 0
        while position < len(data):
            end = _ONE_RECORD.match(data, position).end()  # type: ignore[union-attr]
            self.add_record(data[position:end], lines_before)
            lines_before += data.count(b"\n", position, end)
            position = end

    def _add(self, rows: list[list[str]], lines: range | list[int]) -> None:
        """Append rows with the lines they start on, keeping `lines` None while they run on."""
        index = len(self.rows)
        self.rows.extend(rows)
        if not lines:
            return
        if index == 0:
            self.first_line = lines[0]
        if self.lines is None:
            expected = range(self.first_line + index, self.first_line + index + len(lines))
            if lines == expected or list(lines) == list(expected):
                return
            self.lines = list(range(self.first_line, self.first_line + index))
        self.lines.extend(lines)
