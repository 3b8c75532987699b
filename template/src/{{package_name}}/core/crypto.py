"""Field-level encryption with AES-256-GCM, readable across a key rotation."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Stored values start with a version so the format can change without ambiguity.
_VERSION = "v1"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """No configured key decrypts the value (wrong key or tampered data)."""


class FieldCipher:
    """Encrypt with the current key; decrypt with the current or the previous key."""

    def __init__(self, key_hex: str, previous_hex: str | None = None) -> None:
        """Build ciphers from hex keys of 32 bytes each.

        Raises:
            ValueError: a key is not 64 hex characters.
        """
        self._current = AESGCM(_key(key_hex, "DB_ENCRYPTION_KEY"))
        self._previous = AESGCM(_key(previous_hex, "DB_ENCRYPTION_KEY_PREVIOUS")) if previous_hex else None

    def encrypt(self, plaintext: str) -> str:
        """Return ``v1.<base64(nonce + ciphertext + tag)>``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.encrypt(nonce, plaintext.encode("utf-8"), _VERSION.encode())
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str) -> str:
        """Decrypt a value made by :meth:`encrypt` with either key.

        Raises:
            DecryptionError: the value is malformed or no key opens it.
        """
        version, _, body = token.partition(".")
        if version != _VERSION or not body:
            raise DecryptionError("not an encrypted field value")
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for cipher in (self._current, self._previous):
            if cipher is None:
                continue
            try:
                return cipher.decrypt(nonce, sealed, _VERSION.encode()).decode("utf-8")
            except InvalidTag:
                continue
        raise DecryptionError("no configured key decrypts this value")


def _key(key_hex: str, name: str) -> bytes:
    try:
        key = bytes.fromhex(key_hex)
    except ValueError as exc:
        raise ValueError(f"{name} must be hex-encoded") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must be 32 bytes (64 hex characters) for AES-256")
    return key
