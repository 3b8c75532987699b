"""``config`` group: the layered YAML configuration is valid for every environment."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import layers
from .report import Report

# Environments that face real users: the strict rules below apply to them.
DEPLOYED = ("staging", "production")


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``config`` commands."""
    parser = groups.add_parser("config", help="validate the configuration files")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="check every environment's effective config")
    validate.add_argument("--env", choices=layers.ENVIRONMENTS, help="one environment (default: all)")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(handler=validate_command)


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


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
    return broken


def validate(envs: tuple[str, ...], directory: Path | None = None) -> Report:
    """Validate each environment's layers and rules."""
    report = Report("config validate")
    for env in envs:
        try:
            merged, origins = layers.load_layers(env, directory)
        except layers.ConfigError as exc:
            report.add("parse", "fail", str(exc), where=env)
            continue
        broken = environment_rules(env, merged)
        for key, rule in broken:
            where = f"{origins.get(key, layers.layer_files(env, directory)[-1])}: {key}"
            report.add("rule", "fail", rule, where=where)
        if not broken:
            report.add(env, "pass", "parses and meets its environment's rules")
    return report


def validate_command(args: argparse.Namespace) -> int:
    """Run ``config validate``."""
    envs = (args.env,) if args.env else layers.ENVIRONMENTS
    return validate(envs).emit(args.json)
