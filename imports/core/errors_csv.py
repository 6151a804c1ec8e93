"""Error CSVs: the failed rows with their original values plus the reasons, in a file
that can be fixed and uploaded again as it is (REPRO_ERRORS is ignored on import).

Events put the reasons last (SPEC 3), profiles first (SPEC 4); one writer serves both.
Fields are written back byte for byte, invalid UTF-8 included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from imports.core.events import EVENT_COLUMNS
from imports.core.reader import ERRORS_COLUMN

__all__ = [
    "ERRORS_COLUMN",
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

_NEEDS_QUOTES = re.compile('[,"\r\n]')


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
) -> int:
    """Write the error CSV of a file with `header`; `rows` are (values, reasons).

    Returns the number of rows written.
    """
    out.write(encode_row(error_header(header, errors_first=errors_first)))
    count = 0
    for values, reasons in rows:
        out.write(error_line(values, reasons, header, errors_first=errors_first))
        count += 1
    return count


def error_line(values: Sequence[str], reasons: Sequence[str], header: Sequence[str], *, errors_first: bool) -> bytes:
    """One failed row as an encoded line of the error CSV, ready to store and concatenate."""
    kept = original_values(values, header)
    joined = reasons_cell(reasons)
    return encode_row([joined, *kept] if errors_first else [*kept, joined])


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

