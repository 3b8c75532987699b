"""Update tier (slow): `copier update` from an older release keeps every user edit and every key.

The fixtures come from this repository's own history. A temporary clone gets two release tags:

* the *old* release: the newest real release tag (``vX.Y.Z``) when one exists, else the newest
  commit (``HEAD``), tagged ``v1`` — what a team generated its project from;
* the *new* release: the working tree (uncommitted changes included) plus four small, realistic
  changes made here (``make_v2_changes``), committed on top and tagged ``v2`` — what it updates to.

The four changes make the update a real one whatever the history holds: a comment and a new key
in every ``config/environments/*.yaml``, a new dev dependency in ``pyproject.toml``, a new key
in ``security/keys.json`` (so ``keys ensure`` must append it to ``.env`` during the update) and a
new question with a default (an old answers file lacks it) that renders a new file.

The user edits (``make_user_edits``) are the ones teams make on day two: a dependency, a source file,
a README note, a config value and a line in ``.env``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import EXAMPLE_PACKAGE, EXAMPLE_PYPROJECT, ROOT, project_env, project_files, run
from packaging.version import InvalidVersion, Version

pytestmark = pytest.mark.slow

GIT_IDENTITY = ["-c", "user.name=Update Test", "-c", "user.email=update-test@example.com", "-c", "commit.gpgsign=false"]

# --- the new release's changes -------------------------------------------------------------

NEW_QUESTION = "owner_team"
NEW_KEY = "WEBHOOK_SIGNING_KEY"
NEW_DEV_DEPENDENCY = '    "pytest-timeout>=2.3",\n'
NEW_CONFIG_LINES = "  # Bound of the in-process cache, in entries (new in v2).\n  max_entries: 5000\n"
NEW_QUESTION_YAML = f"""
# New in v2 (tests/test_update.py): a question that answers files of older releases lack.
{NEW_QUESTION}:
  type: str
  help: Team that owns the service (docs/OWNERS.md).
  default: "Team of {{{{ author_name }}}}"
"""
NEW_FILE = "docs/OWNERS.md"
NEW_FILE_TEMPLATE = f"# Owners\n\n{{{{ project_name }}}} is maintained by {{{{ {NEW_QUESTION} }}}}.\n"


def insert_after_line(path: Path, anchor: str, text: str) -> None:
    """Insert ``text`` after the one line of ``path`` equal to ``anchor`` (without its newline)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if line.rstrip("\n") == anchor]
    assert len(found) == 1, f"{path}: expected one line {anchor!r}, found {len(found)}; update the test's anchor"
    lines.insert(found[0] + 1, text)
    path.write_text("".join(lines), encoding="utf-8")


def make_v2_changes(tree: Path) -> None:
    """Apply the new release's changes to a checkout of the template repository."""
    with (tree / "copier.yml").open("a", encoding="utf-8") as handle:
        handle.write(NEW_QUESTION_YAML)
    (tree / "template" / f"{NEW_FILE}.jinja").parent.mkdir(parents=True, exist_ok=True)
    (tree / "template" / f"{NEW_FILE}.jinja").write_text(NEW_FILE_TEMPLATE, encoding="utf-8")
    template = tree / "template"
    insert_after_line(template / EXAMPLE_PYPROJECT, "dev = [", NEW_DEV_DEPENDENCY)
    # A new setting lands in every environment (the readiness checks want them to agree).
    for environment in sorted((template / "config/environments").glob("*.yaml.jinja")):
        insert_after_line(environment, "cache:", NEW_CONFIG_LINES)
    # A new key, as a release adds one: listed, read by the settings, in both env templates.
    insert_after_line(
        template / "security/keys.json.jinja",
        '  "keys": [',
        f'    {{"name": "{NEW_KEY}", "purpose": "signs outgoing webhooks", "encoding": "urlsafe", "bytes": 64}},\n',
    )
    insert_after_line(
        template / EXAMPLE_PACKAGE / "core/settings.py.jinja",
        "    # Keys: required, never defaulted; security/keys.json lists them (prodready makes them).",
        f"    {NEW_KEY.lower()}: SecretStr\n",
    )
    insert_after_line(template / ".env.example.jinja", "APP_ENV=development", f"{NEW_KEY}=<generated-by-keys-ensure>\n")
    insert_after_line(
        template / ".env.production.template.jinja",
        "DB_ENCRYPTION_KEY=${DB_ENCRYPTION_KEY}",
        f"{NEW_KEY}=${{{NEW_KEY}}}\n",
    )


# --- the template repository with its releases ---------------------------------------------


def git(*args: str, cwd: Path) -> str:
    """Run git with a fixed identity (commits must work on a machine without one)."""
    return run(["git", *GIT_IDENTITY, *args], cwd=cwd).stdout.strip()


