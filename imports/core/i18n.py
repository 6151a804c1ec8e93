"""Marks the core's user-visible templates for translation without importing Django.

``gettext_noop`` is one of the keywords Django's makemessages hands to xgettext, so the catalogue
build finds each template where it is defined; the marker also keeps a list of them (``MARKED``),
against which the Django side matches stored row-error reasons.
"""

MARKED: list[str] = []


def gettext_noop(message: str) -> str:
    """The message itself, noted for translation."""
    MARKED.append(message)
    return message
