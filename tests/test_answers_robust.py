"""Robust answers: bad values are refused with a clear message, prompts behave, text is escaped.

Three angles on copier.yml's questions:

* bad values: each is refused, the message names the question, the value and the rule, and nothing
  is written; through Copier's Python API (fast tier) and through ``copier copy --data`` on the
  command line, one process per value run in parallel (slow tier: mostly Copier's import time);
* the terminal: a person answers the prompts (pexpect), takes the defaults, corrects a bad answer;
* escaping: hypothesis generates names and descriptions full of quotes, backslashes, ``#``,
  ``{{ }}``, ``${{ }}``, non-ASCII text and control characters; every accepted value reaches
  every TOML/YAML/JSON file intact, every refused one is refused with a message.

Renders here use a plain (non-git) copy of the working tree, so Copier needs no clone per run.
The fuzz renders only the files the free-text answers can reach (``free_text_template``): every
other file is either copied byte for byte or rendered from answers the fuzz does not vary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import subprocess
import sys
import tempfile
import tomllib
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from helpers import EXAMPLE_PYPROJECT, ROOT
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jinja2.sandbox import SandboxedEnvironment
from test_update import working_tree_files

COPIER_YML = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
QUESTIONS: dict[str, dict[str, Any]] = {
    k: v for k, v in COPIER_YML.items() if not k.startswith("_") and v.get("when") is not False
}


def plain_copy(dst: Path, keep: Callable[[str], bool] = lambda name: True) -> Path:
    """Copy the working tree's files (those ``keep`` accepts) into ``dst``, without git."""
    for name in working_tree_files(ROOT):
        if keep(name):
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dst / name)
    return dst


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plain_copy(tmp_path_factory.mktemp("template"))


# ---------------------------------------------------------------------------
# Bad values through --data
# ---------------------------------------------------------------------------

