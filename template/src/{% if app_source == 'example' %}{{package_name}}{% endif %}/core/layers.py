"""The YAML layers of the configuration, lowest precedence first.

1. ``config/services/*.yaml`` — defaults of each backing service, shared by every environment;
2. ``config/environments/<env>.yaml`` — what differs per environment.

``.env`` and environment variables override both (pydantic-settings, in :mod:`.settings`).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml

ENVIRONMENTS = ("development", "testing", "staging", "production")
DEFAULT_ENVIRONMENT = "development"
# The double underscore separates nesting levels in variable names: APP__DEBUG -> app.debug.
NESTED_DELIMITER = "__"
# libyaml's parser when PyYAML was built with it (the wheels are): the same safe loading,
# several times faster than the pure-Python one, and settings read every layer at start-up.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or not a mapping."""


# mypy cannot follow a base class picked at run time (libyaml's loader when PyYAML has it).
class _ConfigLoader(_YamlLoader):  # type: ignore[misc,valid-type]
    def construct_document(self, node: yaml.Node) -> Any:
        # An alias makes one node part of the document twice. Configuration has no use for
        # that, and nine nested aliases in 2.5 KB expand to a billion strings ("billion
        # laughs"), so the first node reached twice stops the file before anything expands.
        seen: set[int] = set()
        pending = [node]
        while pending:
            current = pending.pop()
            if id(current) in seen:
                raise ConfigError(
                    f"line {current.start_mark.line + 1}: anchors and aliases (&name, *name) are not "
                    "allowed in configuration; write the values out"
                )
            seen.add(id(current))
            if isinstance(current, yaml.SequenceNode):
                pending.extend(current.value)
            elif isinstance(current, yaml.MappingNode):
                pending.extend(part for pair in current.value for part in pair)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # YAML keeps the last of two equal keys, silently: `rate_limit:` written twice drops
        # every value of the first.
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in lines:
                raise ConfigError(f"line {line}: {key} is set twice (first on line {lines[key]}); keep one")
            if isinstance(key, Hashable):
                lines[key] = line
        # The base class is not known to mypy (above), so its result is Any.
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


def config_dir() -> Path:
    """Return the configuration folder: ``$CONFIG_DIR`` or ``./config``."""
    return Path(os.environ.get("CONFIG_DIR", "config"))


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML file that must hold a mapping.

    Raises:
        ConfigError: the file cannot be read, does not parse, or is not a mapping.
    """
    try:
        # A safe loader either way (libyaml or Python): no tags that build Python objects.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ConfigLoader)  # noqa: S506  # nosec B506
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from exc
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: is not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def load_layers(env: str, directory: Path | None = None) -> dict[str, Any]:
    """Merge the YAML layers of ``env``.

    Raises:
        ConfigError: ``env`` is unknown, its file is missing, or a file does not parse.
    """
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)}")
    root = directory or config_dir()
    env_file = root / "environments" / f"{env}.yaml"
    if not env_file.is_file():
        raise ConfigError(f"{env_file}: missing (every environment needs its file)")
    merged: dict[str, Any] = {}
    for path in [*sorted((root / "services").glob("*.yaml")), env_file]:
        _merge(merged, read_yaml(path))
    return merged
