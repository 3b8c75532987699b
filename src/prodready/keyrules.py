"""The keys a project needs and the rules a key value must meet, read from the project.

The project's ``security/keys.json`` (``$KEYS_FILE``) is the one source of the key list: each
key's variable name, purpose, encoding and size, whether the service accepts a ``NAME_PREVIOUS``
during rotation, and the words that mark a placeholder. The service reads the same file to
refuse weak keys at start-up; prodready reads it to make, rotate, audit and validate keys.
The shortest accepted key comes from the encryption policy (:mod:`.policyfiles`).

``KEYS`` and ``KEY_NAMES`` are looked up on each use (module ``__getattr__``), so commands and
tests that change directory see the file of the project they are in.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Keys rotated with `keys rotate` keep their old value under this suffix for a grace period.
PREVIOUS_SUFFIX = "_PREVIOUS"
# When `keys rotate` moved a key whose previous value serves a grace period (ISO 8601, UTC);
# the service ends the grace period from it.
ROTATED_AT_SUFFIX = "_ROTATED_AT"
# How long NAME_PREVIOUS serves (`previous_until` in keys.json): until the next rotation; for a
# grace period after NAME_ROTATED_AT; or until re-encryption has moved every value off it.
PREVIOUS_UNTIL = ("next_rotation", "grace_period", "reencryption")
# The absolute floor when a project has no encryption policy: 32 characters.
MIN_KEY_LENGTH = 32
# Bits of randomness a key needs where no key list sets `min_bits` (`check` on any repository).
MIN_BITS_WITHOUT_KEY_LIST = 256


class KeyRulesError(ValueError):
    """``security/keys.json`` is missing, unreadable or malformed."""


@dataclass(frozen=True)
class KeySpec:
    """A key the service needs: its variable name, purpose and how a fresh value is made."""

    name: str
    purpose: str
    # "urlsafe": secrets.token_urlsafe(size); "hex": secrets.token_hex(size), a raw cipher key
    # that must be exactly that many bytes.
    encoding: str
    size: int
    # The service also accepts NAME_PREVIOUS, so `keys rotate` keeps old tokens and data valid.
    keeps_previous: bool = False
    # A variable holding a full URL with its own credentials (DATABASE_URL) makes this key unused.
    replaced_by: str | None = None
    # How long NAME_PREVIOUS serves: one of PREVIOUS_UNTIL.
    previous_until: str = "next_rotation"
    # Issued by another system's operator (a model registry's password): never generated or
    # rotated here, only checked for presence and placeholders; its owner sets its strength.
    external: bool = False
    # The key is needed only while this variable is set: a password goes with its user name
    # (a registry used without authentication needs neither).
    required_with: str | None = None

    @property
    def bits(self) -> int:
        """Bits of randomness in one generated value, reported by ``keys audit``."""
        return 8 * self.size

    @property
    def hex_bytes(self) -> int | None:
        """Bytes a hex-encoded key must hold, or None for other encodings."""
        return self.size if self.encoding == "hex" else None

    def generate(self) -> str:
        """Return a fresh random value (not yet checked against the rules)."""
        return secrets.token_hex(self.size) if self.encoding == "hex" else secrets.token_urlsafe(self.size)


@dataclass(frozen=True)
class Rules:
    """The content of ``security/keys.json``."""

    keys: tuple[KeySpec, ...]
    min_bits: int
    placeholder_words: frozenset[str]
    placeholder_pairs: frozenset[tuple[str, str]]


def keys_file() -> Path:
    """Return the key list: ``$KEYS_FILE`` or ``./security/keys.json``."""
    return Path(os.environ.get("KEYS_FILE", "security/keys.json"))


def _field(entry: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise KeyRulesError(f"{where}: {key} must be a {kind.__name__}")
    return value


def parse_rules(data: Any, where: str = "keys.json") -> Rules:
    """Build :class:`Rules` from the parsed JSON of a key list.

    Raises:
        KeyRulesError: a required field is missing or has the wrong type.
    """
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise KeyRulesError(f"{where}: must be an object with a non-empty list `keys`")
    specs = []
    for index, entry in enumerate(data["keys"]):
        at = f"{where}: keys[{index}]"
        if not isinstance(entry, dict):
            raise KeyRulesError(f"{at} must be an object")
        encoding = _field(entry, "encoding", str, at)
        if encoding not in ("urlsafe", "hex"):
            raise KeyRulesError(f"{at}: encoding must be urlsafe or hex, not {encoding!r}")
        until = entry.get("previous_until", "next_rotation")
        if until not in PREVIOUS_UNTIL:
            raise KeyRulesError(f"{at}: previous_until must be one of {', '.join(PREVIOUS_UNTIL)}, not {until!r}")
        specs.append(
            KeySpec(
                name=_field(entry, "name", str, at),
                purpose=_field(entry, "purpose", str, at),
                encoding=encoding,
                size=_field(entry, "bytes", int, at),
                keeps_previous=bool(entry.get("keeps_previous", False)),
                replaced_by=entry.get("replaced_by"),
                previous_until=until,
                external=bool(entry.get("external", False)),
                required_with=entry.get("required_with"),
            )
        )
    words = data.get("placeholder_words", [])
    pairs = data.get("placeholder_pairs", [])
    return Rules(
        keys=tuple(specs),
        min_bits=_field(data, "min_bits", int, where),
        placeholder_words=frozenset(str(word).lower() for word in words),
        placeholder_pairs=frozenset((str(a).lower(), str(b).lower()) for a, b in pairs),
    )


_cache: dict[tuple[str, int], Rules] = {}


def load(path: Path | None = None) -> Rules:
    """Read the key list (cached per file and modification time).

    Raises:
        KeyRulesError: the file is missing, unreadable, not JSON or malformed.
    """
    path = path or keys_file()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise KeyRulesError(
            f"{path}: missing — prodready's key commands read the project's key list from it "
            "(name, purpose, encoding and size of each key)"
        ) from None
    key = (str(path.resolve()), stamp)
    if key not in _cache:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise KeyRulesError(f"{path}: cannot be read as JSON ({exc})") from exc
        _cache[key] = parse_rules(data, str(path))
    return _cache[key]


def __getattr__(name: str) -> Any:
    # KEYS and KEY_NAMES belong to the project in the working directory, read on each use.
    if name == "KEYS":
        return load().keys
    if name == "KEY_NAMES":
        return tuple(spec.name for spec in load().keys)
    raise AttributeError(name)


# Markers of a value somebody meant to replace: ${VAR} and <fill-me>.
_TEMPLATE_MARK = re.compile(r"\$\{[^}]*\}|<[^<>]*>")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+")
# A whole value that is a common default ("secret", "password123", "dev-key").
_DEFAULT_VALUE = re.compile(
    r"(secret|password|passwd|default|test|dev|insecure|key|admin|changeit)[\w.-]{0,8}", re.IGNORECASE
)
# Words that always mark a placeholder, whatever the project lists (the env templates use them).
_UNFILLED_WORDS = frozenset({"changeme", "replaceme"})
_UNFILLED_PAIRS = frozenset({("change", "me"), ("replace", "me"), ("fill", "me")})


def spec_for(name: str) -> KeySpec | None:
    """Return the spec of ``name``, or of the key ``name`` keeps the previous value of."""
    base = name[: -len(PREVIOUS_SUFFIX)] if name.endswith(PREVIOUS_SUFFIX) else name
    rules = _rules_or_none()
    # Without a key list (`check` on any repository) no key has a format of its own.
    for spec in rules.keys if rules is not None else ():
        if spec.name == base:
            return spec
    return None


def is_unfilled(value: str) -> bool:
    """Return True when ``value`` still holds a template marker (``${VAR}``, ``<…>``, CHANGE_ME).

    Used for every variable of an env file, keys or not: a deployment value such as a host
    name left as ``${DB_HOST}`` is as unfinished as a key left as ``${SECRET_KEY}``.
    """
    if _TEMPLATE_MARK.search(value):
        return True
    words = [w.lower() for w in _WORD_SPLIT.split(value) if w]
    if any(w in _UNFILLED_WORDS for w in words):
        return True
    return any(pair in _UNFILLED_PAIRS for pair in _pairs(words))


def _pairs(words: list[str]) -> list[tuple[str, str]]:
    return [(words[i], words[i + 1]) for i in range(len(words) - 1)]


def is_placeholder(value: str) -> bool:
    """Return True when ``value`` looks like a placeholder or a default instead of a real key.

    Markers are matched as whole words (split at non-alphanumerics), so a random key that
    happens to contain "todo" or "xxx" inside a longer run of characters is not flagged.
    """
    if is_unfilled(value) or _DEFAULT_VALUE.fullmatch(value):
        return True
    rules = _rules_or_none()
    words = [w.lower() for w in _WORD_SPLIT.split(value) if w]
    if rules is not None and any(pair in rules.placeholder_pairs for pair in _pairs(words)):
        return True
    listed = rules.placeholder_words if rules is not None else frozenset()
    return any(w in listed or re.fullmatch(r"x{3,}|0{8,}|1234\d*", w) for w in words)


def _rules_or_none() -> Rules | None:
    # Placeholder checks also run on repositories without a key list (any .env of any project).
    try:
        return load()
    except KeyRulesError:
        return None


def estimated_bits(value: str) -> int:
    """Estimate the randomness of ``value`` from its length and alphabet.

    The estimate is an upper bound (it assumes uniformly random characters), which is right
    for values made by :mod:`secrets` and flags short or repetitive human-made ones.
    """
    if not value:
        return 0
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        alphabet = 16
    elif re.fullmatch(r"[A-Za-z0-9_+/=-]+", value):
        alphabet = 64
    else:
        alphabet = 94
    # A random string of n characters from an alphabet of a shows about a*(1-(1-1/a)^n)
    # distinct characters. Far fewer ("aaaa…", "abcabc…") means a human pattern: count only
    # the characters actually used. The margin (half) keeps fresh random keys from tripping it.
    expected = alphabet * (1 - (1 - 1 / alphabet) ** len(value))
    distinct = len(set(value))
    if distinct < expected / 2:
        alphabet = max(distinct, 2)
    return int(len(value) * math.log2(alphabet))


def key_problems(name: str, value: str | None, min_length: int = MIN_KEY_LENGTH) -> list[str]:
    """List what is wrong with one key value; an empty list means the value is acceptable.

    ``name`` may be a key of :data:`KEYS` or its ``_PREVIOUS`` twin; format rules of the key
    (a cipher key must be hex of the right size) apply to both. Each message names the
    variable, never the value.
    """
    problems = startup_problems(name, value)
    spec = spec_for(name)
    if value is None or value == "" or (spec is not None and spec.external):
        # An external key's strength is its issuer's: only presence and placeholders count.
        return problems
    if len(value) < min_length:
        problems.append(f"{name} is {len(value)} characters long; the minimum is {min_length}")
    elif estimated_bits(value) < (min_bits := _min_bits()):
        problems.append(f"{name} has about {estimated_bits(value)} bits of randomness; the minimum is {min_bits}")
    return problems


def startup_problems(name: str, value: str | None) -> list[str]:
    """What makes a key unusable in any environment: missing, a placeholder or the wrong format.

    A service refuses these even in development (a cipher key that is not hex cannot build
    its cipher), where a key that is merely short only earns a warning. Messages name the
    variable, never the value.
    """
    if value is None or value == "":
        return [f"{name} is missing"]
    problems = []
    if is_placeholder(value):
        problems.append(f"{name} is a placeholder, not a real key")
    spec = spec_for(name)
    if spec is not None and spec.external:
        return problems
    if spec is not None and spec.hex_bytes is not None and not _is_hex_of(value, spec.hex_bytes):
        problems.append(f"{name} must be {2 * spec.hex_bytes} hex characters ({spec.hex_bytes} bytes)")
    return problems


def _min_bits() -> int:
    rules = _rules_or_none()
    return rules.min_bits if rules is not None else MIN_BITS_WITHOUT_KEY_LIST


def _is_hex_of(value: str, nbytes: int) -> bool:
    return len(value) == 2 * nbytes and re.fullmatch(r"[0-9a-fA-F]+", value) is not None


def check_keys(values: Mapping[str, str | None], min_length: int = MIN_KEY_LENGTH) -> dict[str, list[str]]:
    """Check every key of :data:`KEYS` and any ``_PREVIOUS`` value that is set.

    This is the check both the service's settings and ``security validate`` run.

    Returns:
        Problems per variable name, only for variables that have some.
    """
    found: dict[str, list[str]] = {}
    for spec in load().keys:
        if not_needed(spec, values):
            continue
        problems = key_problems(spec.name, values.get(spec.name), min_length)
        if problems:
            found[spec.name] = problems
        previous = spec.name + PREVIOUS_SUFFIX
        if values.get(previous):
            problems = key_problems(previous, values[previous], min_length)
            if problems:
                found[previous] = problems
    for name, first in shared_values(values).items():
        found.setdefault(name, []).append(f"{name} has the same value as {first}; every key needs its own")
    return found


def not_needed(spec: KeySpec, values: Mapping[str, str | None]) -> bool:
    """Return True when ``spec`` is unset and needs no value: the variable it goes with is unset too."""
    return spec.required_with is not None and not values.get(spec.required_with) and not values.get(spec.name)


def shared_values(values: Mapping[str, str | None]) -> dict[str, str]:
    """Map each key variable whose value an earlier key of ``values`` already holds to that key.

    A key and its own ``_PREVIOUS`` twin may match (a rotation that changed nothing); empty
    values and placeholders are left to :func:`key_problems`.
    """
    first: dict[str, str] = {}
    shared: dict[str, str] = {}
    for name, value in values.items():
        if not value or spec_for(name) is None or is_placeholder(value):
            continue
        earlier = first.setdefault(value, name)
        if earlier.removesuffix(PREVIOUS_SUFFIX) != name.removesuffix(PREVIOUS_SUFFIX):
            shared[name] = earlier
    return shared


def generate(name: str) -> str:
    """Return a fresh value for the key ``name``.

    Raises:
        KeyError: ``name`` is not one of :data:`KEYS`, or is an external key (never generated).
    """
    keys = load().keys
    for spec in keys:
        if spec.name == name and spec.external:
            raise KeyError(f"{name} is issued by another system's operator: it is never generated here")
        if spec.name == name:
            return fresh_value(spec)
    raise KeyError(f"unknown key {name!r}: use one of {', '.join(spec.name for spec in keys)}")


def fingerprint(value: str) -> str:
    """Return a short, non-reversible fingerprint of a key for logs and audits."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def generated_keys() -> tuple[KeySpec, ...]:
    """Return the keys prodready makes (every key but the external ones)."""
    return tuple(spec for spec in load().keys if not spec.external)


def fresh_value(spec: KeySpec) -> str:
    """Return a value of ``spec`` that passes :func:`key_problems`.

    A random token can, rarely, contain a run the placeholder rule matches (``xXx``); such a
    draw is discarded, so a generated key is never one the service would refuse.
    """
    while True:
        value = spec.generate()
        if not key_problems(spec.name, value):
            return value