# (question, value, fragments the message must contain). The value itself is one of the
# fragments wherever it is printable; copier.yml's validators quote it ("…").
BAD_VALUES: list[tuple[str, str, list[str]]] = [
    ("project_name", "", ["project name is empty"]),
    ("project_name", "   ", ["project name is empty"]),
    ("project_name", " Leading space", ['" Leading space"', "starts or ends with spaces"]),
    ("project_name", "N" * 81, ['"' + "N" * 40 + "…", "81 characters", "at most 80"]),
    ("project_name", "Two\nlines", ['"Two\ufffdlines"', "line break or control character"]),
    ("project_name", "Tab\there", ['"Tab\ufffdhere"', "control character"]),
    ("project_name", "Next\x85line", ['"Next\ufffdline"', "control character"]),
    ("project_name", "Line\u2028separator", ['"Line\ufffdseparator"', "line break"]),
    (
        "project_name",
        "Invoice\u202etxt.exe",
        ['"Invoice\ufffdtxt.exe"', "invisible or bidirectional control character"],
    ),
    ("project_name", "Zero\u200bwidth", ['"Zero\ufffdwidth"', "invisible or bidirectional"]),
    ("project_slug", "My Service", ['"My Service"', "not a valid project slug", "lowercase ASCII"]),
    ("project_slug", "my_service", ['"my_service"', "single hyphens"]),
    ("project_slug", "-leading", ['"-leading"', "starting with a letter"]),
    ("project_slug", "trailing-", ['"trailing-"', "not a valid project slug"]),
    ("project_slug", "double--hyphen", ['"double--hyphen"', "single hyphens"]),
    ("project_slug", "9lives", ['"9lives"', "starting with a letter"]),
    ("project_slug", "café", ['"café"', "ASCII"]),
    ("project_slug", "s" * 65, ["65 characters", "at most 64"]),
    ("package_name", "my-service", ['"my-service"', "not a valid Python package name", "underscores"]),
    ("package_name", "my service", ['"my service"', "not a valid Python package name"]),
    ("package_name", "", ['""', "not a valid Python package name"]),
    ("package_name", "MyService", ['"MyService"', "lowercase"]),
    ("package_name", "1service", ['"1service"', "starting with a letter"]),
    ("package_name", "_private", ['"_private"', "starting with a letter"]),
    ("package_name", "café", ['"café"', "ASCII"]),
    ("package_name", "服务", ['"服务"', "ASCII"]),
    ("package_name", "class", ['"class"', "Python keyword"]),
    ("package_name", "match", ['"match"', "Python keyword"]),
    ("package_name", "json", ['"json"', "standard-library module"]),
    ("package_name", "asyncio", ['"asyncio"', "standard-library module"]),
    ("package_name", "p" * 33, ["33 characters", "at most 32"]),
    ("package_name", "fastapi", ['"fastapi"', "import name of a dependency"]),
    ("package_name", "yaml", ['"yaml"', "import name of a dependency"]),
    ("package_name", "pytest", ['"pytest"', "import name of a dependency"]),
    ("package_name", "tests", ['"tests"', "top-level folder of the project"]),
    ("package_name", "migrations", ['"migrations"', "top-level folder of the project"]),
    ("description", "d" * 301, ["301 characters", "at most 300"]),
    ("description", "x" * 10_000, ["10000 characters", "at most 300"]),
    ("description", "First line.\nSecond line.", ["description spans several lines", "one line"]),
    ("description", "Carriage\rreturn", ["description spans several lines"]),
    ("description", "Escape \x1b[31mred", ["control character"]),
    ("description", "C1 \x9b control", ["control character"]),
    ("description", "\ufeffByte order mark", ["invisible or bidirectional control character"]),
    ("description", "Right\u200fto left mark", ["invisible or bidirectional"]),
    ("author_name", "", ["author name is empty"]),
    ("author_name", "A" * 101, ["101 characters", "at most 100"]),
    ("author_name", "Ann\nBob", ['"Ann\ufffdBob"', "line break"]),
    ("author_name", "Soft\u00adhyphen", ['"Soft\ufffdhyphen"', "invisible or bidirectional"]),
    ("author_name", "Isolate\u2066d", ['"Isolate\ufffdd"', "invisible or bidirectional"]),
    ("author_email", "nope", ['"nope"', "does not look like an email address"]),
    ("author_email", "a@b", ['"a@b"', "name@domain.tld"]),
    ("author_email", "two@@example.com", ['"two@@example.com"', "email address"]),
    ("author_email", "space in@example.com", ['"space in@example.com"', "email address"]),
    ("author_email", "user@example.c", ['"user@example.c"', "email address"]),
    ("author_email", "zoë@example.com", ['"zoë@example.com"', "email address"]),
    ("author_email", "u@" + "e" * 250 + ".com", ["email address"]),
    ("coverage_threshold", "101", ['"101"', "whole number from 0 to 100"]),
    ("coverage_threshold", "-1", ['"-1"', "whole number from 0 to 100"]),
    ("coverage_threshold", "ninety", ['"ninety"', "whole number from 0 to 100"]),
    ("coverage_threshold", "90.5", ['"90.5"', "whole number from 0 to 100"]),
    # Choice errors are Copier's own messages ("Invalid choice"), or a choice's own validator.
    ("license", "GPL", ["'GPL'", "Invalid choice", "license"]),
    ("python_version", "3.9", ["'3.9'", "Invalid choice", "python_version"]),
    ("ci_provider", "jenkins", ["'jenkins'", "Invalid choice", "ci_provider"]),
    ("deploy_target", "swarm", ["'swarm'", "Invalid choice", "deploy_target"]),
    ("deploy_target", "kubernetes", ["Invalid choice", "53 characters", "at most 52 with Kubernetes"]),
    ("update_bot", "dependabot", ['"dependabot" needs GitHub', "ci_provider is gitlab"]),
    ("update_bot", "both", ['"both" needs GitHub', "ci_provider is gitlab"]),
    ("update_bot", "greenkeeper", ["'greenkeeper'", "Invalid choice", "update_bot"]),
    ("app_source", "legacy", ["'legacy'", "Invalid choice", "app_source"]),
    ("existing_app", "prediction_service.main", ['"prediction_service.main"', "not an ASGI import path"]),
    ("existing_app", "my-app.main:app", ['"my-app.main:app"', "use package.module:app"]),
    (
        "existing_app",
        "tests.app:app",
        ['"tests.app:app" starts with "tests"', "a folder or module the template renders"],
    ),
    ("existing_app_folder", "lib", ["'lib'", "Invalid choice", "existing_app_folder"]),
]
# Answers given along with a bad value, for rules that span two questions.
CONTEXT: dict[tuple[str, str], dict[str, str]] = {
    ("deploy_target", "kubernetes"): {"project_slug": "k" * 53},
    ("update_bot", "dependabot"): {"ci_provider": "gitlab"},
    ("update_bot", "both"): {"ci_provider": "gitlab"},
    **{
        ("existing_app", value): {"app_source": "existing"}
        for value in ("prediction_service.main", "my-app.main:app", "tests.app:app")
    },
    ("existing_app_folder", "lib"): {"app_source": "existing"},
}


