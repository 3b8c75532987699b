"""Configuration checks: files per environment that parse and agree, complete env templates.

In a project with this template's layout, ``config validate`` and ``config sync --check``
decide; elsewhere the configuration files must parse and the environment files define the
same keys. The env templates must list every variable the settings read, found statically
(pydantic-settings fields, or ``os.environ`` reads), so the check runs before any install.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import json
import re
from typing import Any

import yaml

from .. import config, envfile, layers
from ..report import Finding
from .base import (
    CONFIG_DIRS,
    Context,
    Project,
    check,
    env_files,
    failed,
    has_tomllib,
    inside,
    is_env_template,
    load_mapping,
    load_toml,
    not_run,
    passed,
    short_list,
)

_ENVIRONMENT_NAMES = {
    "development": ("development", "dev", "local"),
    "testing": ("testing", "test", "ci"),
    "staging": ("staging", "stage", "preprod"),
    "production": ("production", "prod"),
}

_CLASS = re.compile(r"^class\s+(\w+)", re.MULTILINE)
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".ini", ".cfg")


def config_files(project: Project) -> list[str]:
    """Configuration files under the conventional folders (``config/``, ``settings/``, …)."""
    return [
        f
        for folder in CONFIG_DIRS
        for f in project.under(folder)
        if f.endswith(_CONFIG_SUFFIXES) and not f.endswith(".py")
    ]


def environment_files(project: Project) -> dict[str, list[str]]:
    """Configuration files per environment, found by name (``production.yaml``, ``config/prod/…``)."""
    found: dict[str, list[str]] = {}
    for path in config_files(project) + [f for f in env_files(project) if "." in f.rsplit("/", 1)[-1].lstrip(".")]:
        words = set(re.split(r"[./_-]", path.lower()))
        for env, aliases in _ENVIRONMENT_NAMES.items():
            if words & set(aliases):
                found.setdefault(env, []).append(path)
    return found


@check("config.environments", "configuration", 3, "configuration per environment")
def _config_environments(context: Context) -> Finding:
    found = environment_files(context.project)
    missing = [env for env in ("development", "testing", "production") if env not in found]
    if missing:
        return failed(
            f"no configuration for {', '.join(missing)}" + (f" (found: {', '.join(found)})" if found else ""),
            "add config/environments/<env>.yaml for development, testing, staging and production",
        )
    return passed(f"environments: {', '.join(env for env in _ENVIRONMENT_NAMES if env in found)}")


def _first_failure(findings: list[Finding]) -> Finding | None:
    return next((f for f in findings if f.status == "fail"), None)


@check("config.valid", "configuration", 4, "configuration files valid (config validate)", gate=True)
def _config_valid(context: Context) -> Finding:
    project = context.project
    if project.has_ops_layout:
        with inside(project.root):
            report = config.validate(layers.ENVIRONMENTS, project.root / "config")
        first = _first_failure(report.findings)
        if first:
            return failed(f"config validate: {first.message}", first.fix or "make config-validate", first.where)
        return passed(f"config validate: {len(report.findings)} checks passed", "config")
    files = config_files(project)
    if not files:
        return failed("no configuration files", "add config/environments/<env>.yaml")
    broken = [path for path in files if _parse_error(path, project.text(path))]
    if broken:
        return failed(f"do not parse: {short_list(broken)}", "fix the syntax", broken[0])
    return passed(f"{len(files)} configuration files parse")


def _parse_error(path: str, text: str) -> bool:
    try:
        if path.endswith((".yaml", ".yml")):
            layers.parse_config(text)
        elif path.endswith(".json"):
            json.loads(text)
        elif path.endswith(".toml"):
            return has_tomllib() and load_toml(text) is None
        else:
            configparser.ConfigParser().read_string(text)
    except (yaml.YAMLError, ValueError, configparser.Error):
        return True
    return False


@check("config.sync", "configuration", 2, "environments define the same keys (config sync --check)", gate=True)
def _config_sync(context: Context) -> Finding:
    project = context.project
    if project.has_ops_layout:
        with inside(project.root):
            report = config.sync(True, project.root / "config")
        first = _first_failure(report.findings)
        if first:
            count = sum(f.status == "fail" for f in report.findings)
            return failed(f"config sync --check: {first.message} ({count} gaps)", first.fix, first.where)
        return passed("every environment defines the same keys", "config/environments")
    files: dict[str, dict[str, Any]] = {}
    for paths in environment_files(project).values():
        for path in paths:
            data = load_mapping(path, project.text(path)) if path.endswith((".yaml", ".yml", ".json")) else None
            if isinstance(data, dict):
                files[path] = data
    if len(files) < 2:
        return not_run("fewer than two environment files to compare")
    keys = {path: set(config.key_paths(data)) for path, data in files.items()}
    every = set().union(*keys.values())
    gaps = [
        f"{path} lacks {short_list(sorted(every - found), 2)}" for path, found in sorted(keys.items()) if every - found
    ]
    if gaps:
        return failed("; ".join(gaps[:3]), "define every key in every environment file")
    return passed(f"{len(files)} environment files define the same {len(every)} keys")


def env_templates(project: Project) -> list[str]:
    """Committed dotenv templates at the root (``.env.example``, ``.env.production.template``)."""
    return [f for f in env_files(project) if "/" not in f and is_env_template(f)]


@check("config.env_template", "configuration", 2, "env template committed (.env.example)")
def _config_env_template(context: Context) -> Finding:
    templates = env_templates(context.project)
    if templates:
        return passed(f"templates: {', '.join(templates)}")
    return failed("no .env.example: nobody knows which variables to set", "commit .env.example with placeholders only")


def _settings_classes(trees: dict[str, ast.Module]) -> tuple[list[tuple[str, ast.ClassDef]], set[str]]:
    classes = {node.name: node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}

    def base_names(node: ast.ClassDef) -> list[str]:
        return [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases]

    settings = {name for name, node in classes.items() if "BaseSettings" in base_names(node)}
    changed = True
    while changed:
        more = {name for name, node in classes.items() if set(base_names(node)) & settings} - settings
        settings |= more
        changed = bool(more)
    found = [
        (path, node)
        for path, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name in settings
    ]
    return found, set(classes) - settings


def _env_prefix(node: ast.ClassDef) -> str:
    for statement in node.body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and isinstance(statement.value, ast.Call):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            if any(isinstance(t, ast.Name) and t.id == "model_config" for t in targets):
                for keyword in statement.value.keywords:
                    if keyword.arg == "env_prefix" and isinstance(keyword.value, ast.Constant):
                        return str(keyword.value.value)
    return ""


def settings_variables(project: Project) -> tuple[dict[str, bool], str]:
    """Variables the settings read, each mapped to whether it is required, and how they were found.

    pydantic-settings classes (subclasses of ``BaseSettings``) give their fields, except those
    typed with another model (nested sections, set in YAML or with ``SECTION__KEY``). Without
    a settings class, literal ``os.environ[...]`` and ``os.getenv(...)`` reads are used.
    """
    sources = project.source_files()
    classes, models = _settings_classes(_parsed(project, [p for p in sources if "BaseSettings" in project.text(p)]))
    # Nested sections may be models defined in other modules: any class of the project counts.
    settings_names = {node.name for _, node in classes}
    models |= {name for p in sources for name in _CLASS.findall(project.text(p))} - settings_names
    variables: dict[str, bool] = {}
    for _, settings_class in classes:
        prefix = _env_prefix(settings_class)
        for statement in settings_class.body:
            if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
                continue
            name = statement.target.id
            annotation = {n.id for n in ast.walk(statement.annotation) if isinstance(n, ast.Name)}
            if name.startswith("_") or name == "model_config" or "ClassVar" in annotation or annotation & models:
                continue
            variables[(prefix + name).upper()] = statement.value is None
    if classes:
        return variables, f"settings class {', '.join(sorted({n.name for _, n in classes}))}"
    readers = [p for p in sources if "environ" in project.text(p) or "getenv" in project.text(p)]
    for tree in _parsed(project, readers).values():
        for node in ast.walk(tree):
            name, required = _environ_read(node)
            if name:
                variables[name] = variables.get(name, False) or required
    return variables, "os.environ reads"


def _parsed(project: Project, paths: list[str]) -> dict[str, ast.Module]:
    trees: dict[str, ast.Module] = {}
    for path in paths:
        with contextlib.suppress(SyntaxError, ValueError):
            trees[path] = ast.parse(project.text(path))
    return trees


def _environ_read(node: ast.AST) -> tuple[str, bool]:
    def is_environ(value: ast.AST) -> bool:
        return isinstance(value, ast.Attribute) and value.attr == "environ"

    if isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value), True
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        getenv = isinstance(func, ast.Attribute) and func.attr == "getenv"
        get = isinstance(func, ast.Attribute) and func.attr == "get" and is_environ(func.value)
        if getenv or get:
            return str(node.args[0].value), False
    return "", False


@check("config.env_complete", "configuration", 3, "env templates list every variable the settings read", gate=True)
def _config_env_complete(context: Context) -> Finding:
    project = context.project
    templates = env_templates(project)
    variables, how = settings_variables(project)
    if not variables:
        return not_run("found no settings class and no environment reads")
    if not templates:
        return failed(f"no env template for {len(variables)} variables ({how})", "commit .env.example listing them")
    gaps: list[str] = []
    for template in templates:
        text = project.text(template)
        active = set(envfile.parse(text))
        mentioned = active | set(re.findall(r"(?m)^\s*#.*?\b([A-Z][A-Z0-9_]*)=", text))
        for name, required in sorted(variables.items()):
            if name not in mentioned:
                gaps.append(f"{template} lacks {name}")
            elif required and name not in active:
                gaps.append(f"{template} has {name} only in a comment")
    if gaps:
        return failed(
            short_list(gaps),
            "add each variable to the templates (commented out when it is optional)",
            gaps[0].split()[0],
        )
    return passed(f"{len(variables)} variables ({how}) in {', '.join(templates)}")
