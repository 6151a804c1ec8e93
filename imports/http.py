"""HTTP details the front doors share (the dashboard's upload and both API versions)."""

from django.http import HttpRequest


def content_length(request: HttpRequest) -> int:
    """The declared body size; 0 when absent or malformed (the body is then limited as it is read)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