def cli_cases(cases: list[tuple[str, str, list[str]]]) -> list[tuple[str, str, list[str]]]:
    """The cases the CLI runs too: each question's first, and every value that is not printable ASCII.

    Every case runs through the API, which validates exactly as the CLI does; what the CLI adds
    is the way a value reaches it (argv, the terminal's encoding) and the way the message is
    printed, which only differ for control, non-ASCII and invisible characters. A CLI run costs
    Copier's start-up, about two seconds, so the plain ASCII repeats run through the API only.
    """
    seen: set[str] = set()
    chosen = []
    for case in cases:
        question, value, _ = case
        if question not in seen or not (value.isascii() and value.isprintable()):
            chosen.append(case)
            seen.add(question)
    return chosen


CLI_CASES = cli_cases(BAD_VALUES)


def bad_id(case: tuple[str, str, list[str]]) -> str:
    question, value, _ = case
    shown = value if len(value) <= 20 else f"{value[:12]}…{len(value)}"
    return f"{question}={shown!r}"


def run_bad_cli(template: Path, work: Path, case: tuple[str, str, list[str]]) -> tuple[int, str, bool]:
    """``copier copy --defaults --trust --data Q=V``; (exit code, last line of output, files written)."""
    question, value, _ = case
    dst = work / f"cli-{BAD_VALUES.index(case)}"
    context = [f"--data={name}={given}" for name, given in CONTEXT.get((question, value), {}).items()]
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--trust", *context, f"--data={question}={value}"]
    result = subprocess.run(
        [*command, template, dst],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_COLOR="1", PYTHONIOENCODING="utf-8"),
        timeout=600,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    return result.returncode, output.splitlines()[-1] if output else "", dst.exists() and any(dst.iterdir())


def run_bad_api(template: Path, work: Path, case: tuple[str, str, list[str]]) -> tuple[int, str, bool]:
    """The same through Copier's Python API (in process: fast); the message as the CLI shows it."""
    question, value, _ = case
    dst = work / f"api-{BAD_VALUES.index(case)}"
    try:
        render_quietly(template, dst, **CONTEXT.get((question, value), {}), **{question: value})
    except Exception as error:
        return 1, f"{type(error).__name__}: {error}", dst.exists() and any(dst.iterdir())
    return 0, "", True


@pytest.fixture(scope="module")
def cli_results(template_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, bool]]:
    """Every bad value through the CLI, in parallel (each run is mostly Copier's import time)."""
    work = tmp_path_factory.mktemp("bad-cli")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda case: run_bad_cli(template_dir, work, case), CLI_CASES))
    return {bad_id(case): result for case, result in zip(CLI_CASES, results, strict=True)}


