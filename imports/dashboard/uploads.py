"""Refusing an upload over the dashboard's limit (SPEC 3: 150 MB) without storing it."""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, SkipFile

# Room for the multipart boundaries and the form's small fields around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class UploadLimitHandler(FileUploadHandler):
    """Runs before the handlers that spool to memory or disk: once a file passes ``max_bytes`` its
    remaining bytes are read and dropped, and ``too_large`` tells the view to refuse it."""

    def __init__(self, request, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.max_bytes:
            self.too_large = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
