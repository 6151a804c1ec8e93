"""What the upload view checks before a file is stored and queued: that its header belongs to the
page's kind. Other problems of the header are left to the job, which reports them with SPEC's
messages like for every other source."""

from __future__ import annotations

from typing import IO

from django.utils.translation import gettext as _

from imports.core.file_kinds import EVENTS, USER_PROFILES, header_kind
from imports.core.profiles import MAX_HEADER_BYTES
from imports.core.reader import FileFormatError, open_decompressed, read_header

HEADER_SHOWN_CHARS = 120
EVENTS_HEADER = "user_id,event_name,event_properties"
PROFILES_HEADER_EXAMPLE = "user_id,plan,points"


def upload_kind_problem(upload: IO[bytes], *, kind: str, file_name: str) -> str | None:
    """Why the file does not belong on the ``kind`` page, naming the header that page expects; None
    when it does or when its header cannot be read (empty, no newline, damaged gzip: the job says so)."""
    upload.seek(0)
    try:
        names = read_header(open_decompressed(upload), max_bytes=MAX_HEADER_BYTES).names
    except FileFormatError:
        return None
    finally:
        upload.seek(0)
    found = header_kind(names)
    if found == kind:
        return None
    params = {"file": file_name, "header": _shown(names), "events": EVENTS_HEADER, "profiles": PROFILES_HEADER_EXAMPLE}
    if kind == EVENTS and found == USER_PROFILES and "event_name" not in names:
        return _(
            "“%(file)s” looks like a user profiles file: its header is %(header)s. Upload it on "
            "User Profiles › Data Import. An events file has the header %(events)s."
        ) % params
    if kind == EVENTS:
        return _(
            "“%(file)s” is not an events file: its header is %(header)s, but an events file has the "
            "header %(events)s."
        ) % params
    if found == EVENTS:
        return _(
            "“%(file)s” is an events file (its header is %(header)s). Upload it on Events › Data Import. "
            "A user profiles file has user_id and then the profile keys as its header, e.g. %(profiles)s."
        ) % params
    return _(
        "“%(file)s” is not a user profiles file: its header %(header)s has no user_id column. A user "
        "profiles file has user_id and then the profile keys as its header, e.g. %(profiles)s."
    ) % params


def _shown(names: list[str]) -> str:
    header = ",".join(names)
    return header if len(header) <= HEADER_SHOWN_CHARS else header[: HEADER_SHOWN_CHARS - 1] + "…"
