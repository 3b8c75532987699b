"""Render tier: answers → rendered files, checked without installing anything (seconds)."""

from __future__ import annotations

import json
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import BIN, ROOT, Render, example_answers, project_files, run

# Option combinations: every value of every option appears at least once, all four
# PostgreSQL x Redis pairs appear, and the first one is the defaults (= the example answers).
_AXES = ("use_postgres", "use_redis", "ci_provider", "python_version", "license", "coverage_threshold")
COMBOS: list[dict[str, Any]] = [
    dict(zip(_AXES, values, strict=True))
    for values in [
        (True, True, "github", "3.13", "MIT", 90),
        (False, False, "none", "3.11", "Apache-2.0", 0),
        (True, False, "gitlab", "3.12", "Proprietary", 73),
        (False, True, "github", "3.11", "Proprietary", 100),
        (True, True, "gitlab", "3.11", "Apache-2.0", 85),
        (False, False, "github", "3.12", "MIT", 90),
    ]
]


def test_first_combo_is_the_defaults() -> None:
    questions = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    for key, value in COMBOS[0].items():
        # coverage_threshold's default is text ("90"); the examples give the number.
        default = questions[key]["default"]
        assert example_answers()[key] == value == (int(default) if key == "coverage_threshold" else default), key


def combo_id(combo: dict[str, Any]) -> str:
    """Readable test id: pg-redis-github-py3.13-MIT, nopg-noredis-none-…"""
    return "-".join(
        [
            "pg" if combo["use_postgres"] else "nopg",
            "redis" if combo["use_redis"] else "noredis",
            combo["ci_provider"],
            "py" + combo["python_version"],
            combo["license"],
            f"cov{combo['coverage_threshold']}",
        ]
    )


# The defaults and the all-off combination in the fast tier; the other four in the slow one.
@pytest.fixture(
    scope="session",
    params=[pytest.param(c, id=combo_id(c), marks=[pytest.mark.slow] if i >= 2 else []) for i, c in enumerate(COMBOS)],
)
def combo(request: pytest.FixtureRequest, rendered: Render) -> tuple[dict[str, Any], Path]:
    """(answers, rendered project) for each option combination."""
    return request.param, rendered(**request.param)


PACKAGE = example_answers()["package_name"]

# Present whatever the answers (the generated tests tree is checked separately below).
ALWAYS = [
    ".copier-answers.yml",
    ".env",
    ".env.example",
    ".env.production.template",
    ".gitignore",
    ".python-version",
    "LICENSE",
    "Makefile",
    "README.md",
    "alembic.ini",
    "pyproject.toml",
    "config/environments/development.yaml",
    "config/environments/testing.yaml",
    "config/environments/staging.yaml",
    "config/environments/production.yaml",
    "security/policies/password_policy.json",
    "security/policies/access_policy.json",
    "security/policies/encryption_policy.json",
    "migrations/env.py",
    "migrations/versions/0001_initial.py",
    f"src/{PACKAGE}/__init__.py",
    f"src/{PACKAGE}/main.py",
    f"src/{PACKAGE}/db.py",
    f"src/{PACKAGE}/api/deps.py",
    f"src/{PACKAGE}/api/routes/health.py",
    f"src/{PACKAGE}/api/routes/auth.py",
    f"src/{PACKAGE}/api/routes/users.py",
    f"src/{PACKAGE}/api/routes/items.py",
    f"src/{PACKAGE}/services/users.py",
    f"src/{PACKAGE}/services/items.py",
    f"src/{PACKAGE}/models/tables.py",
    f"src/{PACKAGE}/models/schemas.py",
    f"src/{PACKAGE}/core/settings.py",
    f"src/{PACKAGE}/core/logging.py",
    f"src/{PACKAGE}/cache/__init__.py",
    f"src/{PACKAGE}/cache/memory.py",
    f"src/{PACKAGE}/core/keys.py",
    "security/keys.json",
    "security/schemas/keys.schema.json",
]

