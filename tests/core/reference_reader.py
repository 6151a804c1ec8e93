"""The line-by-line reader that `imports.core.chunks` replaced, kept as the reference the
property tests compare the chunked reader against (records, numbers, lines, offsets, errors).

It reads a line at a time with `readline`, decodes each line, and splits one-line records
with a reused csv.reader, others with `_split_fields`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from functools import partial
from typing import BinaryIO

from imports.core.reader import (
    _CORRUPT_ERRORS,
    MAX_RECORD_BYTES,
    MESSAGE_CORRUPT,
    MESSAGE_UNTERMINATED_QUOTE,
    FileFormatError,
    Message,
    Record,
    Scan,
    _split_fields,
    _too_large,
)


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
