"""Layered configuration of a project made by the template, as its service loads it.

Layers, lowest precedence first:

1. ``config/services/*.yaml`` — service defaults shared by every environment;
2. ``config/environments/<env>.yaml`` — what differs per environment;
3. ``.env`` and then process environment variables (handled by pydantic-settings in the
   service, and by :func:`effective_config` here for ``config show``).

Only the standard library and PyYAML are used, so the post-generation hook can run this with
Copier's own Python.
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


class ConfigError(Exception):
    """A configuration file is missing, unreadable or not a mapping."""


def config_dir() -> Path:
    """Return the configuration folder: ``$CONFIG_DIR`` or ``./config``."""
    return Path(os.environ.get("CONFIG_DIR", "config"))


# libyaml's parser when PyYAML was built with it (the wheels are): the same safe loading,
# several times faster than the pure-Python one. Settings read every layer at start-up.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """Parse ``text`` as YAML with the safe loader (no Python objects); raises ``yaml.YAMLError``."""
    # A safe loader either way (libyaml or Python): no tags that build Python objects.
    return yaml.load(text, Loader=_YamlLoader)  # nosec B506


class RefusedYaml(yaml.YAMLError):
    """Valid YAML that a configuration file must not use (see :func:`parse_config`)."""


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
                raise RefusedYaml(
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
                raise RefusedYaml(f"line {line}: {key} is set twice (first on line {lines[key]}); keep one")
            if isinstance(key, Hashable):
                lines[key] = line
        # The base class is not known to mypy (above), so its result is Any.
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


def parse_config(text: str) -> Any:
    """Parse configuration YAML like :func:`parse_yaml`, refusing aliases and repeated keys.

    Raises:
        RefusedYaml: the text uses an alias or sets a key twice in one mapping (the message
            names the line).
        yaml.YAMLError: the text is not valid YAML.
    """
    return yaml.load(text, Loader=_ConfigLoader)  # nosec B506


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one configuration file that must hold a mapping (see :func:`parse_config`).

    Raises:
        ConfigError: the file cannot be read, does not parse, uses what configuration must
            not, or is not a mapping.
    """
    try:
        data = parse_config(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text (byte {exc.start})") from exc
    except RefusedYaml as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: is not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(data).__name__}")
    return data


def deep_merge(
    base: dict[str, Any],
    override: Mapping[str, Any],
    origins: dict[str, str] | None = None,
    source: str = "",
    prefix: str = "",
) -> dict[str, Any]:
    """Merge ``override`` into ``base`` in place, recursing into mappings.

    When ``origins`` is given it records, per dotted key path, the ``source`` that set it.
    """
    for key, value in override.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value, origins, source, f"{path}.")
        else:
            base[key] = _copy(value)
            if origins is not None:
                _record(origins, path, value, source)
    return base


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _record(origins: dict[str, str], path: str, value: Any, source: str) -> None:
    for key in [k for k in origins if k == path or k.startswith(f"{path}.")]:
        del origins[key]
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _record(origins, f"{path}.{key}", inner, source)
    else:
        origins[path] = source


def layer_files(env: str, directory: Path | None = None) -> list[Path]:
    """Return the YAML files for ``env`` in the order they are applied.

    Raises:
        ConfigError: ``env`` is not a known environment or its file is missing.
    """
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)}")
    root = directory or config_dir()
    env_file = root / "environments" / f"{env}.yaml"
    if not env_file.is_file():
        raise ConfigError(f"{env_file}: missing (every environment needs its file)")
    return [*sorted((root / "services").glob("*.yaml")), env_file]


def load_layers(env: str, directory: Path | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge the YAML layers for ``env``.

    Returns:
        The merged mapping and, per dotted key path, the file that set the value.
    """
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for path in layer_files(env, directory):
        deep_merge(merged, read_yaml(path), origins, str(path))
    return merged, origins
