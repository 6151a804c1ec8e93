"""The spec's limits that more than one layer needs: models, forms, templates and messages read them here."""

from imports.core.i18n import gettext_noop
from imports.core.reader import FileFormatError, Message

MAX_ROWS = 1_000_000  # SPEC 2: data rows per file
MAX_NAME_CHARS = 191  # SPEC 3: user_id, event_name and an event's display name

MESSAGE_TOO_MANY_ROWS = gettext_noop("too many rows: {rows} (limit {limit})")
# The counting pass stops soon after the limit (issue 12), so the true count is not known.
MESSAGE_TOO_MANY_ROWS_STOPPED = gettext_noop("too many rows: more than {rows} (limit {limit})")
# Not about the file: what a job says when the code failed it (the details go to the log).
MESSAGE_INTERNAL_ERROR = gettext_noop(
    "The import stopped because of an internal error. Please try again or contact support."
)


def check_row_count(rows: int, *, stopped: bool = False) -> None:
    """FileFormatError when a file has more data rows than SPEC 2 allows; `stopped`: counting
    stopped after `rows` rows, so the file has more than `rows - 1`."""
    if stopped:
        raise FileFormatError(Message(MESSAGE_TOO_MANY_ROWS_STOPPED, rows=f"{rows - 1:,}", limit=f"{MAX_ROWS:,}"))
    if rows > MAX_ROWS:
        raise FileFormatError(Message(MESSAGE_TOO_MANY_ROWS, rows=f"{rows:,}", limit=f"{MAX_ROWS:,}"))
