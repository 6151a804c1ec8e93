"""Signing secrets, kept encrypted: they must be readable to sign (HMAC), unlike API tokens.

The key is derived from SECRET_KEY (HKDF-SHA256), so a copy of the database alone does not reveal
them; SECRET_KEY_FALLBACKS still decrypt after SECRET_KEY is rotated (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_derive(key)) for key in keys])


def _derive(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"repro-dashboard webhook signing secrets")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))
