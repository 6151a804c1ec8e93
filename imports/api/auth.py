"""X-Repro-Token: the project's current API token, looked up by its SHA-256 digest (SPEC 1, 6)."""

from __future__ import annotations

from dataclasses import dataclass

from ninja.security import APIKeyHeader

from imports import selectors
from imports.api import errors
from imports.credentials import TOKEN_PREFIX_CHARS, api_token_digest
from imports.models import Project


@dataclass(frozen=True)
class Caller:
    project: Project
    token_digest: str  # the rate limit counts per token
    token_prefix: str


class ReproToken(APIKeyHeader):
    """401 without a token, 403 with a token that is not any project's current one."""

    param_name = "X-Repro-Token"

    def authenticate(self, request, key: str | None) -> Caller:
        token = (key or "").strip()
        if not token:
            raise errors.ApiError(errors.unauthorized())
        project = selectors.project_for_api_token(token=token)
        if project is None:
            raise errors.ApiError(errors.forbidden())
        return Caller(project=project, token_digest=api_token_digest(token), token_prefix=token[:TOKEN_PREFIX_CHARS])
