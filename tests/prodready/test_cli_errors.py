"""Files a command cannot use end it with one clear line and a non-zero exit, changing nothing.

Each case goes through :func:`prodready.cli.main`, as a user's command does: an exception that
escaped it would be a traceback on the user's terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prodready import auditlog, cli

NOT_UTF8 = b"SECRET_KEY=\xff\xfe\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "validate"],
        ["config", "show", "--env", "staging"],
        ["config", "sync"],
        ["security", "validate", "--env", "staging"],
    ],
)
def test_a_yaml_file_that_is_not_utf8_is_named(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    staging.write_bytes(b"app:\n  name: \xff\xfe\n")
    before = _snapshot(project)

    code, output = _run(capsys, *argv)

    assert code != 0
    assert "config/environments/staging.yaml: cannot be read" in output
    assert _snapshot(project) == before


@pytest.mark.parametrize("broken", ["not utf-8", "a directory"])
@pytest.mark.parametrize(
    "argv",
    [
        ["config", "show"],
        ["security", "validate"],
        ["keys", "audit"],
        ["keys", "ensure"],
        ["keys", "rotate", "SECRET_KEY", "--yes"],
    ],
)
def test_an_unusable_dotenv_file_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], broken: str
) -> None:
    dotenv = project / ".env"
    if broken == "a directory":
        dotenv.mkdir()
    else:
        dotenv.write_bytes(NOT_UTF8)
    before = _snapshot(project)

    code, output = _run(capsys, *argv)

    assert code != 0
    assert ".env" in output
    assert len(output.strip().splitlines()) == 1, output
    assert _snapshot(project) == before


def test_keys_generate_into_a_missing_folder_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(project)

    code, output = _run(capsys, "keys", "generate", "--env", "production", "--file", "missing/.env.production")

    assert code != 0
    assert output.strip().splitlines() == [output.strip()]
    assert "missing" in output
    assert _snapshot(project) == before
    assert not auditlog.events()


@pytest.mark.parametrize("option", ["--badge", "--sarif"])
def test_check_output_into_a_missing_folder_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").write_text("# repo\n", encoding="utf-8")
    history = tmp_path / "history.jsonl"

    code, output = _run(
        capsys, "check", str(root), option, str(tmp_path / "missing" / "out"), "--history", str(history)
    )

    assert code != 0
    assert output.strip().splitlines() == [output.strip()]
    assert "missing" in output
    assert not history.exists()
    assert not (tmp_path / "missing").exists()
