"""Answers: validators, defaults, escaping into structured files, the answers file."""

from __future__ import annotations

import json
import keyword
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import (
    BIN,
    EXAMPLE_PYPROJECT,
    ROOT,
    Render,
    copier_cli,
    copy_project,
    example_answers,
    project_files,
    run,
    snapshot,
)
from jinja2.sandbox import SandboxedEnvironment

COPIER_YML = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
# Asked questions; computed values (`when: false`) are rendered from them, never answered.
QUESTIONS = {
    name: spec for name, spec in COPIER_YML.items() if not name.startswith("_") and spec.get("when") is not False
}

# (answer, value, what the message must contain: the bad value as shown, and the rule)
BAD_ANSWERS = [
    ("package_name", "my-pkg", ['"my-pkg"', "underscores"]),
    ("package_name", "class", ['"class"', "keyword"]),
    ("package_name", "json", ['"json"', "standard-library"]),
    ("package_name", "MyPkg", ['"MyPkg"', "lowercase"]),
    ("package_name", "1abc", ['"1abc"', "starting with a letter"]),
    ("project_slug", "Bad_Slug", ['"Bad_Slug"', "lowercase ASCII letters, digits and single hyphens"]),
    ("project_slug", "double--hyphen", ['"double--hyphen"', "single hyphens"]),
    ("author_email", "nope", ['"nope"', "email"]),
    ("author_email", "a@b", ['"a@b"', "email"]),
    ("coverage_threshold", "101", ['"101"', "0 to 100"]),
    ("coverage_threshold", "-1", ['"-1"', "0 to 100"]),
    ("project_name", "", ["project name is empty"]),
    ("project_name", " padded ", ['" padded "', "spaces"]),
    ("description", "first line\nsecond line", ["description", "one line"]),
]


def bad_id(case: tuple[str, str, list[str]]) -> str:
    return f"{case[0]}={case[1]!r}"


def copy_cli(dst: Path, *data: str) -> subprocess.CompletedProcess[str]:
    """``copier copy --defaults --trust --vcs-ref=HEAD --data KEY=VALUE... ROOT dst``."""
    args = ["copy", "--defaults", "--trust", "--vcs-ref=HEAD"]
    for item in data:
        args += ["--data", item]
    return copier_cli(*args, str(ROOT), str(dst))


# ---------------------------------------------------------------------------
# Bad answers are rejected, with a message, and nothing is written
# ---------------------------------------------------------------------------


# Slow tier: one Copier process per value (the fast tier refuses them in process, see
# test_answers_robust.py).
@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_ANSWERS, ids=bad_id)
def test_bad_answer_is_rejected_and_nothing_is_written(case: tuple[str, str, list[str]], tmp_path: Path) -> None:
    question, value, expected = case
    dst = tmp_path / "project"
    result = copy_cli(dst, f"{question}={value}")
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{question}={value!r} was accepted:\n{output}"
    assert f"question '{question}'" in output, output
    for fragment in expected:
        assert fragment in output, f"message lacks {fragment!r}:\n{output}"
    assert not dst.exists(), f"a rejected copy left {sorted(p.name for p in dst.iterdir())}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [case for case in BAD_ANSWERS if case[1] in {"json", "nope", "101"}],
    ids=bad_id,
)
def test_bad_answer_leaves_an_existing_folder_unchanged(case: tuple[str, str, list[str]], tmp_path: Path) -> None:
    question, value, _ = case
    dst = tmp_path / "legacy"
    (dst / "src").mkdir(parents=True)
    (dst / "src" / "app.py").write_text("print('legacy')\n", encoding="utf-8")
    (dst / "README.md").write_text("# Legacy\n", encoding="utf-8")
    (dst / ".env").write_text("SECRET_KEY=keep-me\n", encoding="utf-8")
    before = snapshot(dst)
    result = copy_cli(dst, f"{question}={value}")
    assert result.returncode != 0
    assert snapshot(dst) == before


def validator_message(question: str, value: Any) -> str:
    """Render a question's validator as Copier does (its default Jinja extensions, its envops)."""
    env = SandboxedEnvironment(
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"], **COPIER_YML.get("_envops", {})
    )
    with warnings.catch_warnings():
        # Reported by test_validators_compile_without_warnings; one report is enough.
        warnings.filterwarnings("ignore", "invalid escape sequence", DeprecationWarning)
        return env.from_string(QUESTIONS[question]["validator"]).render({question: value}).strip()


def test_validators_compile_without_warnings() -> None:
    env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for spec in QUESTIONS.values():
            if "validator" in spec:
                env.from_string(spec["validator"])


def test_stdlib_list_covers_this_python() -> None:
    """Every public standard-library module of the running Python is refused as a package name."""
    names = sorted(
        {name.lower() for name in sys.stdlib_module_names if not name.startswith("_") and name.isidentifier()}
    )
    assert len(names) > 150
    accepted = [name for name in names if "standard-library" not in validator_message("package_name", name)]
    assert not accepted, (
        f"standard-library names accepted as package_name on Python {sys.version.split()[0]}: {accepted}"
    )


