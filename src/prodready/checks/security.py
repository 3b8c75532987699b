"""Security checks: nothing secret committed, no placeholder keys, policies, scanners.

In a project with this template's layout, ``security validate --env development`` decides the
key check; elsewhere every secret-looking variable of a real env file meets the key rules.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from .. import config, deps, envfile, keyrules, keys, layers, policyfiles
from .. import security as security_cli
from ..report import Finding
from .base import (
    CONFIG_DIRS,
    SCANNERS,
    Context,
    Project,
    check,
    ci_files,
    env_files,
    expand_make,
    failed,
    ignored_by_patterns,
    inside,
    is_env_template,
    is_secret_name,
    last_line,
    logical_lines,
    not_run,
    passed,
    requirement_files,
    run_command,
    short_list,
)
from .configuration import config_files
from .dependencies import parse_requirement

# pip-audit resolves and queries the index for every package: minutes on a slow network.
_AUDIT_TIMEOUT = 600


@check("security.secrets_committed", "security", 4, "no env file with values tracked by git")
def _security_secrets_committed(context: Context) -> Finding:
    project = context.project
    tracked = project.tracked
    if tracked is None:
        return not_run("not a git repository", "git init")
    committed = sorted(f for f in env_files(project) if f in tracked and not is_env_template(f))
    if committed:
        return failed(
            f"tracked by git: {short_list(committed)}",
            f"git rm --cached {committed[0]}, add it to .gitignore, then rotate every key it held",
            committed[0],
        )
    with_passwords = [
        path
        for path in sorted(set(config_files(project)) & tracked)
        if any(
            config.has_url_password(line)
            for line in project.text(path).splitlines()
            if not line.lstrip().startswith(("#", ";", "//"))
        )
    ]
    if with_passwords:
        return failed(
            f"a password inside a URL in tracked configuration: {short_list(with_passwords)}",
            "put the URL in .env or the deployment's secrets (DATABASE_URL=…, REDIS_URL=…), "
            "keep only the host and user in the file, then change the password",
            with_passwords[0],
        )
    return passed("only env templates are tracked; no password inside a URL in tracked configuration")


@check("security.env_ignored", "security", 2, ".env ignored by git")
def _security_env_ignored(context: Context) -> Finding:
    project = context.project
    by_git = project.git_ignores(".env")
    if by_git is None:
        by_git = ignored_by_patterns(project.text(".gitignore").splitlines(), ".env", anywhere=True)
    if by_git:
        return passed(".env matches an ignore rule", ".gitignore")
    return failed(".env is not ignored: keys can be committed by accident", "add .env and .env.* to .gitignore")


@check("security.placeholders", "security", 3, "no CHANGE_ME-style values in env or config files")
def _security_placeholders(context: Context) -> Finding:
    project = context.project
    found: list[str] = []
    for path in env_files(project):
        if is_env_template(path):
            continue
        for name, value in envfile.parse(project.text(path)).items():
            if keyrules.is_unfilled(value) or (is_secret_name(name) and value and keyrules.is_placeholder(value)):
                found.append(f"{path}: {name}")
    for path in [f for d in CONFIG_DIRS for f in project.under(d) if f.endswith((".yaml", ".yml"))]:
        with contextlib.suppress(yaml.YAMLError):
            data = layers.parse_config(project.text(path))
            if isinstance(data, dict):
                for key, value in config.key_paths(data).items():
                    leaf = key.rsplit(".", 1)[-1]
                    if isinstance(value, str) and value and is_secret_name(leaf) and keyrules.is_placeholder(value):
                        found.append(f"{path}: {key}")
    if found:
        return failed(
            f"placeholder values: {short_list(found)}", "generate real keys (secrets.token_urlsafe(64)) out of git"
        )
    return passed("no placeholder values outside the templates")


@check("security.keys", "security", 4, "keys strong enough (security validate)", gate=True)
def _security_keys(context: Context) -> Finding:
    project = context.project
    if project.has_security_layout:
        if not project.exists(".env"):
            return not_run("no .env yet", "make setup (creates your keys)")
        try:
            with inside(project.root):
                report = security_cli.validate(layers.DEFAULT_ENVIRONMENT, Path(".env"))
        except keyrules.KeyRulesError as exc:
            # The project's file is missing or broken: its finding, not a crash of the check.
            return failed(str(exc), "restore security/keys.json (copier update brings the template's)", "security")
        failures = [f for f in report.findings if f.status == "fail"]
        warnings = [f for f in report.findings if f.status == "warn"]
        if failures:
            first = failures[0]
            return failed(
                f"security validate: {first.check}: {first.message}"
                + (f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""),
                first.fix or "make security-validate",
                first.where,
            )
        extra = f", {len(warnings)} warnings" if warnings else ""
        return passed(f"security validate --env development: {len(report.findings)} checks{extra}", ".env")
    values = [
        (path, name, value)
        for path in env_files(project)
        if not is_env_template(path)
        for name, value in envfile.parse(project.text(path)).items()
        if is_secret_name(name) and value and not name.endswith("_URL")
    ]
    if not values:
        return not_run("no env file with keys to check")
    weak = [f"{path}: {name}" for path, name, value in values if keyrules.key_problems(name, value)]
    if weak:
        return failed(
            f"weak or placeholder keys: {short_list(weak)}",
            "use at least 32 random characters (secrets.token_urlsafe(64))",
        )
    return passed(f"{len(values)} keys meet the key rules")


# Names of variables that hold a secret the service reads at start-up (repositories without a key list).
_STARTUP_SECRET = re.compile(r"(^|_)(KEY|SECRET|PASSWORD|TOKEN)$", re.IGNORECASE)


@check("security.dev_env", "security", 3, "the development .env has no value that stops the service starting")
def _security_dev_env(context: Context) -> Finding:
    # A failure, not a warning: the service refuses these values in development too (a cipher key
    # that is not hex cannot build its cipher), so `make dev` and the tests would not start.
    project = context.project
    path = keys.env_file_for(layers.DEFAULT_ENVIRONMENT).as_posix()
    declared = project.exists("security/keys.json")
    if not project.exists(path):
        return not_run(f"no {path}", "make setup (creates your keys)" if declared else f"create {path}")
    values = envfile.parse(project.text(path))
    if declared:
        try:
            specs = keyrules.load(project.root / "security" / "keys.json").keys
        except keyrules.KeyRulesError as exc:
            return failed(str(exc), "restore security/keys.json (copier update brings the template's)", "security")
        names = [
            name
            for spec in specs
            if not (spec.replaced_by and values.get(spec.replaced_by)) and not keyrules.not_needed(spec, values)
            for name in (spec.name, spec.name + keyrules.PREVIOUS_SUFFIX)
            if name == spec.name or values.get(name)
        ]
        problems = [problem for name in names for problem in keyrules.startup_problems(name, values.get(name))]
        scope = f"the {len(names)} keys security/keys.json declares"
        fix = "replace each named value with a fresh key (prodready keys generate --env development --file .env.fresh)"
    else:
        # Without a key list, only what is surely unusable: a placeholder in a secret's variable.
        names = [name for name in values if _STARTUP_SECRET.search(name)]
        problems = [
            f"{name} is a placeholder" for name in names if values[name] and keyrules.is_placeholder(values[name])
        ]
        scope = f"{len(names)} secret variable{'' if len(names) == 1 else 's'}"
        fix = "put a real value in each (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    if problems:
        return failed(f"the service will not start with {path}: {short_list(problems, 3)}", fix, path)
    return passed(f"{path}: {scope} hold usable values", path)


@check("security.policies", "security", 2, "security policies written down and valid")
def _security_policies(context: Context) -> Finding:
    project = context.project
    folder = project.root / "security" / "policies"
    if project.has_security_layout:
        broken: list[str] = []
        for name in policyfiles.POLICY_NAMES:
            try:
                broken += [f"{name}: {key} {rule}" for key, rule in policyfiles.validate(name, folder)]
            except (policyfiles.PolicyError, ValueError) as exc:
                broken.append(str(exc))
        if broken:
            return failed(
                short_list(broken), "fix the policy files (security validate shows every rule)", "security/policies"
            )
        return passed(f"{', '.join(policyfiles.POLICY_NAMES)} policies match their schemas", "security/policies")
    policies = [f for f in project.under("security/policies") if f.endswith(".json")]
    unreadable = [f for f in policies if _json_error(project.text(f))]
    if unreadable:
        return failed(f"not valid JSON: {short_list(unreadable)}", "fix the JSON", unreadable[0])
    if policies or project.named("SECURITY.md"):
        return passed(f"{short_list(policies or project.named('SECURITY.md'))}")
    return failed(
        "no security policy (SECURITY.md or security/policies/*.json)",
        "write password, access and encryption policies (security/policies/*.json)",
    )


def _json_error(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@check("security.scanning", "security", 3, "dependency and code scanners configured")
def _security_scanning(context: Context) -> Finding:
    project = context.project
    places = [*ci_files(project), ".pre-commit-config.yaml", "Makefile", "tox.ini", "noxfile.py"]
    found = sorted(
        {m.group(0) for place in places for m in SCANNERS.finditer(expand_make(project.text(place), project))}
    )
    if found:
        return passed(f"configured: {', '.join(found)}")
    return failed(
        "no vulnerability or code scanner runs anywhere", "run pip-audit and bandit in CI (uvx pip-audit, uvx bandit)"
    )


def audit_input(project: Project, folder: Path) -> tuple[list[str], str] | None:
    """Return pip-audit's input arguments and a description, or None when nothing is pinned."""
    exported = project.root / deps.REQUIREMENTS
    if exported.is_file():
        return ["-r", str(exported)], str(deps.REQUIREMENTS)
    uv = shutil.which("uv")
    if project.exists("uv.lock") and uv:
        target = folder / "requirements.txt"
        result = run_command([uv, *deps.EXPORT_ARGS, "-o", str(target)], project.root)
        if result is not None and result.returncode == 0:
            return ["-r", str(target)], "uv.lock"
    files = [f for f in requirement_files(project) if "dev" not in f and "test" not in f]
    if files:
        return [arg for f in files for arg in ("-r", str(project.root / f))], short_list(files)
    return None