def release_tags(repo: Path) -> list[str]:
    """The repository's PEP 440 release tags (``vX.Y.Z``), oldest first."""
    versions = []
    for tag in git("tag", "--list", "v*", cwd=repo).splitlines():
        try:
            version = Version(tag[1:])
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            versions.append((version, tag))
    return [tag for _, tag in sorted(versions)]


def working_tree_files(repo: Path) -> list[str]:
    """Files of the working tree that git would commit: tracked and untracked, not ignored."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo).stdout
    return sorted({name for name in listed.split("\0") if name and (repo / name).is_file()})


def commit_working_tree(clone: Path, message: str, change: Callable[[Path], None] | None = None) -> None:
    """Make this repository's working tree (uncommitted changes included) the clone's next commit.

    ``change`` edits the tree before the commit. Copier renders a clean, committed template this
    way, so ``_commit`` in an answers file names a commit that later updates can find again.
    """
    for name in git("ls-files", "-z", cwd=clone).split("\0"):
        if name:
            (clone / name).unlink()
    for name in working_tree_files(ROOT):
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
        target.chmod((ROOT / name).stat().st_mode)
    if change is not None:
        change(clone)
    git("add", "--all", cwd=clone)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=clone)


@dataclass(frozen=True)
class Releases:
    """A clone of the template with an old release, a new one and the oldest supported one."""

    path: Path
    old: str
    new: str
    oldest: str


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    clone = tmp_path_factory.mktemp("template") / "prodready"
    run(["git", "clone", "--quiet", str(ROOT), str(clone)], cwd=clone.parent)
    real = release_tags(clone)
    for tag in git("tag", "--list", cwd=clone).splitlines():
        if tag not in real[:1] + real[-1:]:
            git("tag", "--delete", tag, cwd=clone)
    if real:
        old = real[-1]
        new = f"v{Version(old[1:]).major + 1}.0.0"
    else:
        old, new = "v1", "v2"
        git("tag", old, "HEAD", cwd=clone)
    # The new release: exactly this repository's working tree, plus V2 changes.
    commit_working_tree(clone, "test release: working tree + v2 changes", make_v2_changes)
    git("tag", new, cwd=clone)
    return Releases(path=clone, old=old, new=new, oldest=real[0] if real else old)


# --- a project's life ----------------------------------------------------------------------


def copier(*args: str, cwd: Path) -> str:
    """Run the copier CLI of the tool environment; return its combined output."""
    result = run([sys.executable, "-m", "copier", *args], cwd=cwd, env=dict(os.environ, NO_COLOR="1"))
    return result.stdout + result.stderr


def copy_at(releases: Releases, tag: str, dst: Path, answers: dict[str, Any]) -> Path:
    """`copier copy` at ``tag`` with ``answers``, then commit the result as the user would."""
    data = [f"--data={name}={str(v).lower() if isinstance(v, bool) else v}" for name, v in answers.items()]
    copier("copy", "--defaults", "--trust", f"--vcs-ref={tag}", *data, str(releases.path), str(dst), cwd=dst.parent)
    commit_all(dst, f"generated from prodready {tag}")
    return dst


def commit_all(project: Path, message: str) -> None:
    if not (project / ".git").exists():
        git("init", "--quiet", "--initial-branch=main", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=project)


def update_to(releases: Releases, tag: str, project: Path) -> str:
    return copier("update", "--defaults", "--conflict=inline", "--trust", f"--vcs-ref={tag}", cwd=project)


def answers_of(project: Path) -> dict[str, Any]:
    data = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def porcelain(project: Path) -> str:
    """``git status --porcelain`` (untracked files listed one by one)."""
    return run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project).stdout.rstrip("\n")


def env_names(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", text, re.MULTILINE)]


def leftovers(project: Path) -> list[str]:
    """Rejected hunks, merge leftovers and conflict markers anywhere in the project."""
    found = []
    for path in project_files(project):
        rel = path.relative_to(project).as_posix()
        if path.suffix in {".rej", ".orig"}:
            found.append(f"{rel}: update leftover")
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if line.startswith((b"<<<<<<< ", b">>>>>>> ")) or line.rstrip() in {b"<<<<<<<", b">>>>>>>"}:
                found.append(f"{rel}:{number}: conflict marker")
    unmerged = git("ls-files", "--unmerged", cwd=project)
    if unmerged:
        found.append(f"unmerged index entries:\n{unmerged}")
    return found


# --- user edits ----------------------------------------------------------------------------

USER_DEPENDENCY = '    "structlog>=24.4",\n'
USER_README_NOTE = "\n> Team note: the on-call rota and runbooks live in the wiki (#payments-oncall).\n"
USER_SOURCE = '''"""Billing rules of this service (written by the team, not by the template)."""


def invoice_total(cents: list[int]) -> int:
    """Return the invoice total in cents."""
    return sum(cents)
'''
USER_ENV_LINE = "PAYMENTS_API_URL=https://payments.internal.example/v1\n"
DELETED_BY_USER = "LICENSE"


def make_user_edits(project: Path, package: str) -> dict[str, str]:
    """Edit the project like a team does after generation; return path -> text that must survive."""
    insert_after_line(project / "pyproject.toml", "dependencies = [", USER_DEPENDENCY)
    source = project / "src" / package / "services" / "billing.py"
    source.write_text(USER_SOURCE, encoding="utf-8")
    title = (project / "README.md").read_text(encoding="utf-8").splitlines()[0]
    insert_after_line(project / "README.md", title, USER_README_NOTE)
    config = project / "config/environments/development.yaml"
    text = config.read_text(encoding="utf-8")
    assert text.count("\n  log_level: DEBUG\n") == 1, "development.yaml changed shape: update the test's edit"
    config.write_text(text.replace("\n  log_level: DEBUG\n", "\n  log_level: INFO\n"), encoding="utf-8")
    env = project / ".env"
    env.write_bytes(env.read_bytes() + USER_ENV_LINE.encode())
    # An internal service drops the license file: an update must not bring it back.
    (project / DELETED_BY_USER).unlink()
    return {
        "pyproject.toml": "dependencies = [\n" + USER_DEPENDENCY,
        f"src/{package}/services/billing.py": USER_SOURCE,
        "README.md": USER_README_NOTE,
        "config/environments/development.yaml": "\n  log_level: INFO\n",
    }


# --- one scenario per answer combination ---------------------------------------------------

COMBOS: list[dict[str, Any]] = [
    {},
    {
        "use_postgres": False,
        "use_redis": False,
        # Free text that must come back unchanged from the answers file on every update.
        "description": 'Says "hi" \\ #1 {{ not_jinja }} ${{ secrets.TOKEN }} — café 日本',
        "author_name": "Zoë O'Brien",
    },
]


@dataclass
class Scenario:
    """Everything one copy → edit → update → update again run observed."""

    project: Path
    package: str
    edits: dict[str, str]
    answers_before: dict[str, Any]
    answers_after: dict[str, Any]
    env_before: bytes
    env_after: bytes
    output: str
    second: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module", params=COMBOS, ids=["defaults", "nopg-noredis-hostile-text"])
def scenario(request: pytest.FixtureRequest, releases: Releases, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    project = copy_at(releases, releases.old, tmp_path_factory.mktemp("update") / "service", request.param)
    answers_before = answers_of(project)
    package = answers_before["package_name"]
    edits = make_user_edits(project, package)
    commit_all(project, "day two: team edits")
    env_before = (project / ".env").read_bytes()

    output = update_to(releases, releases.new, project)
    scenario = Scenario(
        project=project,
        package=package,
        edits=edits,
        answers_before=answers_before,
        answers_after=answers_of(project),
        env_before=env_before,
        env_after=(project / ".env").read_bytes(),
        output=output,
        second={"leftovers": leftovers(project)},
    )
    commit_all(project, f"update to prodready {releases.new}")
    scenario.second["output"] = update_to(releases, releases.new, project)
    scenario.second["status"] = porcelain(project)
    scenario.second["env"] = (project / ".env").read_bytes()
    return scenario


def test_every_user_edit_survives_byte_for_byte(scenario: Scenario) -> None:
    for rel, text in scenario.edits.items():
        content = (scenario.project / rel).read_text(encoding="utf-8")
        assert text in content, f"{rel} lost the user's edit {text!r} in the update:\n{content}"
    billing = scenario.project / f"src/{scenario.package}/services/billing.py"
    assert billing.read_text(encoding="utf-8") == USER_SOURCE


def test_a_template_file_the_user_deleted_stays_deleted(scenario: Scenario) -> None:
    assert not (scenario.project / DELETED_BY_USER).exists()


def test_the_new_release_arrives(scenario: Scenario, releases: Releases) -> None:
    """The update did change the project: each of the new release's changes is there."""
    project = scenario.project
    assert NEW_DEV_DEPENDENCY in (project / "pyproject.toml").read_text(encoding="utf-8")
    assert NEW_CONFIG_LINES in (project / "config/environments/development.yaml").read_text(encoding="utf-8")
    key_list = (project / "security/keys.json").read_text(encoding="utf-8")
    assert f'"name": "{NEW_KEY}"' in key_list
    assert scenario.answers_before["_commit"] == releases.old
    assert scenario.answers_after["_commit"] == releases.new


