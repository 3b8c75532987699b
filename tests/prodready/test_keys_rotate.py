"""`keys rotate NAME`: a new value, the old one kept as NAME_PREVIOUS, nothing else in the file changed.

That the service keeps accepting what the old key signed or encrypted is the generated
project's own test (tests/unit/core/test_key_rotation.py).
"""

from __future__ import annotations

import datetime as dt
import json
import stat
import sys
import types
from pathlib import Path

import pytest

from prodready import auditlog, cli, envfile, keyrules, keys


@pytest.fixture
def keyed(project: Path) -> Path:
    """The scratch project with a development .env from `keys ensure`."""
    assert cli.main(["keys", "ensure"]) == 0
    return project


def _rotate(name: str, *extra: str) -> None:
    assert cli.main(["keys", "rotate", name, "--yes", *extra]) == 0


# --- the file -----------------------------------------------------------------------------


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    return [line for line in old if line not in new], [line for line in new if line not in old]


def test_only_the_key_and_its_previous_line_change(keyed: Path) -> None:
    path = keyed / ".env"
    before = path.read_text()
    old = envfile.read(path)["SECRET_KEY"]
    _rotate("SECRET_KEY")
    after = path.read_text()
    removed, added = _changed_lines(before, after)
    assert removed == [f"SECRET_KEY={old}\n"]
    new = envfile.read(path)["SECRET_KEY"]
    assert added == [f"SECRET_KEY={new}\n", f"SECRET_KEY_PREVIOUS={old}\n"]
    # The previous value sits right after the key; every other line is where it was.
    lines = after.splitlines()
    assert lines[lines.index(f"SECRET_KEY={new}") + 1] == f"SECRET_KEY_PREVIOUS={old}"
    assert [line for line in lines if not line.startswith("SECRET_KEY")] == [
        line for line in before.splitlines() if not line.startswith("SECRET_KEY")
    ]
    assert keyrules.key_problems("SECRET_KEY", new) == []
    assert new != old


def test_the_jwt_key_also_records_when_it_was_rotated(keyed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keyed / ".env"
    before = path.read_text()
    old = envfile.read(path)["JWT_SECRET_KEY"]
    monkeypatch.setattr(auditlog, "now", lambda: dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC))

    _rotate("JWT_SECRET_KEY")

    new = envfile.read(path)["JWT_SECRET_KEY"]
    removed, added = _changed_lines(before, path.read_text())
    assert removed == [f"JWT_SECRET_KEY={old}\n"]
    # The service ends the old key's grace period from this time (core/security.py).
    assert added == [
        f"JWT_SECRET_KEY={new}\n",
        f"JWT_SECRET_KEY_PREVIOUS={old}\n",
        "JWT_SECRET_KEY_ROTATED_AT=2030-01-02T03:04:05+00:00\n",
    ]
    monkeypatch.setattr(auditlog, "now", lambda: dt.datetime(2030, 2, 1, tzinfo=dt.UTC))
    _rotate("JWT_SECRET_KEY")
    text = path.read_text()
    assert text.count("JWT_SECRET_KEY_ROTATED_AT=") == 1
    assert envfile.read(path)["JWT_SECRET_KEY_ROTATED_AT"] == "2030-02-01T00:00:00+00:00"
    assert envfile.read(path)["JWT_SECRET_KEY_PREVIOUS"] == new


def test_the_template_slot_takes_the_rotation_time(keyed: Path) -> None:
    assert cli.main(["keys", "generate", "--env", "production"]) == 0
    path = keyed / ".env.production"
    before = path.read_text()
    assert "# JWT_SECRET_KEY_ROTATED_AT=\n" in before

    _rotate("JWT_SECRET_KEY", "--env", "production")

    after = path.read_text()
    assert len(after.splitlines()) == len(before.splitlines())
    assert envfile.read(path)["JWT_SECRET_KEY_ROTATED_AT"].startswith(str(auditlog.now().year))


def test_the_rotated_file_stays_mode_0600(keyed: Path) -> None:
    _rotate("SECRET_KEY")
    assert stat.S_IMODE((keyed / ".env").stat().st_mode) == 0o600
    assert not [p for p in keyed.iterdir() if p.name.endswith(".tmp")]