def test_at_least_thirty_bad_values_across_the_questions() -> None:
    assert len(BAD_VALUES) >= 30
    validated = {name for name, spec in QUESTIONS.items() if "validator" in spec}
    assert validated <= {question for question, _, _ in BAD_VALUES}, "a validated question has no bad-value case"


@pytest.mark.parametrize(
    ("case", "via"),
    [pytest.param(case, "api", id=f"api-{bad_id(case)}") for case in BAD_VALUES]
    + [pytest.param(case, "cli", id=f"cli-{bad_id(case)}", marks=pytest.mark.slow) for case in CLI_CASES],
)
def test_bad_value_is_refused_with_a_message_and_nothing_written(
    case: tuple[str, str, list[str]], via: str, request: pytest.FixtureRequest, template_dir: Path, tmp_path: Path
) -> None:
    question, value, fragments = case
    if via == "cli":
        code, message, written = request.getfixturevalue("cli_results")[bad_id(case)]
    else:
        code, message, written = run_bad_api(template_dir, tmp_path, case)
    assert code != 0, f"{question}={value!r} was accepted"
    for fragment in fragments:
        assert fragment in message, f"the message lacks {fragment!r}: {message!r}"
    if "Invalid choice" not in message:
        assert f"question '{question}'" in message, message
    assert not written, "a refused copy wrote files"


# ---------------------------------------------------------------------------
# The derived defaults hold for any valid name
# ---------------------------------------------------------------------------

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def render_quietly(template: Path, dst: Path, **data: Any) -> Path:
    """Copier's Python API: the answers in ``data``, defaults for the rest, no hook."""
    from copier import run_copy  # imported late: it takes about a second

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(str(template), str(dst), data=data, defaults=True, unsafe=True, skip_tasks=True, quiet=True)
    return dst


