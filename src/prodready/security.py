"""``security`` group: keys, env files, settings and policies are fit for an environment.

``security validate --env ENV`` is the gate before a deployment: it
checks the env file's keys with the same function the service's settings call at start-up
(:func:`.keyrules.check_keys`), every other value for leftover placeholders, the effective
configuration (HTTPS, debug, CORS, hosts), that no ``.env*`` file is tracked by git or readable
by others, key age against the encryption policy (from the audit log), and each policy against
its JSON Schema.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import auditlog, config, envfile, jsonschema, keyrules, keys, layers, policyfiles
from .report import Report

# Committed on purpose: they hold placeholders only, and are checked for exactly that.
COMMITTED_TEMPLATES = (".env.example", ".env.production.template")
# The role with every permission: never what a sign-up gets in a deployed environment.
ADMIN_ROLE = "admin"
# Config rules of a deployed environment, as reported by `config.environment_rules`.
_CONFIG_CHECKS = {
    "app.public_url": "https",
    "app.debug": "debug off",
    "app.cors_origins": "cors",
    "app.allowed_hosts": "allowed hosts",
}


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``security`` commands."""
    parser = groups.add_parser("security", help="validate keys and security settings")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="check keys, env files, config and policies for ENV")
    validate.add_argument("--env", choices=layers.ENVIRONMENTS, default=layers.DEFAULT_ENVIRONMENT)
    validate.add_argument("--file", type=Path, help="dotenv file (default: .env for development, else .env.ENV)")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(handler=validate_command)


def env_file_for(env: str) -> Path:
    """Return the dotenv file that holds ``env``'s keys by convention."""
    return keys.env_file_for(env)


def _nested_overrides(values: dict[str, str]) -> dict[str, Any]:
    # APP__PUBLIC_URL=… in an env file overrides app.public_url, as pydantic-settings does;
    # lists and booleans are JSON there too.
    nested: dict[str, Any] = {}
    for name, raw in values.items():
        if layers.NESTED_DELIMITER not in name:
            continue
        parts = name.lower().split(layers.NESTED_DELIMITER)
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def check_env_keys(report: Report, env: str, path: Path, values: dict[str, str], min_length: int) -> None:
    """Check every key (and ``_PREVIOUS`` twin) of ``values``, then every other value."""
    strict = env in config.DEPLOYED
    problems = keyrules.check_keys(values, min_length)
    for spec in keyrules.KEYS:
        found = problems.get(spec.name)
        if keyrules.not_needed(spec, values):
            report.add(spec.name, "pass", f"not needed: {spec.required_with} is not set", where=str(path))
        elif found:
            # Development keys only warn: a weak local key must not block a laptop.
            report.add(spec.name, "fail" if strict else "warn", "; ".join(found), where=str(path))
        else:
            report.add(spec.name, "pass", f"{len(values[spec.name])} characters", where=str(path))
        previous = spec.name + keyrules.PREVIOUS_SUFFIX
        if previous in problems:
            report.add(previous, "fail" if strict else "warn", "; ".join(problems[previous]), where=str(path))
    unfilled = sorted(
        name for name, value in values.items() if keyrules.spec_for(name) is None and keyrules.is_unfilled(value)
    )
    if unfilled:
        report.add(
            "placeholders",
            "fail" if strict else "warn",
            f"still a placeholder: {', '.join(unfilled)}",
            where=str(path),
            fix="fill in the deployment values",
        )
    else:
        report.add("placeholders", "pass", "no ${…}, <…> or CHANGE_ME values", where=str(path))


def check_reuse_elsewhere(report: Report, env: str, path: Path, values: dict[str, str]) -> None:
    """No key of ``values`` has the value of a key in another environment's env file.

    A development key lives on laptops and in shell histories; shared with production it
    makes every laptop a way into production.
    """
    others = {other: file for other, file in keys.env_files().items() if file.resolve() != path.resolve()}
    places = keys.key_places(others)
    shared = [
        (name, place)
        for name, value in values.items()
        if keyrules.spec_for(name) is not None
        for place in places.get(value, [])
    ]
    strict = env in config.DEPLOYED or any(place.partition(":")[0] in config.DEPLOYED for _, place in shared)
    if shared:
        report.add(
            "reuse",
            "fail" if strict else "warn",
            "; ".join(
                f"{name} has the same value as {place} ({others[place.partition(':')[0]]})" for name, place in shared
            ),
            where=str(path),
            fix=f"keys rotate NAME --env {env} for each key named, so every environment has its own",
        )
    else:
        report.add("reuse", "pass", "no key shares its value with another environment's", where=str(path))


def check_env_files(report: Report, directory: Path) -> None:
    """Every ``.env*`` file: untracked and mode 0600; the committed templates: no real key."""
    for path in sorted(directory.glob(".env*")):
        if not path.is_file():
            continue
        if path.name in COMMITTED_TEMPLATES:
            real = [
                name
                for name, value in envfile.read(path).items()
                if keyrules.spec_for(name) is not None and value and not keyrules.is_placeholder(value)
            ]
            if real:
                report.add(
                    "committed template",
                    "fail",
                    f"holds a real value for {', '.join(real)}; it is committed, so placeholders only",
                    where=str(path),
                    fix="replace the values with ${NAME} and rotate those keys",
                )
            else:
                report.add("committed template", "pass", "placeholders only", where=str(path))
            continue
        if keys.is_tracked(path):
            report.add("untracked", "fail", "tracked by git", where=str(path), fix=f"git rm --cached {path}")
        elif keys.is_ignored(path) is False:
            report.add("untracked", "warn", "not ignored by git", where=str(path), fix="add .env.* to .gitignore")
        else:
            report.add("untracked", "pass", "not tracked by git", where=str(path))
        mode = keys.file_mode(path)
        if mode & 0o077:
            report.add("file mode", "fail", f"{mode:04o}; keys need 0600", where=str(path), fix=f"chmod 600 {path}")
        else:
            report.add("file mode", "pass", f"{mode:04o}", where=str(path))


