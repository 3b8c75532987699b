"""``config`` group: validate, sync and show the layered YAML configuration.

* ``validate`` — every file parses and matches ``config/schema.json``; each environment's
  merged configuration meets its rules (staging and production: debug off, HTTPS, named
  hosts, no SQLite and no in-process cache where the project has the servers).
* ``sync`` — every environment file defines the same keys; ``--check`` reports drift, without
  it missing keys are added from the base environment, marked for review, without rewriting
  anything else in the file (comments survive).
* ``show`` — the effective settings of one environment after every layer, secrets masked,
  with the layer each value came from.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from . import envfile, jsonschema, keyrules, layers, policyfiles
from .report import Report

# Environments that face real users: the strict rules below apply to them.
DEPLOYED = ("staging", "production")
# Where `config sync` takes a missing key's value from. Development holds every key the
# service reads; anything copied is marked for review, and `config validate` still rejects
# unsafe values (debug: true) in deployed environments.
BASE_ENVIRONMENT = "development"
REVIEW_MARK = "# added by `config sync` from " + BASE_ENVIRONMENT + ": review"


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``config`` commands."""
    parser = groups.add_parser("config", help="validate, sync and show the configuration")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="check every file and environment")
    validate.add_argument("--env", choices=layers.ENVIRONMENTS, help="one environment (default: all)")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(handler=validate_command)
    sync = commands.add_parser("sync", help="make every environment define the same keys")
    sync.add_argument("--check", action="store_true", help="only report drift; exit 1 when there is any")
    sync.add_argument("--json", action="store_true", help="print JSON")
    sync.set_defaults(handler=sync_command)
    show = commands.add_parser("show", help="print the effective settings of one environment")
    show.add_argument("--env", choices=layers.ENVIRONMENTS, help="environment (default: APP_ENV or development)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_command)


def _root(directory: Path | None) -> Path:
    return directory or layers.config_dir()


def load_schema(directory: Path | None = None) -> dict[str, Any]:
    """Read ``config/schema.json``."""
    path = _root(directory) / "schema.json"
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise layers.ConfigError(f"{path}: cannot be read as JSON ({exc})") from exc
    return schema


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# OWASP's Password Storage Cheat Sheet: argon2id with at least 19 MiB and 2 passes.
# OWASP's minimum for argon2id, used when the password policy names none.
DEFAULT_HASHING_MINIMUM = {"memory_kib": 19_456, "time_cost": 2}


def hashing_minimum() -> dict[str, int]:
    """Return the weakest argon2id costs deployed environments accept (the password policy's ``hashing_minimum``)."""
    try:
        floor = policyfiles.load("password").get("hashing_minimum")
    except policyfiles.PolicyError:
        floor = None
    return dict(floor) if isinstance(floor, dict) else dict(DEFAULT_HASHING_MINIMUM)


def hashing_problems(time_cost: int, memory_kib: int) -> list[tuple[str, str]]:
    """Return ``(key path, problem)`` for argon2id costs below the minimum for deployment."""
    floor = hashing_minimum()
    problems = []
    for key, value, minimum in (
        ("password_hashing.memory_kib", memory_kib, floor["memory_kib"]),
        ("password_hashing.time_cost", time_cost, floor["time_cost"]),
    ):
        if value < minimum:
            problems.append((key, f"{key} {value} is below {minimum} (the password policy's hashing_minimum)"))
    return problems


def has_service(name: str, directory: Path | None = None) -> bool:
    """Whether the project configures the backing service ``name`` (``config/services/NAME.yaml``).

    A project made with PostgreSQL or Redis has their service file; deployed environments of
    such a project must use the server, not SQLite or the in-process cache.
    """
    return (_root(directory) / "services" / f"{name}.yaml").is_file()


def environment_rules(env: str, merged: dict[str, Any]) -> list[tuple[str, str]]:
    """Return ``(key path, broken rule)`` pairs for the effective config of ``env``."""
    broken: list[tuple[str, str]] = []
    if env not in DEPLOYED:
        return broken
    if _get(merged, "app.debug") is not False:
        broken.append(("app.debug", f"debug must be false in {env}"))
    if not str(_get(merged, "app.public_url") or "").startswith("https://"):
        broken.append(("app.public_url", f"the public URL must use https:// in {env}"))
    if str(_get(merged, "app.log_level") or "").upper() == "DEBUG":
        broken.append(("app.log_level", f"the log level must not be DEBUG in {env}"))
    if "*" in (_get(merged, "app.cors_origins") or []):
        broken.append(("app.cors_origins", f"CORS origins must not be '*' in {env}"))
    hosts = _get(merged, "app.allowed_hosts") or []
    if not hosts or "*" in hosts:
        broken.append(("app.allowed_hosts", f"allowed hosts must be listed (not '*') in {env}"))
    if has_service("database") and str(_get(merged, "database.url") or "").startswith("sqlite"):
        broken.append(("database.url", f"SQLite is for development only; {env} uses PostgreSQL"))
    if has_service("redis") and _get(merged, "cache.backend") != "redis":
        broken.append(("cache.backend", f"the in-process cache is per process; {env} uses Redis"))
    if has_service("mlflow"):
        # The registry's address and credentials come from MLFLOW_* variables; the model is config.
        for key, what in (("mlflow.model_name", "a name"), ("mlflow.alias", "an alias")):
            if not str(_get(merged, key) or "").strip():
                broken.append((key, f"the served model needs {what} ({key}) in {env}"))
    time_cost = _get(merged, "password_hashing.time_cost")
    memory_kib = _get(merged, "password_hashing.memory_kib")
    # Unset keys take the settings' defaults, which meet the minimum.
    floor = hashing_minimum()
    for key, problem in hashing_problems(
        time_cost if isinstance(time_cost, int) else floor["time_cost"],
        memory_kib if isinstance(memory_kib, int) else floor["memory_kib"],
    ):
        broken.append((key, f"{problem} in {env}"))
    return broken


# The password of a URL's userinfo: scheme://user:PASSWORD@host.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)(?P<password>[^/\s@]+)@")
# Where the service reads a whole URL with its credentials from, per configuration key.
URL_VARIABLES = {"database.url": "DATABASE_URL", "cache.url": "REDIS_URL", "mlflow.tracking_uri": "MLFLOW_TRACKING_URI"}


def has_url_password(text: str) -> bool:
    """Whether ``text`` holds a URL with a password that is not a ``${VAR}``-style placeholder."""
    return any(not keyrules.is_unfilled(m["password"]) for m in _URL_PASSWORD.finditer(text))


def mask_urls(value: Any) -> Any:
    """Return ``value`` (a string, or a list of them) with every URL's password replaced by ``***``."""
    if isinstance(value, list):
        return [mask_urls(item) for item in value]
    return _URL_PASSWORD.sub(r"\g<head>***@", value) if isinstance(value, str) else value


def url_password_keys(data: dict[str, Any]) -> list[str]:
    """Return the key paths of ``data`` whose value holds a URL with a password."""
    return [
        key
        for key, value in key_paths(data).items()
        if any(
            isinstance(item, str) and has_url_password(item) for item in (value if isinstance(value, list) else [value])
        )
    ]


def credential_fix(key: str) -> str:
    """Say where the URL of ``key`` belongs instead of a committed file."""
    variable = URL_VARIABLES.get(key, key.upper().replace(".", layers.NESTED_DELIMITER))
    return (
        f"put the URL in .env or the deployment's secrets ({variable}=…), set {key} to null here, change the password"
    )


def _all_files(root: Path) -> list[Path]:
    return [*sorted((root / "services").glob("*.yaml")), *sorted((root / "environments").glob("*.yaml"))]


def validate(envs: tuple[str, ...], directory: Path | None = None) -> Report:
    """Validate every file against the schema and each environment against its rules."""
    report = Report("config validate")
    root = _root(directory)
    try:
        schema = load_schema(directory)
    except layers.ConfigError as exc:
        report.add("schema", "fail", str(exc))
        return report
    for path in _all_files(root):
        try:
            data = layers.read_yaml(path)
        except layers.ConfigError as exc:
            report.add("parse", "fail", str(exc), where=str(path))
            continue
        errors = jsonschema.validate(data, schema)
        for key, rule in errors:
            report.add("schema", "fail", f"{key} {rule}", where=f"{path}: {key}")
        if not errors:
            report.add("schema", "pass", "parses and matches config/schema.json", where=str(path))
        for key in url_password_keys(data):
            # Configuration files are committed; a password in one is in every clone and backup.
            message = f"{key} holds a password inside its URL, in a committed file"
            report.add("credential", "fail", message, where=f"{path}: {key}", fix=credential_fix(key))
    for env in envs:
        try:
            merged, origins = layers.load_layers(env, directory)
        except layers.ConfigError as exc:
            report.add("parse", "fail", str(exc), where=env)
            continue
        broken = environment_rules(env, merged)
        for key, rule in broken:
            source = origins.get(key) or str(layers.layer_files(env, directory)[-1])
            report.add("rule", "fail", rule, where=f"{source}: {key}", fix=f"set {key} in {source}")
        if not broken:
            report.add(env, "pass", "meets its environment's rules")
    return report


def validate_command(args: argparse.Namespace) -> int:
    """Run ``config validate``."""
    envs = (args.env,) if args.env else layers.ENVIRONMENTS
    return validate(envs).emit(args.json)


def key_paths(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a mapping into ``{"section.key": value}`` (lists and scalars are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(key_paths(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def drift(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Return, per environment file, the key paths other environments define and it lacks.

    Values come from the base environment when it has the key, else from the first
    environment that does.
    """
    root = _root(directory)
    flat = {env: key_paths(layers.read_yaml(root / "environments" / f"{env}.yaml")) for env in layers.ENVIRONMENTS}
    order = [BASE_ENVIRONMENT, *[e for e in layers.ENVIRONMENTS if e != BASE_ENVIRONMENT]]
    every = sorted({key for keys in flat.values() for key in keys})
    missing: dict[str, dict[str, Any]] = {}
    for env in layers.ENVIRONMENTS:
        for key in every:
            if key not in flat[env]:
                source = next(e for e in order if key in flat[e])
                missing.setdefault(env, {})[key] = flat[source][key]
    return missing


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


class SyncRefused(layers.ConfigError):
    """``config sync`` cannot add a key without rewriting lines of the file."""

    def __init__(self, where: str, message: str, fix: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.message, self.fix = where, message, fix


def add_keys(path: Path, values: dict[str, Any]) -> None:
    """Insert ``values`` (``section.key`` paths) into the YAML file at ``path`` as text.

    Existing lines are never rewritten: a key goes at the end of its section's block, a new
    section at the end of the file, each marked for review. Keys are at most two levels deep
    (the schema's shape).

    Raises:
        SyncRefused: a section is written in flow style (``rate_limit: {…}``); the file
            is left unchanged.
    """
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for dotted, value in values.items():
        section, _, key = dotted.partition(".")
        if not key:
            lines.append(f"{section}: {_scalar(value)}  {REVIEW_MARK}\n")
            continue
        start = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(section)}:\s*(#.*)?$", line)), None)
        entry = f"  {key}: {_scalar(value)}  {REVIEW_MARK}\n"
        inline = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(section)}\s*:", line)), None)
        if start is None and inline is not None:
            # Appending a block would define the section twice, and the last one would win.
            raise SyncRefused(
                f"{path}: line {inline + 1}",
                f"{section} is written in flow style ({{…}}); config sync adds keys to block mappings only",
                f"write {section} as a block, or add {key} there by hand",
            )
        if start is None:
            lines.extend([f"{section}:\n", entry])
            continue
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
            end += 1
        # Insert after the section's last non-blank line, keeping blank separators below it.
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        lines.insert(end, entry)
    path.write_text("".join(lines), encoding="utf-8")


def sync(check: bool, directory: Path | None = None) -> Report:
    """Report (``check``) or fix keys that some environments lack."""
    report = Report("config sync --check" if check else "config sync")
    root = _root(directory)
    try:
        missing = drift(directory)
    except layers.ConfigError as exc:
        report.add("parse", "fail", str(exc))
        return report
    for env in layers.ENVIRONMENTS:
        path = root / "environments" / f"{env}.yaml"
        keys = missing.get(env, {})
        if not keys:
            report.add(env, "pass", "defines every key", where=str(path))
        elif check:
            for key in keys:
                report.add(
                    "drift",
                    "fail",
                    f"{key} is defined elsewhere but not here",
                    where=f"{path}: {key}",
                    fix="make config-sync, then review the added lines",
                )
        else:
            try:
                add_keys(path, keys)
            except SyncRefused as exc:
                report.add("sync", "fail", exc.message, where=exc.where, fix=exc.fix)
                continue
            report.add(env, "warn", f"added {', '.join(keys)}; review them", where=str(path))
    return report


def sync_command(args: argparse.Namespace) -> int:
    """Run ``config sync``."""
    return sync(args.check).emit(args.json)


def _schema_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for section, spec in schema.get("properties", {}).items():
        defaults[section] = {key: prop.get("default") for key, prop in spec.get("properties", {}).items()}
    return defaults


def _coerce(raw: str, spec: dict[str, Any]) -> Any:
    # Mirrors pydantic-settings: non-string values in variables are parsed as JSON.
    types = spec.get("type", [])
    types = types if isinstance(types, list) else [types]
    if "enum" in spec or types in (["string"], ["string", "null"]):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def effective_config(env: str, directory: Path | None = None, dotenv: Path = Path(".env")) -> dict[str, Any]:
    """Compute the settings the service would load for ``env``, with each value's source.

    Returns:
        ``{"env": …, "values": {dotted key: value}, "sources": {dotted key: source}}`` where
        keys, and passwords (inside URLs too), are masked.
    """
    schema = load_schema(directory)
    values = key_paths(_schema_defaults(schema))
    sources = dict.fromkeys(values, "default")
    merged, origins = layers.load_layers(env, directory)
    for key, value in key_paths(merged).items():
        values[key] = value
        sources[key] = origins.get(key, "yaml")
    specs = {
        f"{section}.{key}": prop
        for section, spec in schema.get("properties", {}).items()
        for key, prop in spec.get("properties", {}).items()
    }
    # Lower precedence first: .env, then the process environment.
    dotenv_values = envfile.read(dotenv, interpolate=True)
    for source, variables in ((str(dotenv), dotenv_values), ("environment", dict(os.environ))):
        for name, raw in variables.items():
            key = name.lower().replace(layers.NESTED_DELIMITER, ".", 1)
            if key in specs:
                values[key] = _coerce(raw, specs[key])
                sources[key] = f"{source}: {name}"
            elif name in keyrules.KEY_NAMES or name.endswith(keyrules.PREVIOUS_SUFFIX) or name.endswith("_URL"):
                values[name] = "***"
                sources[name] = f"{source}: {name}"
    masked = {key: mask_urls(value) for key, value in sorted(values.items())}
    return {"env": env, "values": masked, "sources": dict(sorted(sources.items()))}


def show_command(args: argparse.Namespace) -> int:
    """Run ``config show``."""
    env = args.env or os.environ.get("APP_ENV") or envfile.read(Path(".env")).get("APP_ENV") or "development"
    try:
        result = effective_config(env)
    except layers.ConfigError as exc:
        print(f"config show: {exc}")
        return 1
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(f"config show --env {env}")
    width = max(len(key) for key in result["values"])
    for key, value in result["values"].items():
        print(f"  {key:<{width}}  {json.dumps(value, ensure_ascii=False):<40}  ({result['sources'][key]})")
    return 0
