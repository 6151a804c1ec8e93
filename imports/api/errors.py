"""The API's response bodies. Existing client scripts compare them byte for byte, so they are
rendered compactly (no spaces), exactly as SPEC 6 quotes them — including the one body the seed
writes with a space, the 415."""

from __future__ import annotations

import json

from django.http import HttpResponse

MESSAGE_MISSING_TOKEN = 'Please include your Repro API Token as "X-Repro-Token" HTTP header.'
MESSAGE_WRONG_TOKEN = 'Please check your Repro API Token as "X-Repro-Token" HTTP header.'
MESSAGE_NOT_FOUND = "Not found."
MESSAGE_TOO_MANY_REQUESTS = "Too many requests hit the API too quickly."
MESSAGE_METHOD_NOT_ALLOWED = "Method not allowed."
MESSAGE_TOO_LARGE = "client intended to send too large body"
MESSAGE_NOT_GZIP = "not in gzip format"
MESSAGE_PARAM_MISSING = "param is missing or the value is empty: {name}"
MESSAGE_VALIDATION_FAILED = "Validation failed: {problems}"
MESSAGE_NOT_JSON = "request body is not valid JSON"
MESSAGE_SERVER_FAULT = (
    "The server could not handle this request; it was not counted against the rate limit. Please try again later."
)
# SPEC 4 file-format errors answered by v2 carry this code.
FILE_FORMAT_CODE = 2001
UNSUPPORTED_MEDIA_TYPE_BODY = b'{"error": "415 Unsupported Media Type"}'


class ApiError(Exception):
    """Stops a request with a finished error response (the exception handler returns it as is)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def json_response(body: object, status: int = 200) -> HttpResponse:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return HttpResponse(content, status=status, content_type="application/json")


def _status_error(status_code: int, status: str, message: str) -> HttpResponse:
    return json_response({"status": status, "error": {"messages": [message]}}, status_code)


def unauthorized() -> HttpResponse:
    return _status_error(401, "unauthorized", MESSAGE_MISSING_TOKEN)


def forbidden() -> HttpResponse:
    return _status_error(403, "forbidden", MESSAGE_WRONG_TOKEN)


def not_found() -> HttpResponse:
    return _status_error(404, "not_found", MESSAGE_NOT_FOUND)


def method_not_allowed(allowed: list[str]) -> HttpResponse:
    response = _status_error(405, "method_not_allowed", MESSAGE_METHOD_NOT_ALLOWED)
    response["Allow"] = ", ".join(allowed)
    return response


def too_many_requests(retry_after: int) -> HttpResponse:
    response = _status_error(429, "too_many_requests", MESSAGE_TOO_MANY_REQUESTS)
    response["Retry-After"] = str(retry_after)
    return response


def service_unavailable(message: str) -> HttpResponse:
    return _status_error(503, "service_unavailable", message)


def bad_request(message: str, *, code: int | None = None) -> HttpResponse:
    error: dict[str, object] = {"messages": [message]}
    if code is not None:
        error = {"code": code, **error}
    return json_response({"error": error}, 400)


def payload_too_large() -> HttpResponse:
    return json_response({"error": {"messages": [MESSAGE_TOO_LARGE]}}, 413)


def unsupported_media_type() -> HttpResponse:
    return HttpResponse(UNSUPPORTED_MEDIA_TYPE_BODY, status=415, content_type="application/json")