def test_every_keyword_is_refused() -> None:
    words = [w for w in keyword.kwlist + keyword.softkwlist if w.isidentifier() and w.lower() == w and w != "_"]
    accepted = [w for w in words if "keyword" not in validator_message("package_name", w)]
    assert not accepted, f"keywords accepted as package_name: {accepted}"


@pytest.mark.parametrize("name", ["my_service", "orders2", "json_api", "service_v2", "a"])
def test_good_package_names_pass(name: str) -> None:
    assert validator_message("package_name", name) == ""


# ---------------------------------------------------------------------------
# Defaults and the answers file
# ---------------------------------------------------------------------------


# Slow tier: a Copier process of its own (the fast tier renders with --defaults through the API
# and answers every prompt with its default in test_answers_robust.py).
@pytest.mark.slow
def test_defaults_need_no_data(tmp_path: Path) -> None:
    dst = tmp_path / "project"
    result = copy_cli(dst)
    assert result.returncode == 0, result.stdout + result.stderr
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
    # The defaults that are not derived from other answers are recorded as copier.yml states them.
    for name, spec in QUESTIONS.items():
        default = spec.get("default")
        if isinstance(default, str) and "{{" in default:
            continue
        if isinstance(spec.get("when"), str) and name not in answers:
            # Asked only after another answer (existing_app after app_source=existing): not recorded.
            continue
        assert answers[name] == default, f"{name}: {answers[name]!r} != default {default!r}"
    assert (answers["project_slug"], answers["package_name"]) == ("my-service", "my_service")
    assert (dst / "src/my_service/main.py").is_file()


def test_answers_file_has_header_and_source(rendered: Render) -> None:
    project = rendered()
    text = (project / ".copier-answers.yml").read_text(encoding="utf-8")
    assert text.startswith("# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY."), text[:200]
    answers = yaml.safe_load(text)
    assert answers["_src_path"] == str(ROOT)
    assert isinstance(answers["_commit"], str)
    assert answers["_commit"]
    # No secret reaches the answers file: keys live only in .env.
    env_values = [
        line.split("=", 1)[1] for line in (project / ".env").read_text(encoding="utf-8").splitlines() if "=" in line
    ]
    leaked = [v for v in env_values if len(v) >= 16 and v in text]
    assert not leaked, "a key from .env is in .copier-answers.yml"


# ---------------------------------------------------------------------------
# Free text is escaped for every format it lands in
# ---------------------------------------------------------------------------

HOSTILE = {
    "project_name": "Ünïcode \"Q\" 'x' # no comment {{ jinja }} ${{ github.token }} \\ back\\slash",
    "project_slug": "hostile-text",
    "package_name": "hostile_text",
    "description": (
        "Déjà vu: \"quotes\", 'apostrophes', # hash, {{ braces }}, {% raw %}, ${{ secrets.X }}, "
        "C:\\path\\n, tab-less, 日本語, emoji 🚀, trailing backslash \\"
    ),
    "author_name": 'Zoë O\'Brien "Bob" # {{ x }} \\ Ж',
}


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("hostile") / "project", **HOSTILE)