def answers_of(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


FREE_TEXT = r"\b(project_name|project_slug|description|author_name|author_email|_copier_answers|_copier_conf)\b"
# A Jinja expression or statement that mentions one of them, or pulls in another template.
USES_FREE_TEXT = re.compile(r"(\{\{|\{%)(?:(?!\}\}|%\}).)*" + FREE_TEXT, re.DOTALL)
INCLUDES = re.compile(r"\{%-?\s*(include|import|from)\b")


def reaches_free_text(name: str) -> bool:
    """True for copier.yml, includes/ and every template file whose output can hold free text."""
    if name == "copier.yml" or name.startswith("includes/"):
        return True
    if not name.endswith(".jinja"):
        return False
    text = (ROOT / name).read_text(encoding="utf-8")
    return bool(re.search(FREE_TEXT, name) or USES_FREE_TEXT.search(text) or INCLUDES.search(text))


@pytest.fixture(scope="module")
def free_text_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template reduced to the files free-text answers reach (about a tenth: fast renders)."""
    template = plain_copy(tmp_path_factory.mktemp("free-text-template"), reaches_free_text)
    assert (template / "template" / EXAMPLE_PYPROJECT).is_file()
    return template


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My Service", "my-service"),
        ('Acme\'s "API" 2.0', "acme-s-api-2-0"),
        ("  ".join(["Spaced", "Out"]), "spaced-out"),
        ("2048 Game", "service-2048-game"),
        ("推荐服务", "service"),
        ("Café Ünïcode", "caf-n-code"),
        ("__init__", "init"),
        # A long slug gives a package name cut to the 32 characters package_name allows.
        ("L" * 80, "l" * 64),
        ("a" + "-" * 62 + "b" * 10, "a-" + "b" * 10),
    ],
)
def test_any_valid_project_name_derives_a_valid_slug_and_package(
    free_text_template: Path, tmp_path: Path, name: str, slug: str
) -> None:
    answers = answers_of(render_quietly(free_text_template, tmp_path / "p", project_name=name))
    assert answers["project_slug"] == slug
    assert SLUG.fullmatch(answers["project_slug"]) and len(answers["project_slug"]) <= 64
    assert answers["package_name"] == slug.replace("-", "_")[:32].strip("_")


# ---------------------------------------------------------------------------
# Interactive prompts, answered like a person does
# ---------------------------------------------------------------------------

CLEAR_LINE = "\x15"  # Ctrl-U: the prompt is pre-filled with the default
DOWN = "\x1b[B"
UP = "\x1b[A"


def prompt_of(name: str) -> str:
    """The start of the question's prompt (its help, before any Jinja), as a regex."""
    help_text = str(QUESTIONS[name].get("help") or name).split("{{")[0]
    return re.escape(" ".join(help_text.split())[:40])


class Session:
    """A `copier copy` in a terminal, answered prompt by prompt like a person does.

    ``next_question`` waits for the next prompt (recognised by its help text); ``type``,
    ``accept_default`` and ``choose`` answer it.
    """

    def __init__(self, template: Path, dst: Path) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "copier", "copy", "--trust", "--skip-tasks", str(template), str(dst)],
            # No cursor-position requests: pexpect's terminal never answers them, and prompt_toolkit
            # would wait for each answer.
            env=dict(os.environ, NO_COLOR="1", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1"),
            encoding="utf-8",
            timeout=120,
            dimensions=(60, 400),
        )
        self.asked: list[str] = []
        prompts = {name: prompt_of(name) for name in QUESTIONS}
        assert len(set(prompts.values())) == len(prompts), "two questions start their help alike"
        self.names = list(prompts)
        self.patterns = [*prompts.values(), pexpect.EOF]

    def next_question(self) -> str | None:
        """Wait for the prompt of a later question; return it (None when Copier is done).

        Only questions after the last one asked count: the terminal redraws an answered
        prompt (and a prompt with an error) with the same help text.
        """
        start = self.names.index(self.asked[-1]) + 1 if self.asked else 0
        later = self.names[start:]
        index = self.child.expect([*(self.patterns[start:-1]), pexpect.EOF])
        if index == len(later):
            return None
        self.asked.append(later[index])
        return later[index]

    def expect_question(self, name: str) -> None:
        asked = self.next_question()
        assert asked == name, f"expected the question {name!r}, got {asked!r}; asked so far: {self.asked}"

    def type(self, text: str) -> None:
        self.child.send(CLEAR_LINE + text + "\r")

    def accept_default(self) -> None:
        self.child.send("\r")

    def choose(self, name: str, value: Any) -> None:
        """Answer a bool (y/n) or a choice (arrow keys from the default) question."""
        if QUESTIONS[name].get("type") == "bool":
            self.child.send("y" if value else "n")
            return
        values = choice_values(name)
        steps = (values.index(value) - values.index(QUESTIONS[name]["default"])) % len(values)
        self.child.send(DOWN * steps + "\r")

    def finish(self) -> None:
        """Accept the default of every remaining question and wait for Copier to exit 0."""
        while self.next_question() is not None:
            self.accept_default()
        self.child.close()
        assert self.child.exitstatus == 0, self.child.before


def choice_values(name: str) -> list[Any]:
    """The values a bool or choice question accepts (empty for free text)."""
    spec = QUESTIONS[name]
    if spec.get("type") == "bool":
        return [True, False]
    choices = spec.get("choices") or []
    values = list(choices.values()) if isinstance(choices, dict) else list(choices)
    # A choice with a rule of its own is a mapping: {value: ..., validator: ...}.
    return [value["value"] if isinstance(value, dict) else value for value in values]


def test_interactive_defaults(template_dir: Path, tmp_path: Path) -> None:
    session = Session(template_dir, tmp_path / "p")
    session.finish()
    asked_when = [name for name in QUESTIONS if when_holds(name, default_answers())]
    assert session.asked == asked_when
    answers = answers_of(tmp_path / "p")
    assert answers["project_slug"] == "my-service"
    assert answers["package_name"] == "my_service"
    for name, spec in QUESTIONS.items():
        if name in answers and "{{" not in str(spec.get("default")):
            assert answers[name] == spec.get("default"), name


