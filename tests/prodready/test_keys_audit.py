"""`keys audit`: presence, strength, placeholders, reuse, age and file mode, per key and env file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from prodready import auditlog, cli, envfile, keyrules


@pytest.fixture
def keyed(project: Path) -> Path:
    """The scratch project with a development .env (`keys ensure`) and a .env.production."""
    assert cli.main(["keys", "ensure"]) == 0
    assert cli.main(["keys", "generate", "--env", "production"]) == 0
    return project


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(["keys", "audit", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def _key(result: dict[str, Any], env: str, name: str) -> dict[str, Any]:
    entry = next(f for f in result["files"] if f["env"] == env)
    found: dict[str, Any] = next(k for k in entry["keys"] if k["name"] == name)
    return found


def _set(path: Path, name: str, value: str) -> None:
    lines = [f"{name}={value}" if line.startswith(f"{name}=") else line for line in path.read_text().splitlines()]
    path.write_text("\n".join(lines) + "\n")


def test_fresh_keys_pass_and_every_fact_is_reported(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _audit(capsys)
    assert code == 0, result
    assert result["ok"] is True
    assert {f["env"] for f in result["files"]} == {"development", "production"}
    policy = json.loads((keyed / "security" / "policies" / "encryption_policy.json").read_text())
    assert result["max_key_age_days"] == policy["max_key_age_days"]
    for entry in result["files"]:
        assert entry["mode"] == "0600"
        for key in entry["keys"]:
            assert key["present"] is True
            assert key["bits"] >= 256
            assert key["length"] >= result["min_key_length"]
            assert key["placeholder"] is False
            assert key["reused_in"] == []
            assert key["age_days"] is not None
            assert key["age_days"] < 1
            assert key["max_age_days"] == policy["max_key_age_days"]
            assert key["status"] == "pass"


def test_values_are_never_in_the_report(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    cli.main(["keys", "audit"])
    cli.main(["keys", "audit", "--json"])
    printed = capsys.readouterr().out
    for path in (keyed / ".env", keyed / ".env.production"):
        for name, value in envfile.read(path).items():
            if name in keyrules.KEY_NAMES:
                assert value not in printed


def test_a_loose_file_mode_is_a_violation(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (keyed / ".env.production").chmod(0o644)
    code, result = _audit(capsys, "--env", "production")
    assert code == 1
    assert any(f["check"] == "file mode" and f["status"] == "fail" for f in result["findings"])


def test_a_key_reused_across_env_files_is_a_violation(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    development = envfile.read(keyed / ".env")["JWT_SECRET_KEY"]
    _set(keyed / ".env.production", "JWT_SECRET_KEY", development)
    code, result = _audit(capsys)
    assert code == 1
    assert _key(result, "production", "JWT_SECRET_KEY")["reused_in"] == ["development:JWT_SECRET_KEY"]
    assert _key(result, "development", "JWT_SECRET_KEY")["reused_in"] == ["production:JWT_SECRET_KEY"]
    assert _key(result, "production", "SECRET_KEY")["reused_in"] == []


def test_the_same_value_for_two_keys_is_reuse_too(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = keyed / ".env.production"
    _set(path, "SECRET_KEY", envfile.read(path)["JWT_SECRET_KEY"])
    code, result = _audit(capsys, "--env", "production")
    assert code == 1
    assert _key(result, "production", "SECRET_KEY")["reused_in"] == ["production:JWT_SECRET_KEY"]


def test_a_placeholder_is_a_violation_in_production(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _set(keyed / ".env.production", "SECRET_KEY", "CHANGE_ME")
    code, result = _audit(capsys, "--env", "production")
    assert code == 1
    key = _key(result, "production", "SECRET_KEY")
    assert key["placeholder"] is True
    assert key["status"] == "fail"
    assert any("SECRET_KEY is a placeholder" in problem for problem in key["problems"])


def test_a_weak_development_key_only_warns(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _set(keyed / ".env", "SECRET_KEY", "CHANGE_ME")
    code, result = _audit(capsys, "--env", "development")
    assert code == 0
    assert _key(result, "development", "SECRET_KEY")["status"] == "warn"


def test_a_missing_key_is_reported(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = keyed / ".env.production"
    path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith("SECRET_KEY=")))
    code, result = _audit(capsys, "--env", "production")
    assert code == 1
    assert _key(result, "production", "SECRET_KEY")["present"] is False


def _later(monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    monkeypatch.setattr(auditlog, "now", lambda: moment)


def test_a_key_older_than_the_policy_is_a_violation(
    keyed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    max_age = json.loads((keyed / "security" / "policies" / "encryption_policy.json").read_text())["max_key_age_days"]
    _later(monkeypatch, max_age + 1)
    code, result = _audit(capsys, "--env", "production")
    assert code == 1
    key = _key(result, "production", "JWT_SECRET_KEY")
    assert key["age_days"] > max_age
    assert any("days old" in problem for problem in key["problems"])
    # Rotating resets the age.
    assert cli.main(["keys", "rotate", "JWT_SECRET_KEY", "--env", "production", "--yes"]) == 0
    _, result = _audit(capsys, "--env", "production")
    assert _key(result, "production", "JWT_SECRET_KEY")["age_days"] < 1


def test_a_key_changed_by_hand_has_an_unknown_age(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _set(keyed / ".env.production", "SECRET_KEY", keyrules.generate("SECRET_KEY"))
    code, result = _audit(capsys, "--env", "production")
    assert code == 0
    key = _key(result, "production", "SECRET_KEY")
    assert key["status"] == "warn"
    assert any("changed outside" in warning for warning in key["warnings"])


def test_a_missing_env_file_is_a_violation(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _audit(capsys, "--env", "staging")
    assert code == 1
    assert result["findings"][0]["message"] == ".env.staging does not exist"


def test_the_readable_report_names_each_key(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli.main(["keys", "audit", "--env", "production"]) == 0
    printed = capsys.readouterr().out
    for name in keyrules.KEY_NAMES:
        assert f"{name} [.env.production]" in printed
    assert printed.rstrip().endswith("OK")


def test_a_torn_line_in_the_audit_log_hides_nothing(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = keyed / "var" / "audit" / "keys.jsonl"
    with log.open("a") as handle:
        handle.write('{"time": "2026-01-01T00:00:00+00:00", "env": "prod\nnot json at all\n')
    code, result = _audit(capsys)
    assert code == 0
    assert all(key["age_days"] is not None for entry in result["files"] for key in entry["keys"])
