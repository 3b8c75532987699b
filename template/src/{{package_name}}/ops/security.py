"""``security`` group: keys and settings are fit for the environment they serve."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

from . import config, envfile, keyrules, keys, layers
from .report import Report


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``security`` commands."""
    parser = groups.add_parser("security", help="validate keys and security settings")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="check keys, env files and config for ENV")
    validate.add_argument("--env", choices=layers.ENVIRONMENTS, default="development")
    validate.add_argument("--file", type=Path, help="dotenv file (default: .env for development, else .env.ENV)")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(handler=validate_command)


def env_file_for(env: str) -> Path:
    """Return the dotenv file that holds ``env``'s keys by convention."""
    return Path(".env") if env == "development" else Path(f".env.{env}")


def validate(env: str, path: Path) -> Report:
    """Check the keys in ``path`` and the security settings of ``env``."""
    report = Report(f"security validate --env {env} ({path})")
    if not path.exists():
        fix = "make setup" if env == "development" else f"python -m {__package__} keys generate --env {env}"
        report.add("env file", "fail", f"{path} does not exist", fix=fix)
        return report
    values = envfile.read(path)
    strict = env in config.DEPLOYED
    for spec in keyrules.KEYS:
        problems = keyrules.key_problems(spec.name, values.get(spec.name))
        if problems:
            # Development keys only warn: a weak local key must not block a laptop.
            report.add(spec.name, "fail" if strict else "warn", "; ".join(problems), where=str(path))
        else:
            report.add(spec.name, "pass", f"{len(values[spec.name])} characters")
    if keys.is_tracked(path):
        report.add("untracked", "fail", f"{path} is tracked by git", fix=f"git rm --cached {path}")
    else:
        report.add("untracked", "pass", f"{path} is not tracked by git")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        report.add("file mode", "fail", f"{path} has mode {mode:04o}; keys need 0600", fix=f"chmod 600 {path}")
    else:
        report.add("file mode", "pass", f"{mode:04o}")
    try:
        merged, _ = layers.load_layers(env)
    except layers.ConfigError as exc:
        report.add("config", "fail", str(exc))
        return report
    for key, rule in config.environment_rules(env, merged):
        report.add("config", "fail", rule, where=key)
    return report


def validate_command(args: argparse.Namespace) -> int:
    """Run ``security validate``."""
    return validate(args.env, args.file or env_file_for(args.env)).emit(args.json)
