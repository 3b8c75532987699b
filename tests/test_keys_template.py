"""Keys at copy time: fresh per project, strong, private, git-ignored and never leaked.

Each project is generated with Copier's own command line (``copier copy --defaults --trust``,
no ``--data``: the way the README tells people to run it), so what Copier prints can be
searched for key values as well as every file the project holds.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml
from helpers import copier_cli, prodready, project_files, run

KEY_NAMES = ("SECRET_KEY", "JWT_SECRET_KEY", "DB_ENCRYPTION_KEY", "DB_PASSWORD", "REDIS_PASSWORD")
COMMITTED_TEMPLATES = (".env.example", ".env.production.template")


@dataclass(frozen=True)
class Copy:
    """One generated project and everything Copier printed while making it."""

    path: Path
    output: str
    keys: dict[str, str]


def _env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def _copy(dst: Path) -> Copy:
    # --vcs-ref=HEAD: this working tree, uncommitted changes included (not the newest tag).
    result = copier_cli("copy", "--defaults", "--trust", "--vcs-ref=HEAD", str(Path(__file__).parent.parent), str(dst))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    values = _env(dst / ".env")
    return Copy(dst, output, {name: values[name] for name in KEY_NAMES})


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Copy, Copy]:
    base = tmp_path_factory.mktemp("keys")
    return _copy(base / "first"), _copy(base / "second")


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)


def test_two_copies_get_different_keys(copies: tuple[Copy, Copy]) -> None:
    first, second = copies
    for name in KEY_NAMES:
        assert first.keys[name] != second.keys[name], name
    assert not set(first.keys.values()) & set(second.keys.values())
    # Within one project, no two keys share a value either.
    assert len(set(first.keys.values())) == len(KEY_NAMES)


def _random_bits(name: str, value: str) -> int:
    if name == "DB_ENCRYPTION_KEY":
        return len(bytes.fromhex(value)) * 8
    assert re.fullmatch(r"[A-Za-z0-9_-]+", value), f"{name} is not URL-safe base64"
    return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) * 8


@pytest.mark.parametrize("name", KEY_NAMES)
def test_each_key_has_at_least_256_bits(copies: tuple[Copy, Copy], name: str) -> None:
    for copy in copies:
        assert _random_bits(name, copy.keys[name]) >= 256
        assert len(copy.keys[name]) >= 32


def test_env_is_mode_0600(copies: tuple[Copy, Copy]) -> None:
    for copy in copies:
        assert stat.S_IMODE((copy.path / ".env").stat().st_mode) == 0o600
        log = copy.path / "var" / "audit" / "keys.jsonl"
        assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_git_ignores_env_but_not_the_committed_templates(copies: tuple[Copy, Copy]) -> None:
    project = copies[0].path
    assert (project / ".git").is_dir(), "the hook should have run git init"
    run(["git", "check-ignore", ".env"], cwd=project)
    run(["git", "check-ignore", ".env.production", ".env.staging", ".env.local"], cwd=project)
    for name in COMMITTED_TEMPLATES:
        assert (project / name).is_file(), f"{name} was not rendered"
        assert _git(project, "check-ignore", name).returncode == 1, f"{name} is ignored but must be committed"


def test_committed_templates_hold_placeholders_only(copies: tuple[Copy, Copy]) -> None:
    for name in COMMITTED_TEMPLATES:
        values = _env(copies[0].path / name)
        for key in ("SECRET_KEY", "JWT_SECRET_KEY", "DB_ENCRYPTION_KEY"):
            assert re.fullmatch(r"\$\{\w+\}|<[\w-]+>", values[key]), f"{name}: {key}={values[key]}"


def _leaks(copy: Copy, text: str) -> list[str]:
    return [name for name, value in copy.keys.items() if value in text]


def test_no_key_in_any_tracked_file(copies: tuple[Copy, Copy]) -> None:
    project = copies[0].path
    # Stage everything a first `git add -A` would: exactly what the first commit would hold.
    run(["git", "add", "-A"], cwd=project)
    tracked = run(["git", "ls-files", "-z"], cwd=project).stdout.split("\0")
    tracked = [name for name in tracked if name]
    assert ".env" not in tracked
    assert not [name for name in tracked if name.startswith("var/")], "the audit log must not be committed"
    for name in tracked:
        text = (project / name).read_bytes().decode("utf-8", errors="replace")
        assert not _leaks(copies[0], text), f"{name} holds a key"


def test_no_key_in_any_file_but_env(copies: tuple[Copy, Copy]) -> None:
    # Untracked files too (the audit log, a lock file): only .env may hold the values.
    for copy in copies:
        for path in project_files(copy.path):
            if path.name == ".env" and path.parent == copy.path:
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert not _leaks(copy, text), f"{path.relative_to(copy.path)} holds a key"


def test_no_key_in_the_answers_file(copies: tuple[Copy, Copy]) -> None:
    for copy in copies:
        text = (copy.path / ".copier-answers.yml").read_text(encoding="utf-8")
        assert not _leaks(copy, text)
        answers = yaml.safe_load(text)
        assert not [key for key in answers if any(word in key.lower() for word in ("key", "secret", "password"))]


def test_no_key_in_copier_output(copies: tuple[Copy, Copy]) -> None:
    for copy in copies:
        assert copy.output.strip(), "expected the hook's summary in Copier's output"
        assert not _leaks(copy, copy.output)


def test_the_audit_log_records_each_key_by_fingerprint(copies: tuple[Copy, Copy]) -> None:
    copy = copies[0]
    events = [json.loads(line) for line in (copy.path / "var/audit/keys.jsonl").read_text().splitlines()]
    assert sorted(event["key"] for event in events) == sorted(KEY_NAMES)
    for event in events:
        assert event["action"] == "generate"
        assert event["env"] == "development"
        assert re.fullmatch(r"[0-9a-f]{12}", event["fingerprint"])


def test_rule_files_match_their_schemas_by_the_reference_validator(copies: tuple[Copy, Copy]) -> None:
    # The schemas are generated from the service's models; any Draft 2020-12 validator must agree.
    security = copies[0].path / "security"
    documents = [(security / "keys.json", security / "schemas" / "keys.schema.json")] + [
        (
            security / "policies" / f"{name}_policy.json",
            security / "policies" / "schemas" / f"{name}_policy.schema.json",
        )
        for name in ("password", "access", "encryption")
    ]
    for document_path, schema_path in documents:
        document = json.loads(document_path.read_text())
        schema = json.loads(schema_path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(document)
        broken = {**document, "unexpected": 1}
        assert not jsonschema.Draft202012Validator(schema).is_valid(broken)


def test_security_validate_passes_for_development_and_fails_on_the_production_template(
    copies: tuple[Copy, Copy],
) -> None:
    project = copies[0].path
    passing = prodready(project, "security", "validate", "--env", "development")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    failing = prodready(project, "security", "validate", "--env", "production", "--file", ".env.production.template")
    assert failing.returncode == 1, failing.stdout
    for name in KEY_NAMES:
        assert f"✗ {name}" in failing.stdout
