"""The keys the service needs (``security/keys.json``) and the rules a key value must meet.

The key list is data, read here and by prodready (which makes, rotates and audits the keys):
each key's variable name, encoding and size, whether ``NAME_PREVIOUS`` is accepted during a
rotation and until when (``previous_until``), and the words that mark a placeholder. Its JSON
Schema (``security/schemas/keys.schema.json``) is generated from :class:`KeyList`; a test fails
when the committed file drifts. The shortest accepted key comes from the encryption policy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The old value of a rotated key, still accepted until the next rotation.
PREVIOUS_SUFFIX = "_PREVIOUS"
# When `keys rotate` moved a key with `previous_until: grace_period` (ISO 8601, UTC).
ROTATED_AT_SUFFIX = "_ROTATED_AT"
# The key audit log prodready appends to; the re-encryption command records its runs there too.
KEY_AUDIT_LOG = Path("var/audit/keys.jsonl")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# ${VAR} and <fill-me>: a value copied from a template and never filled.
_TEMPLATE_MARK = re.compile(r"\$\{[^}]*\}|<[^<>]*>")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+")
# A whole value that is a common default ("secret", "password123", "dev-key").
_DEFAULT_VALUE = re.compile(
    r"(secret|password|passwd|default|test|dev|insecure|key|admin|changeit)[\w.-]{0,8}", re.IGNORECASE
)


class KeySpec(BaseModel):
    """One key: its variable, purpose and the shape of a valid value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="Environment variable that holds the key.")
    purpose: str = Field(min_length=1, description="What the key protects.")
    encoding: Literal["urlsafe", "hex"] = Field(
        description="urlsafe: URL-safe base64 text; hex: a raw cipher key written as exactly twice `bytes` hex digits."
    )
    bytes: int = Field(ge=32, le=256, description="Random bytes in a generated value.")
    keeps_previous: bool = Field(default=False, description="NAME_PREVIOUS is accepted while a rotation settles.")
    previous_until: Literal["next_rotation", "grace_period", "reencryption"] = Field(
        default="next_rotation",
        description=(
            "How long NAME_PREVIOUS serves. next_rotation: until the next `keys rotate` replaces it. "
            "grace_period: `keys rotate` also writes NAME_ROTATED_AT and the service refuses what the previous "
            "key signed once the access policy's grace period after it has passed. reencryption: the previous "
            "key may be dropped only after re-encryption has moved every stored value to the current key."
        ),
    )
    replaced_by: str | None = Field(
        default=None, description="A URL variable that carries its own credentials and makes this key unused."
    )
    external: bool = Field(
        default=False,
        description="Issued by another system's operator (a registry password): never generated here; "
        "checked for presence and placeholders, not for size or randomness.",
    )
    required_with: str | None = Field(
        default=None,
        description="The key is needed only while this variable is set (a password goes with its user name).",
    )


class KeyList(BaseModel):
    """The content of ``security/keys.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_pointer: str | None = Field(default=None, alias="$schema", description="Path of this file's JSON Schema.")
    min_bits: int = Field(ge=128, description="Least estimated randomness of any key, in bits.")
    placeholder_words: list[str] = Field(description="Words that mark a value as a placeholder.")
    placeholder_pairs: list[tuple[str, str]] = Field(description="Word pairs that mark a placeholder (change me).")
    keys: list[KeySpec] = Field(min_length=1, description="Every key the service needs.")

    def spec_for(self, name: str) -> KeySpec | None:
        """Return the spec of ``name``, or of the key ``name`` keeps the previous value of."""
        base = name.removesuffix(PREVIOUS_SUFFIX)
        return next((spec for spec in self.keys if spec.name == base), None)


def keys_file() -> Path:
    """Return the key list: ``$KEYS_FILE`` or ``./security/keys.json``."""
    return Path(os.environ.get("KEYS_FILE", "security/keys.json"))


@lru_cache
def get_key_list() -> KeyList:
    """Load the key list once per process."""
    return KeyList.model_validate(json.loads(keys_file().read_text(encoding="utf-8")))


def schema_document() -> dict[str, Any]:
    """Return the JSON Schema of ``security/keys.json``, as generated from :class:`KeyList`."""
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": "keys.schema.json", **KeyList.model_json_schema(by_alias=True)}


def write_schemas() -> None:
    """Write ``security/schemas/keys.schema.json`` from :class:`KeyList` (after changing the model)."""
    path = keys_file().parent / "schemas" / "keys.schema.json"
    path.write_text(json.dumps(schema_document(), indent=2) + "\n", encoding="utf-8")


def fingerprint(value: str) -> str:
    """Return a short, non-reversible fingerprint of a key, as prodready logs it (never the key)."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def reencryption_event(
    env: str, key: str, previous: str | None, counts: Mapping[str, int], actor: str, time: datetime
) -> dict[str, Any]:
    """Return the key audit log's record of a finished re-encryption run (fingerprints, never keys).

    ``fingerprint`` names the key every value was moved to; ``counts["remaining"]`` is how many
    values may still need another key. prodready's ``keys rotate`` reads the latest such record
    of an environment before it drops ``DB_ENCRYPTION_KEY_PREVIOUS``.
    """
    event: dict[str, Any] = {
        "time": time.isoformat(timespec="seconds"),
        "env": env,
        "key": "DB_ENCRYPTION_KEY",
        "action": "reencrypt",
        "actor": actor,
        "fingerprint": fingerprint(key),
        "counts": dict(counts),
    }
    if previous is not None:
        event["previous_fingerprint"] = fingerprint(previous)
    return event


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    return {(words[i], words[i + 1]) for i in range(len(words) - 1)}


