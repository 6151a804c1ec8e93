"""The first part of a file, bounded in bytes and time: what a web request may read of an upload
before it answers (API v2's header check and type inference, issue 12). The whole file is checked
later, by its job."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from imports.core.reader import _CORRUPT_ERRORS, MESSAGE_CORRUPT, FileFormatError, Message

_BLOCK = 1 << 16


@dataclass(frozen=True, slots=True)
class Sample:
    data: bytes  # the decompressed content read; when cut, up to its last line break
    cut: bool  # the content goes on past `data`


def read_sample(
    stream: BinaryIO, *, max_bytes: int, seconds: float, clock: Callable[[], float] = time.monotonic
) -> Sample:
    """At most `max_bytes` of the decompressed `stream`, read for at most about `seconds`.

    A cut sample ends at its last line break (no row is taken half), unless it has none (a
    header longer than the budget: the header check then says so). A gzip stream damaged within
    the sample raises FileFormatError("file maybe corrupt"); one that ends within it was checked
    whole, its CRC included.
    """
    deadline = clock() + seconds
    data = bytearray()
    try:
        while len(data) < max_bytes and clock() <= deadline:
            block = stream.read(min(_BLOCK, max_bytes - len(data)))
            if not block:
                return Sample(bytes(data), cut=False)
            data += block
        if not stream.read(1):
            return Sample(bytes(data), cut=False)
    except _CORRUPT_ERRORS as exc:
        raise FileFormatError(Message(MESSAGE_CORRUPT)) from exc
    end = data.rfind(b"\n") + 1
    return Sample(bytes(data[:end] if end else data), cut=True)
