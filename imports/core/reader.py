"""Bytes to CSV records: gzip sniffing, BOM, LF/CRLF, per-row UTF-8 check, RFC 4180
quoting and byte offsets that let an import resume exactly where it stopped.

Record boundaries follow one rule shared by `iter_records` and the cheap `scan`: a
record ends at a line break once the number of double quotes since the record began is
even. For RFC 4180 input this is exactly CSV quoting; for malformed input (a stray
quote) it still gives both passes the same answer, so counts and checkpoints agree.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from imports.core.i18n import gettext_noop

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
ERRORS_COLUMN = "REPRO_ERRORS"
# Far above any sensible row; it only bounds memory when a quote is never closed.
MAX_RECORD_BYTES = 16 * 1024 * 1024

MESSAGE_EMPTY_FILE = gettext_noop("empty file")
MESSAGE_NO_NEWLINE = gettext_noop("newline character not found")
MESSAGE_HEADER_TOO_LARGE = gettext_noop("header size over {max_bytes} bytes")
MESSAGE_CORRUPT = gettext_noop("file maybe corrupt")
MESSAGE_UNTERMINATED_QUOTE = gettext_noop("unterminated quoted field starting on line {line}")
MESSAGE_ROW_TOO_LARGE = gettext_noop("row starting on line {line} is over {limit} bytes")
# Header and row messages shared by both kinds of import.
MESSAGE_EMPTY_COLUMNS = gettext_noop("empty columns")
MESSAGE_DUPLICATE_COLUMNS = gettext_noop("duplicate columns {names}")
MESSAGE_TOO_MANY_VALUES = gettext_noop("too many values")
MESSAGE_FILE_CHANGED = gettext_noop("the file changed while it was being imported")

# Raised by gzip while decompressing a truncated or damaged stream.
_CORRUPT_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)

# Decoding with surrogateescape maps each invalid byte to U+DC80..U+DCFF; other
# surrogates can come from JSON escapes. PostgreSQL text cannot hold either, nor NUL.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# One field of a record, mirroring the csv module's non-strict reading of RFC 4180:
# a quoted part ("" is a quote; a missing closing quote runs to the end) optionally
# followed by literal text, or plain text.
_FIELD = re.compile(r'"([^"]*(?:""[^"]*)*)"?([^,]*)|([^,]*)')


class Message(str):
    """A user-visible English message that keeps its template and parameters.

    It compares and serialises as the plain English text; the web layer can translate
    `template` and format it with `params`.
    """

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, **params: object) -> Message:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template = template
        self.params = params
        return self


class FileFormatError(Exception):
    """Whole-file problem; str(exc) is the exact user-visible message from SPEC."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def has_bad_utf8(text: str) -> bool:
    """True if `text` holds bytes that were not valid UTF-8, or NUL.

    NUL is valid UTF-8 but no PostgreSQL text can store it, so it is refused the same way.
    """
    return _UNSTORABLE.search(text) is not None


def printable(text: str) -> str:
    """`text` as it can be shown and stored in a message: bad characters become U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def duplicates(names: list[str]) -> list[str]:
    """Names that occur more than once, each once, in order of first appearance."""
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for name in names:
        if name in seen:
            repeated[name] = None
        seen.add(name)
    return list(repeated)


class _ReadAdapter(io.RawIOBase):
    """Lets io.BufferedReader wrap any object that only has read()."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        # Resuming a job seeks to a checkpoint when the source allows it.
        return bool(getattr(self._raw, "seekable", lambda: False)())

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def open_decompressed(raw: BinaryIO) -> BinaryIO:
    """Return a stream of the file's content, gunzipped on the fly if it is gzip.

    Only the first two bytes are looked at, so nothing is read into memory. A damaged
    gzip stream surfaces later as FileFormatError("file maybe corrupt") from the reading
    functions of this module.
    """
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(_ReadAdapter(raw), buffer_size=1 << 20)
    if raw.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


@dataclass(frozen=True, slots=True)
class Header:
    names: list[str]
    end: int
    bad_utf8: list[str]


