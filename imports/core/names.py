"""Names that come from outside (S3 keys, uploaded file names) as they can be shown anywhere: in a
page, a log line, a download's file name or an email header, where a newline would end the header
and fail the email."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, lone surrogates.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def display_name(name: str) -> str:
    """``name`` with each control character replaced by U+FFFD, so that it stays one line of plain text."""
    return _UNSHOWABLE.sub("\ufffd", name)