def test_env_keeps_every_line_and_only_appends_new_keys(scenario: Scenario) -> None:
    before, after = scenario.env_before, scenario.env_after
    assert USER_ENV_LINE.encode() in before
    assert after.startswith(before), "a line of .env that existed before the update changed"
    old_names = env_names(before.decode())
    new_names = env_names(after[len(before) :].decode())
    assert NEW_KEY in new_names, f"the new release's key was not appended to .env: {new_names}"
    assert not set(new_names) & set(old_names), f"keys already in .env were appended again: {new_names}"
    assert len(env_names(after.decode())) == len(set(env_names(after.decode())))
    assert (scenario.project / ".env").stat().st_mode & 0o077 == 0, ".env is readable by others after the update"


def test_no_rejects_and_no_conflict_markers(scenario: Scenario) -> None:
    assert scenario.second["leftovers"] == [], scenario.output


def test_question_added_later_takes_its_default(scenario: Scenario) -> None:
    assert NEW_QUESTION not in scenario.answers_before
    expected = f"Team of {scenario.answers_before['author_name']}"
    assert scenario.answers_after[NEW_QUESTION] == expected
    owners = (scenario.project / NEW_FILE).read_text(encoding="utf-8")
    assert owners == f"# Owners\n\n{scenario.answers_before['project_name']} is maintained by {expected}.\n"