def read_header(stream: BinaryIO, *, max_bytes: int | None = None) -> Header:
    """Read and parse the first line; the stream is left at the first data row.

    The header size is the line without BOM and line break. `end` counts the BOM, since
    offsets are positions in the (decompressed) stream. Without `max_bytes` the header
    is still held to the row size limit.
    """
    limit = MAX_RECORD_BYTES if max_bytes is None else max_bytes
    try:
        line = stream.readline(len(UTF8_BOM) + limit + 2)
    except _CORRUPT_ERRORS as exc:
        raise FileFormatError(Message(MESSAGE_CORRUPT)) from exc
    bom = len(UTF8_BOM) if line.startswith(UTF8_BOM) else 0
    body = line[bom:].rstrip(b"\r\n")
    if not line[bom:]:
        raise FileFormatError(Message(MESSAGE_EMPTY_FILE))
    if len(body) > limit:
        if max_bytes is None:
            raise _too_large(1, limit)
        raise FileFormatError(Message(MESSAGE_HEADER_TOO_LARGE, max_bytes=max_bytes))
    if not line.endswith(b"\n"):
        raise FileFormatError(Message(MESSAGE_NO_NEWLINE))
    text = body.decode("utf-8", "surrogateescape")
    names = _split_fields(text) if text else []
    return Header(names=names, end=len(line), bad_utf8=[name for name in names if has_bad_utf8(name)])


def skip_to(stream: BinaryIO, position: int, offset: int) -> None:
    """Move ``stream`` from ``position`` to ``offset``: a seek when it can, else by reading (gzip)."""
    if stream.seekable():
        stream.seek(offset)
        return
    while position < offset:
        block = stream.read(min(1 << 20, offset - position))
        if not block:
            raise FileFormatError(Message(MESSAGE_FILE_CHANGED))
        position += len(block)


@dataclass(slots=True)
class Record:
    number: int
    line: int
    end: int
    values: list[str]
    bad_utf8: bool  # some field may fail has_bad_utf8: check fields only when set
    lines: int = 1  # physical lines the record spans (quoted line breaks)

    @property
    def last_line(self) -> int:
        """Physical lines consumed up to `end`: the `line` to resume from there."""
        return self.line + self.lines - 1


def iter_records(
    stream: BinaryIO,
    *,
    start: int,
    number: int = 0,
    line: int = 1,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[Record]:
    """Yield the data records of `stream`, which is positioned at byte offset `start`.

    `number` and `line` are the data rows and physical lines before `start`, so resuming
    from a record's `end` continues the numbering. Blank lines outside quotes are not
    rows. Line breaks are LF with any CRs before it; inside a quoted field a line break
    becomes a single LF. An unterminated quote would swallow the rest of the file, so it
    fails the whole file (FileFormatError) instead of producing one giant row; so does a
    record over `max_record_bytes`, which keeps memory bounded whatever the input.
    """
    parse = _field_parser()
    offset = start
    parts: list[str] = []  # lines of a record that spans several lines
    quotes = 0
    first_line = 0
    record_bytes = 0
    bad = False
    try:
        for raw in iter(partial(stream.readline, max_record_bytes + 1), b""):
            size = len(raw)
            offset += size
            line += 1
            if parts:
                record_bytes += size
                if record_bytes > max_record_bytes:
                    raise _too_large(first_line, max_record_bytes)
            elif size > max_record_bytes:
                raise _too_large(line, max_record_bytes)
            try:
                text = raw.decode("utf-8")
                if "\x00" in text:
                    bad = True
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "surrogateescape")
                bad = True
            body = text.rstrip("\r\n")
            if parts:
                parts.append(body)
                if '"' in body:
                    quotes += body.count('"')
                if quotes & 1:
                    continue
                number += 1
                yield Record(number, first_line, offset, _split_fields("\n".join(parts)), bad, len(parts))
                parts = []
                bad = False
                continue
            if '"' in body:
                quotes = body.count('"')
                if quotes & 1:
                    parts.append(body)
                    first_line = line
                    record_bytes = size
                    continue
                values = parse(body)
            elif body:
                values = body.split(",")
            else:
                continue
            number += 1
            yield Record(number, line, offset, values, bad)
            bad = False
    except _CORRUPT_ERRORS as exc:
        raise FileFormatError(Message(MESSAGE_CORRUPT)) from exc
    if parts:
        raise FileFormatError(Message(MESSAGE_UNTERMINATED_QUOTE, line=first_line))