def test_hostile_text_round_trips_in_pyproject(hostile_project: Path) -> None:
    config = tomllib.loads((hostile_project / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["description"] == HOSTILE["description"]
    assert config["project"]["authors"][0]["name"] == HOSTILE["author_name"]
    assert config["project"]["name"] == HOSTILE["project_slug"]


def test_hostile_text_round_trips_in_config(hostile_project: Path) -> None:
    files = sorted((hostile_project / "config/environments").glob("*.yaml"))
    assert len(files) == 4
    for path in files:
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["app"]["name"] == HOSTILE["project_name"], path.name


def test_hostile_text_round_trips_in_answers_file(hostile_project: Path) -> None:
    answers = yaml.safe_load((hostile_project / ".copier-answers.yml").read_text(encoding="utf-8"))
    for key, value in HOSTILE.items():
        assert answers[key] == value


def test_hostile_text_is_shown_verbatim(hostile_project: Path) -> None:
    readme = (hostile_project / "README.md").read_text(encoding="utf-8")
    assert HOSTILE["project_name"] in readme
    assert HOSTILE["description"] in readme
    assert HOSTILE["author_name"] in (hostile_project / "LICENSE").read_text(encoding="utf-8")


def test_hostile_text_keeps_the_project_valid(hostile_project: Path) -> None:
    checked = 0
    for path in project_files(hostile_project):
        checked += 1
        if path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in {".yaml", ".yml"}:
            list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    assert checked > 30


# ---------------------------------------------------------------------------
# Package names: nothing the project imports is shadowed, every allowed length lints clean
# ---------------------------------------------------------------------------

# Import names of the generated project's dependencies (pyproject.toml.jinja), where they differ
# from the distribution name; None: nothing importable (type stubs).
IMPORT_NAMES = {
    "python-multipart": "multipart",
    "mlflow-skinny": "mlflow",
    "pyyaml": "yaml",
    "pyjwt": "jwt",
    "argon2-cffi": "argon2",
    "email-validator": "email_validator",
    "pydantic-settings": "pydantic_settings",
    "pytest-asyncio": "pytest_asyncio",
    "pytest-cov": "pytest_cov",
    "factory-boy": "factory",
    "types-pyyaml": None,
}


def test_every_dependency_of_the_project_is_refused_as_package_name() -> None:
    text = (ROOT / "template" / EXAMPLE_PYPROJECT).read_text(encoding="utf-8")
    # Every "name>=version" string of the dependency lists (the Jinja lines are not TOML).
    distributions = {match.lower() for match in re.findall(r'^\s*"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?[<>=!~]', text, re.M)}
    assert {"fastapi", "pyyaml", "pytest", "asyncpg", "redis"} <= distributions, distributions
    names = {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in distributions} - {None}
    accepted = sorted(
        name for name in names if "import name of a dependency" not in validator_message("package_name", name)
    )
    assert not accepted, f"dependencies accepted as package_name: {accepted}"


@pytest.mark.parametrize("folder", ["tests", "migrations", "config", "scripts", "security", "src", "var"])
def test_top_level_folders_are_refused_as_package_name(folder: str) -> None:
    assert f'"{folder}" is a top-level folder' in validator_message("package_name", folder)


LONGEST_PACKAGE = "p" * 32


@pytest.fixture(scope="module")
def longest_names(rendered: Render) -> Path:
    """The project with the longest package name and slug the validators allow."""
    assert validator_message("package_name", LONGEST_PACKAGE) == ""
    assert "at most 32" in validator_message("package_name", LONGEST_PACKAGE + "p")
    return rendered(package_name=LONGEST_PACKAGE, project_slug="s" * 64)


def test_the_longest_package_name_passes_ruff_check(longest_names: Path) -> None:
    run([BIN / "ruff", "check", "--no-cache", "--no-fix", "."], cwd=longest_names)


def test_the_longest_package_name_passes_ruff_format(longest_names: Path) -> None:
    run([BIN / "ruff", "format", "--no-cache", "--check", "."], cwd=longest_names)


# ---------------------------------------------------------------------------
# The prompt reads in an 80-column terminal
# ---------------------------------------------------------------------------

# What a prompt line holds besides the help: the mark ("🎤", two columns, and a space), two
# spaces, and questionary's longest hint (" (Use arrow keys)" under a choice question).
PROMPT_OVERHEAD = 3 + 2 + len(" (Use arrow keys)")
GROUPS = {"project", "service", "infrastructure", "quality gates"}


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_help_fits_an_80_column_terminal_and_names_its_group(question: str) -> None:
    help_text = QUESTIONS[question]["help"]
    assert "\n" not in help_text
    assert len(help_text) + PROMPT_OVERHEAD <= 80, f"{len(help_text)} characters: {help_text!r}"
    group = re.fullmatch(r"\[([a-z ]+)\] .+", help_text)
    assert group and group[1] in GROUPS, help_text


def test_groups_come_in_the_order_of_the_form() -> None:
    order = [re.match(r"\[([a-z ]+)\]", spec["help"])[1] for spec in QUESTIONS.values()]
    seen = list(dict.fromkeys(order))
    assert seen == ["project", "service", "infrastructure", "quality gates"]
    assert order == sorted(order, key=seen.index), "a question sits outside its group"


# ---------------------------------------------------------------------------
# The generated README
# ---------------------------------------------------------------------------


def test_the_answers_file_points_to_a_readme_section_that_exists(rendered: Render) -> None:
    project = rendered()
    header = (project / ".copier-answers.yml").read_text(encoding="utf-8").split("\n", 2)[1]
    section = re.search(r'README\'s "([^"]+)" section', header)
    assert section, header
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert f"\n## {section[1]}\n" in readme
    updating = readme.split(f"\n## {section[1]}\n", 1)[1].split("\n## ", 1)[0]
    for step in ("copier update --trust --defaults", "git diff", "make lock", "git commit"):
        assert step in updating, f"the {section[1]} section lacks {step!r}"


def test_the_readme_describes_every_route(rendered: Render) -> None:
    project = rendered()
    readme = (project / "README.md").read_text(encoding="utf-8")
    api = readme.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    routes = set(re.findall(r'(?:router = APIRouter\(prefix="(/[a-z]+)")', _routes_source(project)))
    assert routes == {"/auth", "/users", "/items"}
    for path in (
        "/auth/register",
        "/auth/token",
        "/users/me",
        "`GET /users`",
        "/items/{item_id}",
        "/health/live",
        "/health/ready",
    ):
        assert path in api, f"the API section lacks {path}"
    assert f"python -m {PACKAGE}.admin promote you@example.com" in api
    assert "CDN" in api


PACKAGE = example_answers()["package_name"]


def _routes_source(project: Path) -> str:
    folder = project / "src" / PACKAGE / "api" / "routes"
    return "".join(path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.py")))
