"""Credentials of a project. Repro API tokens: generated here, kept only as a SHA-256 digest;
lookups go by digest. S3 access keys: made by the provider (imports/s3.py); only the key ID is kept."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from django.utils import timezone

from imports import s3
from imports.models import Project, S3AccessKey

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

TOKEN_PREFIX_CHARS = 8


def api_token_generate() -> str:
    """A random token that never starts with ``-``, which command lines take for an option
    (``bulk_import.py --token -abc`` failed once in 64 tokens)."""
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def s3_access_key_issue(*, project: Project, by: AbstractBaseUser | None = None) -> tuple[S3AccessKey, str]:
    """Make a key at the provider and record its ID; the secret is returned to show once, never stored."""
    provider = s3.access_key_provider()
    issued = provider.key_issue(bucket=s3.import_bucket(), app_id=project.app_id)
    try:
        key = S3AccessKey.objects.create(
            project=project, access_key_id=issued.access_key_id, provider_user=issued.provider_user, created_by=by
        )
    except Exception:
        # A key the dashboard does not list could never be revoked: take it back.
        provider.key_delete(access_key_id=issued.access_key_id, provider_user=issued.provider_user)
        raise
    return key, issued.secret_access_key


def s3_access_key_revoke(*, key: S3AccessKey) -> S3AccessKey:
    """Delete the key at the provider first, so it has stopped working once it shows as revoked."""
    s3.access_key_provider().key_delete(access_key_id=key.access_key_id, provider_user=key.provider_user)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    return key