def test_interactive_bad_answer_then_good_answer(template_dir: Path, tmp_path: Path) -> None:
    session = Session(template_dir, tmp_path / "p")
    session.expect_question("project_name")
    session.type("Payments API")
    session.expect_question("project_slug")
    session.type("Payments API")
    session.child.expect(r'"Payments API" is not a valid project slug')
    session.type("payments-api")
    session.expect_question("app_source")
    session.accept_default()
    session.expect_question("package_name")
    # The default derives from the corrected slug.
    session.child.expect("payments_api")
    session.type("json")
    session.child.expect("standard-library module name")
    session.type("payments")
    session.expect_question("description")
    session.accept_default()
    session.expect_question("author_name")
    session.accept_default()
    session.expect_question("author_email")
    session.type("not-an-email")
    session.child.expect("does not look like an email address")
    session.type("team@payments.example.com")
    session.finish()
    answers = answers_of(tmp_path / "p")
    assert (answers["project_slug"], answers["package_name"]) == ("payments-api", "payments")
    assert answers["author_email"] == "team@payments.example.com"
    assert (tmp_path / "p" / "src" / "payments" / "main.py").is_file()


def test_interactive_gitlab_offers_no_dependabot(template_dir: Path, tmp_path: Path) -> None:
    """The rule --data enforces holds in the prompt: with GitLab CI, Dependabot cannot be chosen."""
    session = Session(template_dir, tmp_path / "p")
    while (asked := session.next_question()) != "ci_provider":
        assert asked is not None, "ci_provider was never asked"
        session.accept_default()
    session.choose("ci_provider", "gitlab")
    session.expect_question("update_bot")
    # Shown, but disabled with the reason; the cursor starts on Renovate, the default.
    session.child.expect('"dependabot" needs GitHub, but ci_provider is gitlab')
    # A person moves up to Dependabot (just above Renovate) and presses Enter: the cursor skips
    # the disabled choice and wraps to the last one, None.
    session.child.send(UP + "\r")
    session.finish()
    answers = answers_of(tmp_path / "p")
    assert (answers["ci_provider"], answers["update_bot"]) == ("gitlab", "none")
    assert not (tmp_path / "p" / ".github").exists()


def test_no_rule_is_left_to_a_validator_the_prompt_skips() -> None:
    """Copier runs a question's validator in the prompt only for typed answers.

    A choice or yes/no question's own ``validator`` holds for --data, --data-file and
    --defaults but never in the prompt, so a rule on a choice lives on that choice
    (``choices: {Label: {value: ..., validator: ...}}``), which Copier shows disabled.
    """
    skipped = [
        name
        for name, spec in QUESTIONS.items()
        if "validator" in spec and (spec.get("choices") or spec.get("type") == "bool")
    ]
    assert not skipped, f"questions whose validator the prompt never runs: {skipped}"


def default_answers() -> dict[str, Any]:
    """Every question's default, derived ones rendered from the earlier answers."""
    env = jinja_env()
    answers: dict[str, Any] = {}
    for name, spec in QUESTIONS.items():
        default = spec.get("default")
        answers[name] = env.from_string(default).render(answers) if isinstance(default, str) else default
    return answers


def jinja_env() -> SandboxedEnvironment:
    return SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])


def when_holds(name: str, answers: dict[str, Any]) -> bool:
    """Evaluate a question's ``when`` with ``answers`` (Copier asks only when it holds)."""
    when = QUESTIONS[name].get("when", True)
    if not isinstance(when, str):
        return bool(when)
    rendered = jinja_env().from_string(when).render(answers).strip()
    return yaml.safe_load(rendered) not in (False, None, "", 0, "false", "False")


