"""Which kind of import a header belongs to, so that a file sent to the wrong page can be refused
before it is queued (the job would only fail with "unknown column: …")."""

from __future__ import annotations

from imports.core.events import EVENT_COLUMNS
from imports.core.profiles import USER_ID
from imports.core.reader import ERRORS_COLUMN

EVENTS = "events"
USER_PROFILES = "user_profiles"


def header_kind(names: list[str]) -> str | None:
    """``events`` when the columns are the three event columns, else ``user_profiles`` when there is a
    ``user_id`` column (any other name is a profile key), else None. REPRO_ERRORS and empty names are
    left out: they are the jobs' own checks, not a sign of the kind."""
    columns = {name for name in names if name and name != ERRORS_COLUMN}
    if columns == set(EVENT_COLUMNS):
        return EVENTS
    if USER_ID in columns:
        return USER_PROFILES
    return None
