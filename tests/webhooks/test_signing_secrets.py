"""Signing secrets are stored encrypted with a key from SECRET_KEY, and survive its rotation."""

import pytest
from cryptography.fernet import InvalidToken

from imports.webhooks.signing_secrets import secret_decrypt, secret_encrypt, secret_generate


def test_secret_is_encrypted_and_readable_with_the_secret_key(settings):
    secret = secret_generate()
    stored = secret_encrypt(secret)
    assert secret not in stored and secret[6:] not in stored
    assert secret_decrypt(stored) == secret
    assert secret_generate() != secret


def test_rotated_secret_key_still_reads_secrets_through_its_fallbacks(settings):
    stored = secret_encrypt("whsec_kept")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key"
    with pytest.raises(InvalidToken):
        secret_decrypt(stored)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert secret_decrypt(stored) == "whsec_kept"