def test_a_second_rotation_replaces_the_previous_value(keyed: Path) -> None:
    path = keyed / ".env"
    _rotate("JWT_SECRET_KEY")
    middle = envfile.read(path)["JWT_SECRET_KEY"]
    _rotate("JWT_SECRET_KEY")
    text = path.read_text()
    assert text.count("JWT_SECRET_KEY_PREVIOUS=") == 1
    assert envfile.read(path)["JWT_SECRET_KEY_PREVIOUS"] == middle


def test_the_commented_slot_of_the_template_takes_the_previous_value(keyed: Path) -> None:
    assert cli.main(["keys", "generate", "--env", "production"]) == 0
    path = keyed / ".env.production"
    before = path.read_text()
    old = envfile.read(path)["DB_ENCRYPTION_KEY"]
    _rotate("DB_ENCRYPTION_KEY", "--env", "production")
    after = path.read_text()
    assert "# DB_ENCRYPTION_KEY_PREVIOUS=\n" in before
    assert "# DB_ENCRYPTION_KEY_PREVIOUS=" not in after
    assert len(after.splitlines()) == len(before.splitlines())
    assert envfile.read(path)["DB_ENCRYPTION_KEY_PREVIOUS"] == old


def test_line_endings_export_and_a_missing_final_newline_survive(project: Path) -> None:
    text = "# keys\r\nexport SECRET_KEY=" + keyrules.generate("SECRET_KEY") + "\r\nOTHER=1"
    new = keyrules.generate("SECRET_KEY")
    rotated, old = keys.rotated_text(text, "SECRET_KEY", new)
    assert old is not None
    assert rotated == f"# keys\r\nexport SECRET_KEY={new}\r\nexport SECRET_KEY_PREVIOUS={old}\r\nOTHER=1"
    last, old = keys.rotated_text("A=1\nSECRET_KEY=" + old, "SECRET_KEY", new)
    assert last == f"A=1\nSECRET_KEY={new}\nSECRET_KEY_PREVIOUS={old}"


def test_a_placeholder_is_not_kept_as_previous(project: Path) -> None:
    rotated, old = keys.rotated_text("SECRET_KEY=${SECRET_KEY}\n", "SECRET_KEY", "new-value")
    assert old is None
    assert rotated == "SECRET_KEY=new-value\n"


def test_a_key_missing_from_the_file_is_an_error(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = keyed / ".env"
    path.write_text("APP_ENV=development\n")
    assert cli.main(["keys", "rotate", "SECRET_KEY", "--yes"]) == 1
    assert "SECRET_KEY is not set" in capsys.readouterr().out
    assert path.read_text() == "APP_ENV=development\n"


def test_a_missing_file_is_an_error(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "rotate", "SECRET_KEY", "--env", "staging", "--yes"]) == 1
    assert "make keys-generate ENV=staging" in capsys.readouterr().out


