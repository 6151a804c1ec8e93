"""Repro API tokens: generated here, kept only as a SHA-256 digest; lookups go by digest."""

import hashlib
import secrets

TOKEN_PREFIX_CHARS = 8


def api_token_generate() -> str:
    return secrets.token_urlsafe(32)


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