def test_old_answers_come_back_unchanged(scenario: Scenario) -> None:
    """Every answer of the old answers file survives the update exactly, free text included."""
    before = {k: v for k, v in scenario.answers_before.items() if not k.startswith("_")}
    after = {k: v for k, v in scenario.answers_after.items() if not k.startswith("_") and k in before}
    assert after == before
    assert scenario.answers_after["_src_path"] == scenario.answers_before["_src_path"]


def test_project_checks_pass_after_the_update(scenario: Scenario) -> None:
    env = project_env()
    prodready = [sys.executable, "-m", "prodready"]
    run([*prodready, "config", "validate"], cwd=scenario.project, env=env)
    run([*prodready, "security", "validate", "--env", "development"], cwd=scenario.project, env=env)


def test_the_old_release_s_tooling_is_gone(scenario: Scenario) -> None:
    """Files the new release no longer renders leave the project (here: an older in-project CLI)."""
    rendered_now = {path.relative_to(scenario.project).as_posix() for path in scenario.project.rglob("*.py")}
    assert not any(path.startswith(f"src/{scenario.package}/ops/") for path in rendered_now), sorted(rendered_now)


def test_make_setup_test_readiness_pass_after_the_update(scenario: Scenario) -> None:
    env = project_env()
    run(["make", "setup"], cwd=scenario.project, env=env)
    run(["make", "test"], cwd=scenario.project, env=env, timeout=1200)
    result = run(["make", "readiness"], cwd=scenario.project, env=env)
    score = re.search(r"Score (\d+)/100", result.stdout)
    assert score, result.stdout[-3000:]
    assert int(score.group(1)) >= 90, result.stdout[-3000:]


def test_second_update_is_a_no_op(scenario: Scenario) -> None:
    assert scenario.second["status"] == "", f"updating again changed the project:\n{scenario.second['status']}"
    assert scenario.second["env"] == scenario.env_after
    assert answers_of(scenario.project)["_commit"] == scenario.answers_after["_commit"]


# --- other starting points -----------------------------------------------------------------


def test_update_without_template_change_leaves_git_clean(releases: Releases, tmp_path: Path) -> None:
    project = copy_at(releases, releases.new, tmp_path / "fresh", {})
    env = (project / ".env").read_bytes()
    update_to(releases, releases.new, project)
    assert porcelain(project) == ""
    assert (project / ".env").read_bytes() == env


def test_update_from_oldest_supported_release(releases: Releases, tmp_path: Path) -> None:
    """An answers file written by the oldest release still updates: new question, new key, clean merge."""
    project = copy_at(releases, releases.oldest, tmp_path / "oldest", {"use_redis": False})
    assert answers_of(project)["_commit"] == releases.oldest
    env_before = (project / ".env").read_bytes()
    update_to(releases, releases.new, project)
    answers = answers_of(project)
    assert answers["_commit"] == releases.new
    assert answers[NEW_QUESTION] == f"Team of {answers['author_name']}"
    assert answers["use_redis"] is False
    assert leftovers(project) == []
    env_after = (project / ".env").read_bytes()
    assert env_after.startswith(env_before)
    assert NEW_KEY in env_names(env_after[len(env_before) :].decode())
    # The update is a change the user reviews with `git diff` and commits.
    assert porcelain(project), "the update to a new release changed nothing"