# ---------------------------------------------------------------------------
# Escaping fuzz
# ---------------------------------------------------------------------------

# What copier.yml's validators refuse in single-line free text (kept in step with copier.yml;
# a difference shows up as a value accepted or refused against this oracle's expectation).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
# Invisible and bidirectional formatting characters: refused too, they hide or reorder text.
INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# Pieces of text that break naive quoting in TOML, YAML, JSON, Python, Jinja, GitHub Actions,
# Dockerfiles or shells. None of them is refused by the validators.
TRICKY = (
    '"',
    "'",
    "\\",
    "\\\\",
    '\\"',
    "#",
    " # ",
    "{{ x }}",
    "{{",
    "}}",
    "{% raw %}",
    "{% endraw %}",
    "{#",
    "${{ secrets.X }}",
    "${HOME}",
    "$",
    ":",
    ": ",
    "- ",
    "---",
    "...",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "!tag",
    "%",
    "@",
    "`",
    "|",
    ">",
    "é",
    "Ж",
    "日本語",
    "🚀",
    "\u00a0",
    "null",
    "true",
    "1e3",
    "0x1F",
    "~",
    "=",
    "[[x]]",
    '"""',
    "'''",
    "\\u0041",
    "\\n",
    "\\x00",
    "<!-- -->",
    "';--",
)
# What the validators refuse inside single-line text: line breaks and other control characters.
CONTROLS = ("\n", "\r", "\r\n", "\t", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\u2029", "\ufffe")
INVISIBLES = ("\u00ad", "\u200b", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\ufeff")
printable = st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029\ufffe\uffff" + "".join(INVISIBLES)
)
safe_text = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(printable, max_size=4)), max_size=10).map("".join)
# A safe text with a control character or arbitrary characters (any code point) somewhere inside.
unsafe_text = st.tuples(
    safe_text, st.one_of(st.sampled_from(CONTROLS + INVISIBLES), st.text(min_size=1, max_size=3)), safe_text
).map("".join)
# Names: shorter, never empty, no spaces at the ends (the validators' other rules).
safe_name = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(printable, max_size=4)), max_size=6).map(
    lambda parts: ("Svc " + "".join(parts)).strip()
)


@st.composite
def answer_sets(draw: st.DrawFn) -> dict[str, str]:
    """Free-text answers; about one set in four has one field a validator may refuse."""
    answers = {"project_name": draw(safe_name), "description": draw(safe_text), "author_name": draw(safe_name)}
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        field = draw(st.sampled_from(sorted(answers)))
        answers[field] = draw(st.one_of(unsafe_text, safe_text, st.text(max_size=12)))
    # The options that render more files with the answers in them: Kubernetes manifests, GitLab CI.
    answers["deploy_target"] = draw(st.sampled_from(["compose", "kubernetes"]))
    answers["ci_provider"] = draw(st.sampled_from(["github", "gitlab"]))
    return answers


def expected_slug(project_name: str) -> str:
    """project_slug's default, as copier.yml derives it from the name."""
    slug = re.sub(r"[^a-z0-9]+", "-", project_name.lower()).strip("-")
    if not (slug and slug[0] in string.ascii_lowercase):
        slug = "service-" + slug
    return slug[:64].strip("-")


def refused_text(text: str) -> bool:
    """True when single-line free text holds a character the validators refuse."""
    return bool(CONTROL.search(text) or INVISIBLE.search(text))


def refusal(answers: dict[str, str]) -> str | None:
    """The first question (in asking order) whose validator refuses its value, or None."""
    name, description, author = answers["project_name"], answers["description"], answers["author_name"]
    if not name.strip() or name != name.strip() or len(name) > 80 or refused_text(name):
        return "project_name"
    if len(description) > 300 or refused_text(description):
        return "description"
    if not author.strip() or len(author) > 100 or refused_text(author):
        return "author_name"
    if answers["deploy_target"] == "kubernetes" and len(expected_slug(name)) > 52:
        return "deploy_target"
    return None


