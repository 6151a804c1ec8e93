"""The spec's limits that more than one layer needs: models, forms, templates and messages read them here."""

from imports.core.i18n import gettext_noop
from imports.core.reader import FileFormatError, Message

MAX_ROWS = 1_000_000  # SPEC 2: data rows per file
MAX_NAME_CHARS = 191  # SPEC 3: user_id, event_name and an event's display name

MESSAGE_TOO_MANY_ROWS = gettext_noop("too many rows: {rows} (limit {limit})")
# Not about the file: what a job says when the code failed it (the details go to the log).
MESSAGE_INTERNAL_ERROR = gettext_noop(
    "The import stopped because of an internal error. Please try again or contact support."
)


def check_row_count(rows: int) -> None:
    """FileFormatError when a file has more data rows than SPEC 2 allows."""
    if rows > MAX_ROWS:
        raise FileFormatError(Message(MESSAGE_TOO_MANY_ROWS, rows=f"{rows:,}", limit=f"{MAX_ROWS:,}"))