# The test tree: every folder holds real tests.
TEST_FOLDERS = [
    "tests/unit/api",
    "tests/unit/services",
    "tests/unit/models",
    "tests/unit/utils",
    "tests/integration/api_db",
    "tests/integration/cache",
    "tests/integration/external",
    "tests/e2e/smoke",
    "tests/e2e/scenarios",
]

STRUCTURED = {".yaml", ".yml", ".toml", ".json"}


def text_files(project: Path) -> dict[str, str]:
    """Relative path → text of every rendered text file."""
    texts = {}
    for path in project_files(project):
        try:
            texts[path.relative_to(project).as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def pyproject(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))


def env_keys(project: Path) -> set[str]:
    lines = (project / ".env").read_text(encoding="utf-8").splitlines()
    return {line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.lstrip().startswith("#")}


def dependency_names(project: Path) -> set[str]:
    names = set()
    for requirement in pyproject(project)["project"]["dependencies"]:
        names.add(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower())
    return names


# ---------------------------------------------------------------------------
# Files present or absent per answer
# ---------------------------------------------------------------------------


def test_always_present(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    missing = [name for name in ALWAYS if not (project / name).is_file()]
    assert not missing, f"missing from the rendered project: {missing}"


def test_env_file_is_private(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    mode = stat.S_IMODE((project / ".env").stat().st_mode)
    assert mode == 0o600, f".env has mode {oct(mode)}, expected 0o600"
    assert {"SECRET_KEY", "JWT_SECRET_KEY", "DB_ENCRYPTION_KEY"} <= env_keys(project)


def test_postgres_parts_follow_the_answer(combo: tuple[dict[str, Any], Path]) -> None:
    answers, project = combo
    wanted = answers["use_postgres"]
    assert (project / "config/services/database.yaml").is_file() is wanted
    assert ("asyncpg" in dependency_names(project)) is wanted
    assert ("DB_PASSWORD" in env_keys(project)) is wanted
    assert ("TEST_DATABASE_URL ?=" in (project / "Makefile").read_text(encoding="utf-8")) is wanted
    if not wanted:
        # The service, its configuration and its lock know nothing of PostgreSQL's driver. (Tests
        # may still use a PostgreSQL URL as sample text, e.g. for password redaction.)
        mentions = [
            name for name, text in text_files(project).items() if "asyncpg" in text and not name.startswith("tests/")
        ]
        assert not mentions, f"use_postgres=false but asyncpg appears in {mentions}"


def test_redis_parts_follow_the_answer(combo: tuple[dict[str, Any], Path]) -> None:
    answers, project = combo
    wanted = answers["use_redis"]
    assert (project / f"src/{PACKAGE}/cache/redis.py").is_file() is wanted
    assert (project / "config/services/redis.yaml").is_file() is wanted
    assert ("redis" in dependency_names(project)) is wanted
    assert ("REDIS_PASSWORD" in env_keys(project)) is wanted
    assert ("TEST_REDIS_URL ?=" in (project / "Makefile").read_text(encoding="utf-8")) is wanted
    if not wanted:
        imports = re.compile(r"^\s*(import redis|from redis\b)", re.MULTILINE)
        mentions = [name for name, text in text_files(project).items() if name.endswith(".py") and imports.search(text)]
        assert not mentions, f"use_redis=false but redis is imported in {mentions}"


CI_FILES = {"github": ".github/workflows", "gitlab": ".gitlab-ci.yml"}


def test_no_ci_files_of_other_providers(combo: tuple[dict[str, Any], Path]) -> None:
    answers, project = combo
    for provider, path in CI_FILES.items():
        if provider != answers["ci_provider"]:
            assert not (project / path).exists(), f"ci_provider={answers['ci_provider']} but {path} exists"


@pytest.mark.parametrize("provider", sorted(CI_FILES))
def test_ci_files_of_the_chosen_provider(provider: str, rendered: Render) -> None:
    project = rendered(**next(c for c in COMBOS if c["ci_provider"] == provider))
    if provider == "github":
        workflows = list((project / ".github/workflows").glob("*.y*ml"))
        assert workflows, "ci_provider=github but .github/workflows/ has no workflow"
    else:
        assert (project / ".gitlab-ci.yml").is_file()


def test_python_version_agrees_everywhere(combo: tuple[dict[str, Any], Path]) -> None:
    answers, project = combo
    version = answers["python_version"]
    config = pyproject(project)
    assert (project / ".python-version").read_text(encoding="utf-8").strip() == version
    assert config["project"]["requires-python"] == f">={version}"
    assert config["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert config["tool"]["mypy"]["python_version"] == version


LICENSE_TEXT = {"MIT": "MIT License", "Apache-2.0": "Apache License, Version 2.0", "Proprietary": "All rights reserved"}
LICENSE_ID = {"MIT": "MIT", "Apache-2.0": "Apache-2.0", "Proprietary": "LicenseRef-Proprietary"}


def test_license_follows_the_answer(combo: tuple[dict[str, Any], Path]) -> None:
    answers, project = combo
    text = (project / "LICENSE").read_text(encoding="utf-8")
    assert LICENSE_TEXT[answers["license"]] in text
    for other, marker in LICENSE_TEXT.items():
        if other != answers["license"]:
            assert marker not in text
    assert example_answers()["author_name"] in text
    assert pyproject(project)["project"]["license"] == LICENSE_ID[answers["license"]]


def test_coverage_threshold_is_the_coverage_gate(combo: tuple[dict[str, Any], Path]) -> None:
    answers, project = combo
    assert pyproject(project)["tool"]["coverage"]["report"]["fail_under"] == int(answers["coverage_threshold"])


def test_answers_are_recorded(combo: tuple[dict[str, Any], Path]) -> None:
    answers, project = combo
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    for key, value in {**example_answers(), **answers}.items():
        # coverage_threshold is a text question: an int answer (what answers files written
        # before it was one hold, and the examples still give) is recorded as its digits.
        expected = str(value) if key == "coverage_threshold" else value
        assert recorded[key] == expected, f"{key}: recorded {recorded.get(key)!r}, answered {value!r}"


def test_generated_test_tree(rendered: Render) -> None:
    project = rendered()
    empty = [folder for folder in TEST_FOLDERS if not list((project / folder).glob("test_*.py"))]
    assert not empty, f"test folders without tests: {empty}"
    assert (project / "tests/conftest.py").is_file()
    assert (project / "tests/factories.py").is_file()


# ---------------------------------------------------------------------------
# The output is valid and already clean
# ---------------------------------------------------------------------------


def test_structured_files_parse(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    parsed = []
    for path in project_files(project):
        suffix = path.suffix
        if suffix not in STRUCTURED:
            continue
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(project).as_posix()
        try:
            if suffix == ".toml":
                tomllib.loads(text)
            elif suffix == ".json":
                json.loads(text)
            else:
                list(yaml.safe_load_all(text))
        except Exception as error:  # the message names the file; the error says where
            pytest.fail(f"{name} does not parse: {error}")
        parsed.append(name)
    # Guard against a walk that finds nothing: these must be among the parsed files.
    assert {"pyproject.toml", ".copier-answers.yml", "config/environments/production.yaml"} <= set(parsed)
    assert {"security/policies/password_policy.json"} <= set(parsed)


def test_python_compiles(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    sources = [path for path in project_files(project) if path.suffix == ".py"]
    assert len(sources) >= 20, f"only {len(sources)} Python files rendered"
    for path in sources:
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        except SyntaxError as error:
            pytest.fail(f"{path.relative_to(project)} does not compile: {error}")


def test_ruff_check_passes_untouched(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    run([BIN / "ruff", "check", "--no-cache", "--no-fix", "."], cwd=project)


def test_ruff_format_passes_untouched(combo: tuple[dict[str, Any], Path]) -> None:
    _, project = combo
    run([BIN / "ruff", "format", "--no-cache", "--check", "."], cwd=project)
