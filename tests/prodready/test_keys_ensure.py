"""`keys ensure`: fresh development keys, mode 0600, and an existing .env only ever grows."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from scratch import git

from prodready import cli, envfile, keyrules


@pytest.fixture
def workdir(project: Path) -> Path:
    return project


def _ensure_in(directory: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    shutil.copytree(Path("security"), directory / "security")
    monkeypatch.chdir(directory)
    assert cli.main(["keys", "ensure"]) == 0
    return envfile.read(directory / ".env")


def test_two_runs_in_different_folders_make_different_keys(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _ensure_in(workdir / "one", monkeypatch)
    second = _ensure_in(workdir / "two", monkeypatch)
    for name in keyrules.KEY_NAMES:
        assert first[name] != second[name], name
    assert not {first[n] for n in keyrules.KEY_NAMES} & {second[n] for n in keyrules.KEY_NAMES}


def test_every_key_is_strong(workdir: Path) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    values = envfile.read(workdir / ".env")
    assert keyrules.check_keys(values) == {}
    for name in keyrules.KEY_NAMES:
        assert keyrules.estimated_bits(values[name]) >= 256, name
    assert values["APP_ENV"] == "development"


def test_the_env_file_is_mode_0600(workdir: Path) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    assert stat.S_IMODE((workdir / ".env").stat().st_mode) == 0o600


def test_an_existing_file_is_tightened_to_0600(workdir: Path) -> None:
    path = workdir / ".env"
    path.write_text("APP_ENV=development\n")
    path.chmod(0o644)
    assert cli.main(["keys", "ensure"]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_env_stays_byte_identical_apart_from_appended_keys(workdir: Path) -> None:
    path = workdir / ".env"
    kept = keyrules.generate("SECRET_KEY")
    # Odd but legal content: comments, export, quotes, a user's own variable, no final newline.
    original = (
        f"# my notes\r\nexport APP_ENV=development\nSECRET_KEY='{kept}'\nMY_OWN_SETTING=42  # mine\nJWT_SECRET_KEY="
    ).encode()
    path.write_bytes(original)
    path.chmod(0o600)

    assert cli.main(["keys", "ensure"]) == 0

    after = path.read_bytes()
    assert after.startswith(original)
    appended = envfile.parse(after[len(original) :].decode())
    # The empty JWT_SECRET_KEY counts as missing; SECRET_KEY and APP_ENV were there already.
    assert set(appended) == set(keyrules.KEY_NAMES) - {"SECRET_KEY"}
    values = envfile.read(path)
    assert values["SECRET_KEY"] == kept
    assert values["MY_OWN_SETTING"] == "42"


def test_a_second_run_changes_nothing(workdir: Path) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    before = (workdir / ".env").read_bytes()
    assert cli.main(["keys", "ensure"]) == 0
    assert (workdir / ".env").read_bytes() == before


def test_a_key_added_later_is_appended(workdir: Path) -> None:
    # What `copier update` does when a newer template version introduces a key.
    assert cli.main(["keys", "ensure"]) == 0
    path = workdir / ".env"
    lines = path.read_text().splitlines(keepends=True)
    without = "".join(line for line in lines if not line.startswith("DB_ENCRYPTION_KEY="))
    path.write_text(without)
    assert cli.main(["keys", "ensure"]) == 0
    after = path.read_text()
    assert after.startswith(without)
    assert after[len(without) :].count("DB_ENCRYPTION_KEY=") == 1


def test_output_and_audit_log_hold_names_and_fingerprints_never_values(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    printed = capsys.readouterr().out
    values = envfile.read(workdir / ".env")
    log = (workdir / "var" / "audit" / "keys.jsonl").read_text()
    for name in keyrules.KEY_NAMES:
        assert values[name] not in printed
        assert values[name] not in log
    events = [json.loads(line) for line in log.splitlines()]
    assert {event["key"] for event in events} == set(keyrules.KEY_NAMES)
    for event in events:
        assert event["action"] == "generate"
        assert event["env"] == "development"
        assert event["actor"]
        assert event["time"]
        assert event["fingerprint"] == keyrules.fingerprint(values[event["key"]])
    assert stat.S_IMODE((workdir / "var" / "audit" / "keys.jsonl").stat().st_mode) == 0o600


def test_the_audit_log_is_only_appended_to(workdir: Path) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    log = workdir / "var" / "audit" / "keys.jsonl"
    before = log.read_bytes()
    (workdir / ".env").unlink()
    assert cli.main(["keys", "ensure"]) == 0
    assert log.read_bytes().startswith(before)
    assert len(log.read_bytes().splitlines()) == 2 * len(keyrules.KEY_NAMES)


def test_a_tracked_env_file_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(workdir, "init", "-q")
    (workdir / ".env").write_text("APP_ENV=development\n")
    git(workdir, "add", "-f", ".env")
    assert cli.main(["keys", "ensure"]) == 1
    assert "tracked by git" in capsys.readouterr().out
    assert (workdir / ".env").read_text() == "APP_ENV=development\n"