def is_placeholder(value: str, key_list: KeyList) -> bool:
    """Return True when ``value`` looks like a placeholder or a default instead of a real key.

    Words are matched whole (split at non-alphanumerics), so a random key that happens to
    contain "todo" inside a longer run of characters is not flagged.
    """
    if _TEMPLATE_MARK.search(value) or _DEFAULT_VALUE.fullmatch(value):
        return True
    words = [w.lower() for w in _WORD_SPLIT.split(value) if w]
    if _pairs(words) & {(a.lower(), b.lower()) for a, b in key_list.placeholder_pairs}:
        return True
    listed = {word.lower() for word in key_list.placeholder_words}
    return any(w in listed or re.fullmatch(r"x{3,}|0{8,}|1234\d*", w) for w in words)


def estimated_bits(value: str) -> int:
    """Estimate the randomness of ``value`` from its length and the characters it uses.

    An upper bound (it assumes uniformly random characters), right for values made by
    :mod:`secrets`; a value using far fewer distinct characters than a random one would
    ("aaaa…", "abcabc…") is counted over the characters it actually uses.
    """
    if not value:
        return 0
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        alphabet = 16
    elif re.fullmatch(r"[A-Za-z0-9_+/=-]+", value):
        alphabet = 64
    else:
        alphabet = 94
    expected = alphabet * (1 - (1 - 1 / alphabet) ** len(value))
    if len(set(value)) < expected / 2:
        alphabet = max(len(set(value)), 2)
    return int(len(value) * math.log2(alphabet))


def key_problems(name: str, value: str | None, key_list: KeyList, min_length: int) -> list[str]:
    """List what is wrong with one key value; each message names the variable, never the value."""
    if not value:
        return [f"{name} is missing"]
    problems = []
    if is_placeholder(value, key_list):
        problems.append(f"{name} is a placeholder, not a real key")
    spec = key_list.spec_for(name)
    if spec is not None and spec.external:
        # Its owner (the registry's operator) sets the rules for its value.
        return problems
    if spec is not None and spec.encoding == "hex" and not re.fullmatch(rf"[0-9a-fA-F]{{{2 * spec.bytes}}}", value):
        problems.append(f"{name} must be {2 * spec.bytes} hex characters ({spec.bytes} bytes)")
    if len(value) < min_length:
        problems.append(f"{name} is {len(value)} characters long; the minimum is {min_length}")
    elif (bits := estimated_bits(value)) < key_list.min_bits:
        problems.append(f"{name} has about {bits} bits of randomness; the minimum is {key_list.min_bits}")
    return problems


def check_keys(values: Mapping[str, str | None], key_list: KeyList, min_length: int) -> dict[str, list[str]]:
    """Check every listed key, and each ``NAME_PREVIOUS`` that is set, against the rules.

    A key whose ``replaced_by`` variable is set (a full ``DATABASE_URL`` carries its own
    password) is not required, nor an unset one whose ``required_with`` variable is unset (a
    password without its user name). Two keys with one value are a problem of the later one (a
    key and its own ``NAME_PREVIOUS`` may match).

    Returns:
        Problems per variable name, only for variables that have some.
    """
    found: dict[str, list[str]] = {}
    # One value under two keys: whoever learns one (a token signer, the Redis password) has both.
    first_holder: dict[str, str] = {}
    for spec in key_list.keys:
        if spec.replaced_by and values.get(spec.replaced_by):
            continue
        if spec.required_with and not values.get(spec.required_with) and not values.get(spec.name):
            continue
        names = [spec.name] + ([spec.name + PREVIOUS_SUFFIX] if values.get(spec.name + PREVIOUS_SUFFIX) else [])
        for name in names:
            problems = key_problems(name, values.get(name), key_list, min_length)
            value = values.get(name)
            if value and (holder := first_holder.setdefault(value, name)).removesuffix(PREVIOUS_SUFFIX) != spec.name:
                problems.append(f"{name} has the same value as {holder}; every key needs its own")
            if problems:
                found[name] = problems
    return found
