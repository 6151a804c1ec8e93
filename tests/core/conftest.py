"""Helpers shared by the core tests (plain pytest: no database, no Django)."""

import io

from imports.core.reader import Header, Record, iter_records, open_decompressed, read_header


def read_file(data: bytes, *, max_bytes: int | None = None) -> tuple[Header, list[Record]]:
    """Read a whole file the way the pipeline does: sniff, header, records."""
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream, max_bytes=max_bytes)
    return header, list(iter_records(stream, start=header.end))
