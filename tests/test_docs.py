"""docs/file-formats.md names every message a user can get about a file, as the code writes it."""

import re
from pathlib import Path

from imports import direct_uploads, messages, s3_discovery, sources

FILE_FORMATS = (Path(__file__).resolve().parent.parent / "docs" / "file-formats.md").read_text()


def as_documented(template: str) -> str:
    """`{name}` placeholders are written `<name>` in the document."""
    return re.sub(r"\{(\w+)\}", r"<\1>", template)


def test_every_file_and_row_message_is_in_the_user_document():
    templates = [
        *messages.TEMPLATES,
        s3_discovery.MESSAGE_NAME_IN_FOLDER,
        s3_discovery.MESSAGE_NAME_HAS_SPACE,
        s3_discovery.MESSAGE_TOO_LARGE,
        *sources.S3_OBJECT_MESSAGES.values(),
        *direct_uploads.MESSAGES,
    ]
    missing = [template for template in templates if f"`{as_documented(template)}`" not in FILE_FORMATS]
    assert missing == []
