"""API v3 (SPEC 6): the first request's checks and their 400 answers. What happens next (the job
awaiting its upload, the pre-signed URL, the checks of what arrived) is ``imports.direct_uploads``."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from imports.api import errors
from imports.direct_uploads import CONTENT_TYPES, UploadRequest

DEFAULT_CONTENT_TYPE = "text/csv"
MAX_REQUEST_BYTES = 16 * 1024
_DIGITS = re.compile(r"-?[0-9]+")
_MD5_BYTES = 16

# Rails' wording, which the seed's messages follow ("Validation failed: Checksum is invalid").
PROBLEM_CHECKSUM = "Checksum is invalid"
PROBLEM_NOT_A_NUMBER = "Byte size is not a number"
PROBLEM_NOT_AN_INTEGER = "Byte size must be an integer"
PROBLEM_NOT_POSITIVE = "Byte size must be greater than 0"
PROBLEM_TOO_LARGE = "Byte size must be less than or equal to {limit}"
PROBLEM_CONTENT_TYPE = "Content type is not included in the list"


def upload_request_parse(body: bytes) -> UploadRequest:
    """The first request's JSON, or ApiError with its 400 (SPEC 6). A body that is JSON but not an
    object has no parameters, as in Rails: byte_size is then missing."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise errors.ApiError(errors.bad_request(errors.MESSAGE_NOT_JSON)) from None
    if not isinstance(data, dict):
        data = {}
    byte_size = data.get("byte_size")
    if byte_size in (None, "", [], {}):
        raise errors.ApiError(errors.bad_request(errors.MESSAGE_PARAM_MISSING.format(name="byte_size")))
    checksum = data.get("checksum")
    content_type = data.get("content_type") or DEFAULT_CONTENT_TYPE
    known_type = isinstance(content_type, str) and content_type in CONTENT_TYPES
    problems = []
    if not checksum_is_valid(checksum):
        problems.append(PROBLEM_CHECKSUM)
    size, problem = _byte_size(byte_size, CONTENT_TYPES[content_type][0] if known_type else None)
    if problem:
        problems.append(problem)
    if not known_type:
        problems.append(PROBLEM_CONTENT_TYPE)
    if problems:
        message = errors.MESSAGE_VALIDATION_FAILED.format(problems=", ".join(problems))
        raise errors.ApiError(errors.bad_request(message))
    return UploadRequest(checksum=checksum, byte_size=size, content_type=content_type)


def checksum_is_valid(checksum: Any) -> bool:
    """Canonical base64 of 16 bytes, as `openssl dgst -md5 -binary FILE | base64` prints it."""
    if not isinstance(checksum, str) or not checksum.isascii():
        return False
    try:
        digest = base64.b64decode(checksum, validate=True)
    except binascii.Error:
        return False
    return len(digest) == _MD5_BYTES and base64.b64encode(digest).decode() == checksum


def _byte_size(value: Any, limit: int | None) -> tuple[int, str | None]:
    """A JSON number or a string of digits (the seed's client sends "123456")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return 0, PROBLEM_NOT_A_NUMBER
    if isinstance(value, float):
        return 0, PROBLEM_NOT_AN_INTEGER
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            return 0, PROBLEM_NOT_A_NUMBER
        digits = value.lstrip("-").lstrip("0")
        # int() refuses more than 4300 digits; anything over 19 is far beyond every limit anyway.
        value = int(value) if len(digits) <= 19 else (-1 if value.startswith("-") else 2**63)
    if value <= 0:
        return 0, PROBLEM_NOT_POSITIVE
    if limit is not None and value > limit:
        return 0, PROBLEM_TOO_LARGE.format(limit=limit)
    return value, None
