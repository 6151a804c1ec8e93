"""Bytes to CSV records: gzip sniffing, BOM, LF/CRLF, per-row UTF-8 check, RFC 4180
quoting and byte offsets that let an import resume exactly where it stopped.

Record boundaries follow one rule shared by every reading pass (`imports.core.chunks`): a
record ends at a line break once the number of double quotes since the record began is
even. For RFC 4180 input this is exactly CSV quoting; for malformed input (a stray
quote) it still gives all passes the same answer, so counts and checkpoints agree.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
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
    from a record's `end` continues the numbering. Kept for callers that want one record at
    a time with its own end offset; it reads one-row chunks of `chunks.read_chunks`, which
    is what new code should use (the rules are documented there and in docs/decisions-core.md).
    """
    from imports.core.chunks import Checkpoint, read_chunks  # chunks builds on this module

    checkpoint = Checkpoint(start, number, line)
    for chunk in read_chunks(stream, start=checkpoint, chunk_rows=1, max_record_bytes=max_record_bytes):
        yield Record(
            chunk.end.rows, chunk.first_line, chunk.end.offset, chunk.rows[0], 0 in chunk.bad_utf8,
            chunk.end.lines - chunk.first_line + 1,
        )


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
    `start`, `number` and `line` arguments of `iter_records`. Counting runs to the end so a
    "too many rows" message can give the true count; cut points stop at `max_rows`. New
    code should use `chunks.count_rows`, which stops at the limit.
    """
    from imports.core.chunks import Checkpoint, count_rows  # chunks builds on this module

    counted = count_rows(stream, start=Checkpoint(start, 0, line), every=every, max_record_bytes=max_record_bytes)
    limit = float("inf") if max_rows is None else max_rows
    return Scan(rows=counted.rows, row_starts=[tuple(cut) for cut in counted.cuts if cut.rows < limit])


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