@check("security.vulnerabilities", "security", 4, "no known vulnerabilities (pip-audit)", needs="--audit")
def _security_vulnerabilities(context: Context) -> Finding:
    project = context.project
    tool = shutil.which("pip-audit")
    uvx = shutil.which("uvx")
    if tool is None and uvx is None:
        return not_run("neither pip-audit nor uvx is installed", "install uv (uvx runs pip-audit)")
    with tempfile.TemporaryDirectory(prefix="readiness-audit-") as tmp:
        found = audit_input(project, Path(tmp))
        if found is None:
            return not_run("no pinned requirements to audit", "uv lock")
        arguments, described = found
        text = "\n".join(Path(path).read_text(encoding="utf-8") for path in arguments[1::2])
        pinned = all(
            r.specifiers and r.specifiers[0][0] == "=="
            for r in (parse_requirement(line, "") for line in logical_lines(text))
            if r is not None
        )
        # --strict: a package that cannot be audited (offline, unknown to the index) fails the
        # run instead of being skipped; that is reported as not run, never as a pass.
        command = [tool] if tool else [str(uvx), "pip-audit"]
        command += ["--strict", "--progress-spinner", "off", "--format", "json", *arguments]
        if pinned:
            command += ["--disable-pip"] + ([] if "--hash=" in text else ["--no-deps"])
        result = run_command(command, project.root, timeout=_AUDIT_TIMEOUT)
    try:
        report = json.loads(result.stdout) if result is not None else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return not_run(f"pip-audit could not audit {described}: {last_line(result)}", "retry with network access")
    vulnerable = [
        f"{d['name']} {d.get('version', '')}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in report.get("dependencies", [])
        if d.get("vulns")
    ]
    if vulnerable:
        return failed(
            f"{len(vulnerable)} vulnerable: {short_list(vulnerable, 3)}",
            "upgrade them (uv lock --upgrade-package NAME)",
        )
    return passed(f"{len(report.get('dependencies', []))} packages of {described}: no known vulnerability")