@dataclass(frozen=True, slots=True)
class Scan:
    rows: int
    row_starts: list[tuple[int, int, int]]


def scan(
    stream: BinaryIO,
    *,
    start: int,
    every: int = 100_000,
    max_rows: int | None = None,
    line: int = 1,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Scan:
    """Count the data rows from `start` to the end without parsing fields.

    `row_starts` holds, for k = 0, 1, 2, …, where data row k*every+1 (counted from
    `start`) begins, as (byte offset, rows before it, physical lines before it): the
    `start`, `number` and `line` arguments of `iter_records`, so a file can be split
    into parts. `line` is the physical lines before `start` (1: the header).
    Counting always runs to the end so a "too many rows" message can give the true
    count; past `max_rows` no more cut points are recorded, which keeps memory bounded
    for files that will be refused. Fails exactly where `iter_records` would.
    """
    rows = 0
    row_starts: list[tuple[int, int, int]] = []
    next_cut = 0  # rows before the next cut point
    limit = float("inf") if max_rows is None else max_rows
    offset = start
    in_quotes = False
    first_line = record_bytes = 0
    try:
        for raw in iter(partial(stream.readline, max_record_bytes + 1), b""):
            size = len(raw)
            if in_quotes:
                record_bytes += size
                if record_bytes > max_record_bytes:
                    raise _too_large(first_line, max_record_bytes)
                if raw.count(b'"') & 1:
                    in_quotes = False
                    rows += 1
            elif size > max_record_bytes:
                raise _too_large(line + 1, max_record_bytes)
            elif raw[0] in b"\r\n" and not raw.rstrip(b"\r\n"):
                pass  # a blank line is not a row
            else:
                if rows == next_cut and rows < limit:
                    row_starts.append((offset, rows, line))
                    next_cut += every
                if raw.count(b'"') & 1:
                    in_quotes = True
                    first_line = line + 1
                    record_bytes = size
                else:
                    rows += 1
            offset += size
            line += 1
    except _CORRUPT_ERRORS as exc:
        raise FileFormatError(Message(MESSAGE_CORRUPT)) from exc
    if in_quotes:
        raise FileFormatError(Message(MESSAGE_UNTERMINATED_QUOTE, line=first_line))
    return Scan(rows=rows, row_starts=row_starts)


def _too_large(line: int, limit: int) -> FileFormatError:
    return FileFormatError(Message(MESSAGE_ROW_TOO_LARGE, line=line, limit=f"{limit:,}"))


def _split_fields(text: str) -> list[str]:
    """Split one record's text into fields, quotes handled as the csv module does."""
    fields = []
    pos = 0
    end = len(text)
    while True:
        match = _FIELD.match(text, pos)
        quoted, rest, plain = match.groups()  # type: ignore[union-attr]
        fields.append(plain if quoted is None else quoted.replace('""', '"') + rest)
        pos = match.end()  # type: ignore[union-attr]
        if pos >= end:
            return fields
        pos += 1  # the comma


def _field_parser() -> Callable[[str], list[str]]:
    """A fast splitter for one-line records that contain quotes.

    One csv.reader is fed line by line (creating a reader per record costs more than the
    parsing). It is the C implementation of `_split_fields`, which takes over when the
    reader cannot finish a record within the line or a field exceeds csv's size limit.
    """
    pending: list[str] = []
    reader = csv.reader(iter(pending.pop, None))

    def parse(body: str) -> list[str]:
        if "\r" in body:
            return _split_fields(body)  # csv treats a lone CR as a line break
        pending.append(body)
        try:
            return next(reader)
        except (IndexError, csv.Error):
            pending.clear()
            return _split_fields(body)

    return parse
