"""Dotenv files: read as the service reads them, appended to without rewriting."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from prodready import envfile


def test_parse_understands_the_usual_dotenv_forms() -> None:
    text = "\n".join(
        [
            "# a comment",
            "   # an indented comment",
            "PLAIN=value",
            "export EXPORTED=yes",
            'DOUBLE="with spaces # not a comment"',
            "SINGLE='single'",
            "INLINE=value # a comment",
            "SPACED = around ",
            "EMPTY=",
            "not a line",
            "PLAIN=later wins",
        ]
    )

    assert envfile.parse(text) == {
        "PLAIN": "later wins",
        "EXPORTED": "yes",
        "DOUBLE": "with spaces # not a comment",
        "SINGLE": "single",
        "INLINE": "value",
        "SPACED": "around",
        "EMPTY": "",
    }


def test_variables_expand_only_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_SHELL", "shell")
    monkeypatch.delenv("UNSET_ANYWHERE", raising=False)
    text = "A=1\nB=${A}-x\nC=${FROM_SHELL}\nD=${UNSET_ANYWHERE}\n"

    # As written: what the checks look at (a ${VAR} left in a file is unfinished).
    assert envfile.parse(text) == {"A": "1", "B": "${A}-x", "C": "${FROM_SHELL}", "D": "${UNSET_ANYWHERE}"}
    # Expanded: what the service loads.
    assert envfile.parse(text, interpolate=True) == {"A": "1", "B": "1-x", "C": "shell", "D": ""}


def test_a_hash_inside_a_value_is_kept() -> None:
    assert envfile.parse("KEY=abc#def") == {"KEY": "abc#def"}


def test_read_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert envfile.read(tmp_path / ".env") == {}


def test_a_file_that_is_not_dotenv_text_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(envfile.EnvFileError, match="is a directory"):
        envfile.read(tmp_path)
    (tmp_path / ".env").write_bytes(b"KEY=\xff\xfe\n")
    with pytest.raises(envfile.EnvFileError, match="cannot be read as UTF-8"):
        envfile.read(tmp_path / ".env")


def test_append_creates_the_file_owner_only(tmp_path: Path) -> None:
    path = tmp_path / ".env"

    envfile.append(path, {"A": "1", "B": "2"}, header="made by a test")

    assert path.read_text(encoding="utf-8") == "# made by a test\nA=1\nB=2\n"
    assert stat.S_IMODE(path.stat().st_mode) == envfile.SECRET_FILE_MODE


def test_append_never_rewrites_existing_content(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    original = "# mine\nA=1\nexport   KEEP = 'as is'"
    path.write_text(original, encoding="utf-8")

    envfile.append(path, {"B": "2"})

    text = path.read_text(encoding="utf-8")
    assert text == original + "\nB=2\n"
    assert envfile.read(path) == {"A": "1", "KEEP": "as is", "B": "2"}


def test_append_of_nothing_does_not_create_the_file(tmp_path: Path) -> None:
    envfile.append(tmp_path / ".env", {})

    assert not (tmp_path / ".env").exists()
