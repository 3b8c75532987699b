"""Password hashing (argon2) and access tokens (JWT) that survive key rotation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar, TypeVarTuple

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import AuthenticationError
from .policies import AccessPolicy
from .settings import Settings


class _PasswordHashing:
    """The argon2id hasher in use, and a hash to verify against when a user does not exist.

    Verifying against that dummy hash when the email is unknown keeps login timing uniform; it
    is made on first use, so importing this module costs no hash.
    """

    def __init__(self) -> None:
        self.hasher = PasswordHasher()  # RFC 9106's low-memory profile until configured
        self._dummy: str | None = None

    def configure(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._dummy = None

    @property
    def dummy(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(uuid.uuid4().hex)
        return self._dummy


_hashing = _PasswordHashing()
# argon2 spends tens of milliseconds of CPU and tens of MiB per call, with the GIL released. On the
# event loop, every registration or login would stall the worker's other requests, health
# probes included; in these threads the loop keeps serving. The pool's size bounds the CPU
# and memory a burst of logins takes: more threads than cores would finish none sooner.
_HASHING = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="argon2")
_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")


async def in_hashing_thread(function: Callable[[*_Args], _T], *args: *_Args) -> _T:
    """Run ``function(*args)`` (:func:`hash_password`, :func:`verify_password`) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_HASHING, function, *args)


def configure_password_hashing(time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Hash new passwords with these argon2id costs (``password_hashing`` in the settings).

    Stored hashes carry the costs they were made with, so they verify after any change.
    """
    _hashing.configure(time_cost, memory_kib, parallelism)


def hash_password(password: str) -> str:
    """Hash ``password`` with argon2id and a random salt."""
    return _hashing.hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check ``password`` against ``password_hash``; a missing hash never matches."""
    try:
        return _hashing.hasher.verify(password_hash or _hashing.dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    """The claims the service reads from a verified access token."""

    subject: str
    role: str
    expires_at: datetime
    # A token signed with JWT_SECRET_KEY_PREVIOUS is refused once that key's grace period
    # ends, even before it expires; caches of verified tokens must not outlive that moment.
    accepted_until: datetime | None = None

    @property
    def valid_until(self) -> datetime:
        """Return when the service stops accepting this token: its expiry or its key's grace end."""
        if self.accepted_until is None:
            return self.expires_at
        return min(self.expires_at, self.accepted_until)


def create_access_token(subject: str, role: str, settings: Settings, policy: AccessPolicy) -> str:
    """Sign an access token for ``subject`` with the current JWT key."""
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "role": role,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=policy.access_token_expire_minutes),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret_key.get_secret_value(), algorithm=policy.jwt_algorithm)


def previous_jwt_key_accepted_until(settings: Settings, policy: AccessPolicy) -> datetime | None:
    """Return when tokens signed with ``JWT_SECRET_KEY_PREVIOUS`` stop being accepted; None: not at all.

    The grace period starts at ``JWT_SECRET_KEY_ROTATED_AT`` (written by ``keys rotate``) and
    lasts the access policy's ``previous_jwt_key_grace_minutes``. Without that time the end
    cannot be known, so the previous key is not accepted: a leaked old key must not sign tokens
    for as long as nobody rotates again.
    """
    rotated_at = settings.jwt_secret_key_rotated_at
    if settings.jwt_secret_key_previous is None or rotated_at is None:
        return None
    if rotated_at.tzinfo is None:
        rotated_at = rotated_at.replace(tzinfo=UTC)
    return rotated_at + timedelta(minutes=policy.previous_jwt_key_grace_minutes)


def decode_access_token(token: str, settings: Settings, policy: AccessPolicy) -> TokenClaims:
    """Verify ``token`` with the current JWT key, then the previous one while its grace period lasts.

    Only the policy's algorithm is accepted, so ``alg: none`` and algorithm-confusion tokens
    fail verification. The previous key's grace period ends at
    :func:`previous_jwt_key_accepted_until`; after it, its tokens are refused whatever they claim.

    Raises:
        AuthenticationError: the token is expired, tampered with, or signed with another key.
    """
    keys = [settings.jwt_secret_key]
    until = previous_jwt_key_accepted_until(settings, policy)
    if settings.jwt_secret_key_previous is not None and until is not None and datetime.now(UTC) < until:
        keys.append(settings.jwt_secret_key_previous)
    for index, key in enumerate(keys):
        try:
            claims = jwt.decode(
                token,
                key.get_secret_value(),
                algorithms=[policy.jwt_algorithm],
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("the access token has expired") from exc
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("the access token is not valid") from exc
        return TokenClaims(
            subject=str(claims["sub"]),
            role=str(claims.get("role", "user")),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            accepted_until=until if index > 0 else None,
        )
    raise AuthenticationError("the access token is not valid")


def _mac(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def sign(value: str, settings: Settings) -> str:
    """Return ``value`` with an HMAC-SHA256 signature made with ``SECRET_KEY``."""
    return f"{value}.{_mac(settings.secret_key.get_secret_value(), value)}"


def unsign(signed: str, settings: Settings) -> str | None:
    """Return the value of a :func:`sign` output, or None when the signature does not match.

    A value signed with ``SECRET_KEY_PREVIOUS`` (before ``keys rotate SECRET_KEY``) still
    verifies, so rotating the key does not invalidate what was handed out just before.
    """
    value, _, signature = signed.rpartition(".")
    if not value:
        return None
    keys = [settings.secret_key, settings.secret_key_previous]
    # Compare against every key, without stopping early, so timing does not tell which matched.
    matches = [hmac.compare_digest(_mac(key.get_secret_value(), value), signature) for key in keys if key is not None]
    return value if any(matches) else None