def test_unknown_names_are_rejected(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (keyed / ".env").read_bytes()

    assert cli.main(["keys", "rotate", "NOT_A_KEY", "--yes"]) == 2

    out = capsys.readouterr().out
    assert "'NOT_A_KEY' is not a key of security/keys.json" in out
    assert all(name in out for name in keyrules.KEY_NAMES)
    assert (keyed / ".env").read_bytes() == before


def test_without_yes_and_without_a_terminal_nothing_changes(
    keyed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(tty=False))
    before = (keyed / ".env").read_bytes()
    assert cli.main(["keys", "rotate", "SECRET_KEY"]) == 1
    assert "not confirmed" in capsys.readouterr().out
    assert (keyed / ".env").read_bytes() == before


class _Stdin:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("answer", [True, False])
def test_the_prompt_decides(keyed: Path, monkeypatch: pytest.MonkeyPatch, answer: bool) -> None:
    asked: list[str] = []

    def confirm(question: str, default: bool) -> types.SimpleNamespace:
        asked.append(question)
        assert default is False
        return types.SimpleNamespace(ask=lambda: answer)

    monkeypatch.setattr(sys, "stdin", _Stdin(tty=True))
    monkeypatch.setitem(sys.modules, "questionary", types.SimpleNamespace(confirm=confirm))
    before = envfile.read(keyed / ".env")["SECRET_KEY"]
    assert cli.main(["keys", "rotate", "SECRET_KEY"]) == (0 if answer else 1)
    assert len(asked) == 1
    assert "SECRET_KEY" in asked[0]
    assert (envfile.read(keyed / ".env")["SECRET_KEY"] != before) is answer


def test_rotation_is_audited_with_fingerprints_only(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = envfile.read(keyed / ".env")["JWT_SECRET_KEY"]
    _rotate("JWT_SECRET_KEY")
    new = envfile.read(keyed / ".env")["JWT_SECRET_KEY"]
    log = (keyed / "var" / "audit" / "keys.jsonl").read_text()
    event = json.loads(log.splitlines()[-1])
    assert event["action"] == "rotate"
    assert event["key"] == "JWT_SECRET_KEY"
    assert event["env"] == "development"
    assert event["fingerprint"] == keyrules.fingerprint(new)
    assert event["previous_fingerprint"] == keyrules.fingerprint(old)
    printed = capsys.readouterr().out
    for value in (old, new):
        assert value not in log
        assert value not in printed


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("DB_ENCRYPTION_KEY", "fields encrypted with the old key stay readable through DB_ENCRYPTION_KEY_PREVIOUS"),
        ("DB_ENCRYPTION_KEY", "run `make keys-reencrypt ENV=development` to move every value to it"),
        ("JWT_SECRET_KEY", "the service refuses them after that"),
        ("JWT_SECRET_KEY", "values signed with the old key stay valid through JWT_SECRET_KEY_PREVIOUS"),
        ("DB_PASSWORD", "DB_PASSWORD_PREVIOUS keeps the old one until then (the service does not read it)"),
    ],
)
def test_the_output_says_what_to_do_next(keyed: Path, capsys: pytest.CaptureFixture[str], name: str, hint: str) -> None:
    capsys.readouterr()

    _rotate(name)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"keys rotate: {name} in .env is now ")
    assert lines[1].startswith("  next: ")
    assert hint in lines[1]


# --- a previous encryption key still in use -------------------------------------------------
#
# The service's re-encryption command records its finished runs in the key audit log (the
# record's shape is cross-checked against the service's own writer in tests/test_rule_twins.py).


def _record_reencryption(env: str, key: str, remaining: int = 0, failed: int = 0, changed: int = 0) -> None:
    event = {
        "time": "2030-01-01T00:00:00+00:00",
        "env": env,
        "key": "DB_ENCRYPTION_KEY",
        "action": "reencrypt",
        "actor": "ops",
        "fingerprint": keyrules.fingerprint(key),
        "counts": {
            "scanned": 10,
            "reencrypted": 10 - remaining,
            "already_current": 0,
            "failed": failed,
            "changed": changed,
            "remaining": remaining,
        },
    }
    auditlog.AUDIT_LOG.parent.mkdir(parents=True, exist_ok=True)
    with auditlog.AUDIT_LOG.open("a", encoding="utf-8") as log:
        log.write(json.dumps(event) + "\n")


@pytest.fixture
def rotated_once(keyed: Path) -> dict[str, str]:
    """The development .env after one DB_ENCRYPTION_KEY rotation: a previous key is kept."""
    _rotate("DB_ENCRYPTION_KEY")
    return envfile.read(keyed / ".env")


def test_the_first_encryption_key_rotation_drops_nothing_and_needs_no_record(keyed: Path) -> None:
    old = envfile.read(keyed / ".env")["DB_ENCRYPTION_KEY"]
    _rotate("DB_ENCRYPTION_KEY")
    assert envfile.read(keyed / ".env")["DB_ENCRYPTION_KEY_PREVIOUS"] == old


