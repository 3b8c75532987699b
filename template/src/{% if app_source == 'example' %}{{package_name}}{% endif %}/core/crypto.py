"""Field-level encryption with AES-256-GCM, bound to where a value is stored, readable across a key rotation.

A value is sealed with associated data naming its place (``items.secret_note:<item id>``):
copied into another row or column, it no longer decrypts, so a person who can write to the
database can't move one user's note into another user's row to have it shown there.

Format ``v2`` is that binding. Format ``v1`` (before it) bound every value to the constant
``"v1"`` only; such values are still read, wherever they are, so no stored data is lost, and
are written as ``v2`` the next time their field changes or by the re-encryption command
(``python -m <package>.admin reencrypt``), which moves every stored value to the current key in
format ``v2``. Until then a ``v1`` value can still be moved between rows.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Stored values start with a version so the format can change without ambiguity.
_VERSION = "v2"
_UNBOUND_VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16


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

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        """Return ``v2.<base64(nonce + ciphertext + tag)>``, bound to ``context``.

        ``context`` names where the value is stored (:func:`field_context`); only
        :meth:`decrypt` with the same ``context`` opens it.
        """
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.encrypt(nonce, plaintext.encode("utf-8"), _associated_data(_VERSION, context))
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, *, context: str = "") -> str:
        """Decrypt a value made by :meth:`encrypt` for ``context`` with either key (``v1`` values anywhere).

        Raises:
            DecryptionError: the value is malformed, was written for another context, or no
                key opens it.
        """
        return self._open(token, context)[0]

    def rewrap(self, token: str, *, context: str = "") -> str | None:
        """Return ``token`` encrypted again with the current key in format ``v2``, or None when it already is.

        A value the current key opens in format ``v2`` needs nothing; a value in format ``v1``
        or under the previous key is decrypted and sealed anew for ``context``.

        Raises:
            DecryptionError: as :meth:`decrypt`: no configured key opens the value for ``context``.
        """
        plaintext, current = self._open(token, context)
        if current and token.startswith(f"{_VERSION}."):
            return None
        return self.encrypt(plaintext, context=context)

    def _open(self, token: str, context: str) -> tuple[str, bool]:
        # The plaintext, and whether the current key (not the previous one) opened it.
        version, _, body = token.partition(".")
        if version not in (_VERSION, _UNBOUND_VERSION) or not body:
            raise DecryptionError("not an encrypted field value")
        associated = _associated_data(version, context)
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
        except ValueError as exc:  # binascii.Error and UnicodeEncodeError are ValueErrors
            raise DecryptionError("not an encrypted field value") from exc
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("not an encrypted field value")
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for cipher in (self._current, self._previous):
            if cipher is None:
                continue
            try:
                return cipher.decrypt(nonce, sealed, associated).decode("utf-8"), cipher is self._current
            except InvalidTag:
                continue
        raise DecryptionError("no configured key decrypts this value for this place")


def field_context(table: str, column: str, row_id: object) -> str:
    """Return the context that binds an encrypted value to one field of one row."""
    return f"{table}.{column}:{row_id}"


def _associated_data(version: str, context: str) -> bytes:
    # The version is part of it, so a v2 body relabelled v1 (or back) does not open either.
    return version.encode() if version == _UNBOUND_VERSION else f"{version}:{context}".encode()


def _key(key_hex: str, name: str) -> bytes:
    try:
        key = bytes.fromhex(key_hex)
    except ValueError as exc:
        raise ValueError(f"{name} must be hex-encoded") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must be 32 bytes (64 hex characters) for AES-256")
    return key
