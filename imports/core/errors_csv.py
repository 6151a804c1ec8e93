"""Error CSVs: the failed rows with their original values plus the reasons, in a file
that can be fixed and uploaded again as it is (REPRO_ERRORS is ignored on import).

Events put the reasons last (SPEC 3), profiles first (SPEC 4); one writer serves both.
Fields are written back byte for byte, invalid UTF-8 included, except in a row whose values
pass `MAX_ERROR_ROW_BYTES` (issue 12): that row is cut, as docs/decisions-core.md says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from imports.core.events import EVENT_COLUMNS
from imports.core.reader import ERRORS_COLUMN

__all__ = [
    "ERRORS_COLUMN",
    "MAX_ERROR_ROW_BYTES",
    "REASON_SEPARATOR",
    "encode_row",
    "error_header",
    "error_line",
    "event_error_header",
    "original_values",
    "reasons_cell",
    "write_error_csv",
]

REASON_SEPARATOR = "; "
# A spreadsheet may run a cell that starts with one of these as a formula (CWE-1236). The reasons
# are ours, so their cell gets a leading apostrophe; data cells stay as sent, to upload again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A failed row is kept whole up to this many bytes of values; a longer one is cut.
MAX_ERROR_ROW_BYTES = 64 * 1024
CUT_MARK = "…"
ROW_CUT = "[row cut: {size} bytes]"

_NEEDS_QUOTES = re.compile('[,"\r\n]')
_NEEDS_QUOTES_BYTES = re.compile(b'[,"\r\n]')
_CUT_MARK_BYTES = CUT_MARK.encode()


def error_header(header: Sequence[str], *, errors_first: bool) -> list[str]:
    """The error CSV's header for a file with `header`: its columns plus REPRO_ERRORS."""
    kept = [name for name in header if name != ERRORS_COLUMN]
    return [ERRORS_COLUMN, *kept] if errors_first else [*kept, ERRORS_COLUMN]


def event_error_header(header: Sequence[str] = EVENT_COLUMNS) -> list[str]:
    return error_header(header, errors_first=False)


def original_values(values: Sequence[str], header: Sequence[str]) -> list[str]:
    """A row's values under `header` minus its REPRO_ERRORS columns.

    A short row is padded with empty fields so that the reasons land under REPRO_ERRORS;
    values beyond the header are kept, so a row with too many values still has them.
    """
    width = len(header)
    kept = [value for value, name in zip(values, header) if name != ERRORS_COLUMN]
    kept.extend("" for name in header[len(values) :] if name != ERRORS_COLUMN)
    kept.extend(values[width:])
    return kept


def write_error_csv(
    out: BinaryIO,
    header: Sequence[str],
    rows: Iterable[tuple[Sequence[str], Sequence[str]]],
    *,
    errors_first: bool,
    max_bytes: int = MAX_ERROR_ROW_BYTES,
) -> int:
    """Write the error CSV of a file with `header`; `rows` are (values, reasons).

    Returns the number of rows written.
    """
    out.write(encode_row(error_header(header, errors_first=errors_first)))
    count = 0
    for values, reasons in rows:
        out.write(error_line(values, reasons, header, errors_first=errors_first, max_bytes=max_bytes))
        count += 1
    return count


def error_line(
    values: Sequence[str],
    reasons: Sequence[str],
    header: Sequence[str],
    *,
    errors_first: bool,
    max_bytes: int = MAX_ERROR_ROW_BYTES,
) -> bytes:
    """One failed row as an encoded line of the error CSV, ready to store and concatenate.

    Values of more than `max_bytes` (as written in the CSV) are cut there, and one more cell
    says how large the row was: kept whole, a hostile file's rows would make an error CSV as
    large as the file, and the reasons say why no such row can be imported anyway.
    """
    kept = original_values(values, header)
    joined = reasons_cell(reasons)
    cut: list[str] = []
    # Written, a character takes at most 4 bytes and a field 3 more (quotes, comma): a quick bound first.
    if 4 * sum(map(len, kept)) + 3 * len(kept) > max_bytes:
        raws = [value.encode("utf-8", "surrogateescape") for value in kept]
        sizes = list(map(_written_size, raws))
        if sum(sizes) + len(sizes) > max_bytes:
            kept = _cut_values(kept, raws, sizes, len(error_header(header, errors_first=errors_first)) - 1, max_bytes)
            cut = [ROW_CUT.format(size=f"{sum(map(len, raws)):,}")]
    return encode_row([joined, *kept, *cut] if errors_first else [*kept, joined, *cut])


def reasons_cell(reasons: Sequence[str]) -> str:
    """The REPRO_ERRORS cell: the reasons joined, never starting like a formula."""
    joined = REASON_SEPARATOR.join(reasons)
    return "'" + joined if joined.startswith(FORMULA_STARTS) else joined


def encode_row(fields: Sequence[str]) -> bytes:
    """One CSV line: RFC 4180 quoting, LF, each field's original bytes."""
    if len(fields) == 1 and not fields[0]:
        return b'""\n'  # an empty line would not be a row
    line = ",".join('"' + f.replace('"', '""') + '"' if _NEEDS_QUOTES.search(f) else f for f in fields)
    return (line + "\n").encode("utf-8", "surrogateescape")


def _written_size(raw: bytes) -> int:
    """Bytes a value takes in the CSV as `encode_row` writes it: quotes doubled, and two around it if needed."""
    return len(raw) + raw.count(b'"') + 2 * (_NEEDS_QUOTES_BYTES.search(raw) is not None)


def _cut_values(values: Sequence[str], raws: Sequence[bytes], sizes: Sequence[int], width: int, max_bytes: int) -> list[str]:
    """The values that fit in `max_bytes` as written; the one that crosses it cut short (whole
    characters) and marked; header columns after it empty, values beyond the header after it left out."""
    kept: list[str] = []
    room = max_bytes - width  # a separator for each header column, written or left empty
    for index, (value, raw, size) in enumerate(zip(values, raws, sizes)):
        cost = size + (index >= width)  # a value beyond the header brings its own separator
        if cost <= room:
            kept.append(value)
            room -= cost
            continue
        room -= index >= width
        end = max(0, min(len(raw), room))
        while True:
            while 0 < end < len(raw) and raw[end] & 0xC0 == 0x80:  # not inside a UTF-8 character
                end -= 1
            over = _written_size(raw[:end] + _CUT_MARK_BYTES) - room
            if over <= 0 or end == 0:
                break
            end = max(0, end - over)
        if over <= 0:  # else not even the mark fits: the value is left out (empty in its column)
            kept.append((raw[:end] + _CUT_MARK_BYTES).decode("utf-8", "surrogateescape"))
        break
    kept.extend("" for _ in range(width - len(kept)))
    return kept