def test_a_second_rotation_without_reencryption_is_refused(
    keyed: Path, rotated_once: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = (keyed / ".env").read_bytes()
    capsys.readouterr()

    assert cli.main(["keys", "rotate", "DB_ENCRYPTION_KEY", "--yes"]) == 1

    out = capsys.readouterr().out
    dropped = keyrules.fingerprint(rotated_once["DB_ENCRYPTION_KEY_PREVIOUS"])
    current = keyrules.fingerprint(rotated_once["DB_ENCRYPTION_KEY"])
    assert f"refusing to rotate DB_ENCRYPTION_KEY in .env: it would drop DB_ENCRYPTION_KEY_PREVIOUS ({dropped})" in out
    assert f"no re-encryption to DB_ENCRYPTION_KEY {current} is recorded for development" in out
    assert "an unknown number of stored values may still be encrypted with it" in out
    assert "Run `make keys-reencrypt ENV=development` first" in out
    assert "--accept-data-loss" in out and "unreadable for good" in out
    assert (keyed / ".env").read_bytes() == before
    for name in ("DB_ENCRYPTION_KEY", "DB_ENCRYPTION_KEY_PREVIOUS"):
        assert rotated_once[name] not in out


def test_after_a_complete_reencryption_the_second_rotation_goes_ahead(
    keyed: Path, rotated_once: dict[str, str]
) -> None:
    _record_reencryption("development", rotated_once["DB_ENCRYPTION_KEY"])

    _rotate("DB_ENCRYPTION_KEY")

    after = envfile.read(keyed / ".env")
    assert after["DB_ENCRYPTION_KEY_PREVIOUS"] == rotated_once["DB_ENCRYPTION_KEY"]
    assert rotated_once["DB_ENCRYPTION_KEY_PREVIOUS"] not in after.values()
    # The third rotation needs a record of its own: the one above names the key just replaced.
    assert cli.main(["keys", "rotate", "DB_ENCRYPTION_KEY", "--yes"]) == 1


def test_values_left_by_the_last_run_are_counted_in_the_refusal(
    keyed: Path, rotated_once: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _record_reencryption("development", rotated_once["DB_ENCRYPTION_KEY"], remaining=3, failed=2, changed=1)
    capsys.readouterr()

    assert cli.main(["keys", "rotate", "DB_ENCRYPTION_KEY", "--yes"]) == 1

    out = capsys.readouterr().out
    assert "3 stored values may still be encrypted with it" in out
    assert "2 failed, 1 changed during the run" in out
    assert envfile.read(keyed / ".env") == rotated_once


@pytest.mark.parametrize("where", ["another key", "another environment", "a later run left values"])
def test_only_the_latest_record_of_this_environment_and_key_counts(
    keyed: Path, rotated_once: dict[str, str], where: str
) -> None:
    if where == "another key":
        _record_reencryption("development", rotated_once["DB_ENCRYPTION_KEY_PREVIOUS"])
    elif where == "another environment":
        _record_reencryption("production", rotated_once["DB_ENCRYPTION_KEY"])
    else:
        _record_reencryption("development", rotated_once["DB_ENCRYPTION_KEY"])
        _record_reencryption("development", rotated_once["DB_ENCRYPTION_KEY"], remaining=1, failed=1)

    assert cli.main(["keys", "rotate", "DB_ENCRYPTION_KEY", "--yes"]) == 1
    assert envfile.read(keyed / ".env") == rotated_once


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe not text\n",
        b'{"time": "x", "env": "development", "key": "DB_ENCRYPTION_KEY", "action": "reencrypt"}\n',
    ],
    ids=["not-utf8", "no-counts"],
)
def test_a_log_it_cannot_read_or_a_record_without_counts_is_a_refusal(
    keyed: Path, rotated_once: dict[str, str], content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    if b"reencrypt" in content:
        fingerprint = keyrules.fingerprint(rotated_once["DB_ENCRYPTION_KEY"]).encode()
        content = content.replace(b'"action"', b'"fingerprint": "' + fingerprint + b'", "action"')
    auditlog.AUDIT_LOG.write_bytes(content)

    assert cli.main(["keys", "rotate", "DB_ENCRYPTION_KEY", "--yes"]) == 1

    assert "refusing to rotate DB_ENCRYPTION_KEY" in capsys.readouterr().out
    assert envfile.read(keyed / ".env") == rotated_once


def test_accept_data_loss_drops_a_key_in_use(keyed: Path, rotated_once: dict[str, str]) -> None:
    _rotate("DB_ENCRYPTION_KEY", "--accept-data-loss")

    after = envfile.read(keyed / ".env")
    assert after["DB_ENCRYPTION_KEY_PREVIOUS"] == rotated_once["DB_ENCRYPTION_KEY"]


def test_signing_keys_rotate_twice_without_any_record(keyed: Path) -> None:
    for _ in range(2):
        _rotate("SECRET_KEY")
        _rotate("JWT_SECRET_KEY")