def docker_unquote(line: str, key: str) -> str:
    """Read ``key="…"`` from a Dockerfile LABEL line as Docker does; fail on `$` expansion."""
    start = line.index(f'{key}="') + len(key) + 2
    value, i = [], start
    while line[i] != '"':
        char = line[i]
        if char == "\\" and line[i + 1] in '"\\$':
            value.append(line[i + 1])
            i += 2
            continue
        assert char != "$", f"unescaped $ in {line!r}: Docker would expand it"
        value.append(char)
        i += 1
    assert line[i + 1 :].strip() in {"", "\\"}, f"text after the closing quote: {line!r}"
    return "".join(value)


def parsed_files(project: Path) -> Iterator[tuple[Path, Any]]:
    """Parse every structured file of the project; compile every Python file."""
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            yield path, tomllib.loads(text)
        elif path.suffix in {".yaml", ".yml"}:
            yield path, list(yaml.safe_load_all(text))
        elif path.suffix == ".json":
            yield path, json.loads(text)
        elif path.suffix == ".py":
            yield path, compile(text, str(path), "exec", dont_inherit=True)


def check_escaping(template: Path, answers: dict[str, str]) -> None:
    """Render ``answers``; refused exactly when a validator should, else every value round-trips."""
    project_name, description, author_name = answers["project_name"], answers["description"], answers["author_name"]
    refused = refusal(answers)
    event(f"refused: {refused}" if refused else f"accepted ({answers['deploy_target']}, {answers['ci_provider']})")
    with tempfile.TemporaryDirectory(prefix="fuzz-") as work:
        dst = Path(work) / "p"
        if refused:
            with pytest.raises(ValueError, match=f"Validation error for question '{refused}'"):
                render_quietly(template, dst, package_name="fuzz_service", **answers)
            assert not dst.exists()
            return
        render_quietly(template, dst, package_name="fuzz_service", **answers)
        parsed = dict(parsed_files(dst))
        pyproject = parsed[dst / "pyproject.toml"]["project"]
        assert pyproject["description"] == description
        assert pyproject["authors"][0]["name"] == author_name
        environments = sorted((dst / "config/environments").glob("*.yaml"))
        assert len(environments) == 4
        for path in environments:
            assert parsed[path][0]["app"]["name"] == project_name, path.name
        recorded = parsed[dst / ".copier-answers.yml"][0]
        assert {key: recorded[key] for key in answers} == answers
        assert recorded["project_slug"] == expected_slug(project_name)
        assert SLUG.fullmatch(recorded["project_slug"]), recorded["project_slug"]
        if answers["deploy_target"] == "kubernetes":
            assert any(path.parts[-3:-1] == ("kubernetes", "base") for path in parsed), "no manifest rendered"
        labels = (dst / "Dockerfile").read_text(encoding="utf-8").splitlines()
        title = next(line for line in labels if "org.opencontainers.image.title=" in line)
        assert docker_unquote(title, "org.opencontainers.image.title") == project_name
        summary = next(line for line in labels if "org.opencontainers.image.description=" in line)
        assert docker_unquote(summary, "org.opencontainers.image.description") == description


FUZZ = {
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    "deadline": None,
    "database": None,
}


@settings(max_examples=10, **FUZZ)
@given(answers=answer_sets())
def test_escaping_quick(free_text_template: Path, answers: dict[str, str]) -> None:
    check_escaping(free_text_template, answers)


# 100 examples take about a minute of one CI worker (a render costs over half a second, most of
# it Jinja compiling the template; CI's 15 minutes are shared by every tier);
# FUZZ_EXAMPLES=1000 runs a longer search by hand.
@pytest.mark.slow
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")), **FUZZ)
@given(answers=answer_sets())
def test_escaping_fuzz(free_text_template: Path, answers: dict[str, str]) -> None:
    check_escaping(free_text_template, answers)