def _lookup(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def check_config(report: Report, env: str, path: Path, values: dict[str, str]) -> None:
    """HTTPS, debug, CORS, allowed hosts (and the other environment rules) of the effective config."""
    try:
        merged, origins = layers.load_layers(env)
    except layers.ConfigError as exc:
        report.add("config", "fail", str(exc))
        return
    # Before the env file's overrides: a URL with its password belongs there, not in the YAML.
    for key in config.url_password_keys(merged):
        where = f"{origins.get(key, 'config')}: {key}"
        message = f"{key} holds a password inside its URL, in a committed file"
        report.add("credential", "fail", message, where=where, fix=config.credential_fix(key))
    overrides = _nested_overrides(values)
    layers.deep_merge(merged, overrides)
    broken = dict(config.environment_rules(env, merged))
    for key, check in _CONFIG_CHECKS.items():
        source = str(path) if key.split(".")[-1] in overrides.get(key.split(".")[0], {}) else "config"
        if key in broken:
            report.add(check, "fail", broken.pop(key), where=f"{source}: {key}")
        elif env in config.DEPLOYED:
            report.add(check, "pass", f"{key} = {json.dumps(config.mask_urls(_lookup(merged, key)))}")
        else:
            report.add(check, "pass", f"not required in {env}")
    for key, rule in broken.items():
        report.add("config", "fail", rule, where=key)
    hosts = [str(h) for h in (_lookup(merged, "app.allowed_hosts") or [])]
    if env in config.DEPLOYED and any(h.endswith("example.com") for h in hosts):
        report.add("allowed hosts", "warn", "still the template's example.com host names", where="app.allowed_hosts")


def check_key_age(report: Report, env: str, max_age: int | None) -> None:
    """Each key's last generate/rotate event for ``env`` is within the encryption policy."""
    if max_age is None:
        report.add("key age", "warn", "no encryption policy, so no rotation age to check")
        return
    late = auditlog.overdue(env, max_age)
    for name, age in late.items():
        report.add(
            "key age",
            "fail" if env in config.DEPLOYED else "warn",
            f"{name} is {age:.0f} days old; the encryption policy allows {max_age}",
            fix=f"keys rotate {name} --env {env}",
        )
    changes = auditlog.last_changes(env)
    unknown = [name for name in keyrules.KEY_NAMES if name not in changes]
    if unknown:
        names = ", ".join(unknown)
        report.add("key age", "warn", f"age unknown (no generate/rotate event for {env} in the audit log): {names}")
    elif not late:
        report.add("key age", "pass", f"every key changed within {max_age} days")


def check_policies(report: Report, env: str) -> None:
    """Each policy file matches its JSON Schema and the rules between its fields, and fits ``env``."""
    for name in policyfiles.POLICY_NAMES:
        where = str(policyfiles.policy_path(name))
        try:
            broken = policyfiles.validate(name)
        except (policyfiles.PolicyError, jsonschema.SchemaError) as exc:
            report.add("policy", "fail", str(exc), where=where)
            continue
        for key, rule in broken:
            report.add("policy", "fail", f"{key} {rule}", where=where)
        if not broken:
            report.add("policy", "pass", f"{name} policy matches its schema", where=where)
        if name == "access" and not broken and policyfiles.load(name).get("default_role") == ADMIN_ROLE:
            # The schema allows it (a local setup may want it); where real users sign up, every
            # one of them would be an administrator.
            report.add(
                "default role",
                "fail" if env in config.DEPLOYED else "warn",
                f"default_role is {ADMIN_ROLE!r}: every sign-up becomes an administrator",
                where=f"{where}: default_role",
                fix=f'set "default_role": "user" in {where}; grant admin to chosen accounts only',
            )


def validate(env: str, path: Path) -> Report:
    """Run every security check of ``env`` on the env file ``path``."""
    report = Report(f"security validate --env {env} ({path})")
    check_policies(report, env)
    try:
        min_length = policyfiles.min_key_length()
        max_age = policyfiles.max_key_age_days()
    except policyfiles.PolicyError:
        # Reported by check_policies above; the floors still apply.
        min_length, max_age = keyrules.MIN_KEY_LENGTH, None
    if path.exists():
        values = envfile.read(path)
        declared = values.get("APP_ENV")
        if declared and declared != env:
            report.add("app env", "fail", f"APP_ENV is {declared}, not {env}", where=str(path))
        check_env_keys(report, env, path, values, min_length)
        check_reuse_elsewhere(report, env, path, values)
    else:
        values = {}
        fix = "make setup" if env == layers.DEFAULT_ENVIRONMENT else f"make keys-generate ENV={env}"
        report.add("env file", "fail", f"{path} does not exist", where=str(path), fix=fix)
    check_env_files(report, path.parent)
    check_config(report, env, path, values)
    check_key_age(report, env, max_age)
    return report


def validate_command(args: argparse.Namespace) -> int:
    """Run ``security validate``."""
    return validate(args.env, args.file or env_file_for(args.env)).emit(args.json)
