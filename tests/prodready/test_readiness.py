"""The readiness report: scoring, grades, exit codes and its four outputs (text, JSON, Markdown, badge)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from scratch import write

from prodready import cli, jsonschema, readiness
from prodready.checks import Check, Context
from prodready.readiness import Assessment, Outcome
from prodready.report import Finding

SVG = "{http://www.w3.org/2000/svg}"
# What `readiness --json` promises (the module docstring documents the same shape).
AREA = {
    "type": "object",
    "required": ["id", "title", "weight", "score", "passed", "failed", "not_run"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "weight": {"type": "integer", "minimum": 1},
        "score": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "passed": {"type": "integer", "minimum": 0},
        "failed": {"type": "integer", "minimum": 0},
        "not_run": {"type": "integer", "minimum": 0},
    },
}
CHECK = {
    "type": "object",
    "required": ["id", "area", "title", "weight", "gate", "needs", "state", "message", "where", "fix"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z_]+\\.[a-z_]+$"},
        "area": {"enum": [area for area, _, _ in readiness.AREAS]},
        "title": {"type": "string", "minLength": 1},
        "weight": {"type": "integer", "minimum": 1},
        "gate": {"type": "boolean"},
        "needs": {"enum": ["", "--run-tests", "--audit", "--build"]},
        "state": {"enum": ["pass", "fail", "not run"]},
        "message": {"type": "string"},
        "where": {"type": "string"},
        "fix": {"type": "string"},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "schema",
        "root",
        "time",
        "mode",
        "score",
        "grade",
        "measured",
        "ok",
        "gate_failed",
        "cap",
        "errors",
        "areas",
        "checks",
        "fix_first",
        "tests",
        "change",
    ],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": "readiness/1"},
        "root": {"type": "string"},
        "time": {"type": "string", "pattern": "^\\d{4}-\\d\\d-\\d\\dT"},
        "mode": {
            "type": "object",
            "required": ["run_tests", "audit", "build"],
            "properties": {k: {"type": "boolean"} for k in ("run_tests", "audit", "build")},
        },
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "grade": {"enum": ["A", "B", "C", "D", "F"]},
        "measured": {"type": "number", "minimum": 0, "maximum": 1},
        "ok": {"type": "boolean"},
        "gate_failed": {"type": "array", "items": {"type": "string"}},
        "cap": {
            "type": ["object", "null"],
            "required": ["score", "checks", "reason"],
            "properties": {
                "score": {"type": "integer", "minimum": 0, "maximum": 100},
                "checks": {"type": "array", "items": {"type": "string"}},
                "reason": {"type": "string"},
            },
        },
        "errors": {"type": "array", "items": {"type": "string"}},
        "areas": {"type": "array", "items": AREA},
        "checks": {"type": "array", "items": CHECK},
        "fix_first": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "gain", "fix"],
                "properties": {"id": {"type": "string"}, "gain": {"type": "number"}, "fix": {"type": "string"}},
            },
        },
        "tests": {"type": ["object", "null"]},
        "change": {"type": ["object", "null"]},
    },
}
# A small repository with some of the seed's problems and some things done right.
LEGACY = {
    "requirements.txt": "fastapi==0.115.0\npandas==2.2.0\n",
    "requirements/production.txt": "fastapi==0.115.0\npandas==2.1.4\n",
    "tests/test_app.py": "def test_app():\n    assert True\n",
    ".gitignore": ".env\n",
    "Dockerfile": "FROM python:latest\nCOPY . /app\nCMD python /app/main.py\n",
}


def fixed(state: str) -> Any:
    return lambda context: Finding("", state, f"always {state}", fix="do the thing" if state != "pass" else "")


def make_check(check_id: str, area: str, weight: int, state: str, gate: bool = False) -> Check:
    return Check(check_id, area, weight, f"title of {check_id}", fixed(state), gate)


def synthetic(*specs: tuple[str, int, str]) -> Assessment:
    """An assessment from (area, weight, state) triples."""
    checks = [make_check(f"{area}.c{n}", area, weight, state) for n, (area, weight, state) in enumerate(specs)]
    return readiness.assess(Path("."), checks=checks)


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["check", *args])
    return code, capsys.readouterr().out


# --- grades and scores -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("score", "letter"),
    [
        (100, "A"),
        (90, "A"),
        (89, "B"),
        (75, "B"),
        (74, "C"),
        (60, "C"),
        (59, "D"),
        (41, "D"),
        (40, "D"),
        (39, "F"),
        (0, "F"),
    ],
)
def test_grade_scale(score: int, letter: str) -> None:
    assert readiness.grade(score) == letter


def test_seed_scores_read_naturally() -> None:
    assert readiness.grade(41) == "D"
    assert readiness.grade(90) == "A"
    assert "A ≥ 90" in readiness.GRADE_SCALE
    assert "F < 40" in readiness.GRADE_SCALE


def test_area_score_leaves_checks_that_did_not_run_out() -> None:
    assessment = synthetic(
        ("tests", 1, "pass"), ("tests", 5, "not run"), ("security", 1, "fail"), ("security", 9, "not run")
    )
    areas = {row["id"]: row for row in assessment.areas()}

    assert areas["tests"]["score"] == 100
    assert areas["security"]["score"] == 0
    assert areas["tests"]["not_run"] == 1
    assert assessment.measured == pytest.approx(2 / 16)


def test_not_run_never_counts_as_a_pass() -> None:
    only_not_run = synthetic(("tests", 3, "not run"))
    half = synthetic(("tests", 1, "pass"), ("tests", 1, "fail"), ("tests", 4, "not run"))

    assert only_not_run.areas()[1]["score"] is None
    assert only_not_run.score == 0
    assert half.score == 50


def test_overall_weights_areas_and_skips_areas_that_did_not_run() -> None:
    # tests weigh 25, container 10: (25 * 100 + 10 * 0) / 35 = 71.4 -> 71, rounded down.
    assessment = synthetic(("tests", 1, "pass"), ("container", 1, "fail"), ("security", 2, "not run"))

    assert assessment.score == 71
    assert assessment.grade == "C"


def test_score_is_rounded_down() -> None:
    # 2 of 3 in one area: 66.67 -> 66.
    assert synthetic(("ci_cd", 1, "pass"), ("ci_cd", 1, "pass"), ("ci_cd", 1, "fail")).score == 66


def test_fix_first_orders_failures_by_points_gained() -> None:
    assessment = synthetic(("tests", 1, "fail"), ("ci_cd", 1, "fail"), ("ci_cd", 1, "pass"))

    fixes = assessment.fix_first()

    assert [item["id"] for item in fixes] == ["tests.c0", "ci_cd.c1"]
    assert fixes[0]["gain"] > fixes[1]["gain"] > 0
    assert fixes[0]["fix"] == "do the thing"


def test_checks_are_reported_in_area_order() -> None:
    areas = [check.area for check in readiness.ordered(readiness.CHECKS)]
    order = [area for area, _, _ in readiness.AREAS]

    assert areas == sorted(areas, key=order.index)
    assert set(areas) == set(order)


# --- exit codes --------------------------------------------------------------------------
def test_exit_code_is_zero_without_minimums_even_for_a_low_score() -> None:
    assert readiness.exit_code(synthetic(("tests", 1, "fail"))) == 0


def test_a_failed_gate_check_exits_one_with_validate() -> None:
    check = make_check("config.broken", "configuration", 1, "fail", gate=True)
    assessment = readiness.assess(Path("."), checks=[check, make_check("tests.ok", "tests", 9, "pass")])

    assert assessment.gate_failed == ["config.broken"]
    assert readiness.exit_code(assessment) == 0
    assert readiness.exit_code(assessment, validate=True) == 1


def test_minimum_score_and_grade() -> None:
    assessment = synthetic(("tests", 3, "pass"), ("tests", 1, "fail"))  # 75, B

    assert readiness.exit_code(assessment, min_score=75) == 0
    assert readiness.exit_code(assessment, min_score=76) == 1
    assert readiness.exit_code(assessment, min_grade="B") == 0
    assert readiness.exit_code(assessment, min_grade="A") == 1


def test_a_crashing_check_is_not_run_and_exits_two() -> None:
    def crash(context: Context) -> Finding:
        raise KeyError("boom")

    assessment = readiness.assess(Path("."), checks=[Check("tests.crash", "tests", 1, "crashes", crash)])

    assert assessment.outcomes[0].state == "not run"
    assert "KeyError" in assessment.outcomes[0].finding.message
    assert len(assessment.errors) == 1
    assert assessment.errors[0].startswith("tests.crash: KeyError")
    assert readiness.exit_code(assessment) == 2


# --- command line and outputs ------------------------------------------------------------
def test_json_output_matches_the_documented_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path / "legacy", LEGACY)

    code, out = run_cli(str(root), "--json", capsys=capsys)
    document = json.loads(out)

    assert jsonschema.validate(document, SCHEMA) == []
    assert document["root"] == str(root.resolve())
    assert document["errors"] == [], "no check may crash on a repository without a key list"
    assert {c["id"] for c in document["checks"]} == {c.id for c in readiness.CHECKS}
    assert [a["id"] for a in document["areas"]] == [area for area, _, _ in readiness.AREAS]
    failed = {c["id"] for c in document["checks"] if c["state"] == "fail"}
    assert {"deps.conflicts", "container.non_root", "ci.present"} <= failed
    assert all(c["fix"] for c in document["checks"] if c["state"] == "fail")
    assert code == 0, "scoring a legacy project is not an error"
    assert document["ok"] is True
    assert "container.non_root" in document["gate_failed"]
    assert document["grade"] in ("D", "F")
    code, out = run_cli(str(root), "--json", "--validate", capsys=capsys)
    assert code == 1
    assert json.loads(out)["ok"] is False


def test_min_score_turns_a_low_score_into_exit_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path, {"requirements.txt": "fastapi==0.115.0\n"})

    code_without, _ = run_cli(str(root), "--json", capsys=capsys)
    code_with, out = run_cli(str(root), "--json", "--min-score", "90", capsys=capsys)

    assert code_without == 0
    assert code_with == 1
    assert json.loads(out)["ok"] is False


def test_path_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_dash_c_scores_the_folder_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write(tmp_path / "legacy", LEGACY)
    monkeypatch.chdir(tmp_path)

    assert cli.main(["-C", str(root), "check", "--json"]) == 0

    assert json.loads(capsys.readouterr().out)["root"] == str(root.resolve())
    assert Path.cwd() == root.resolve()


def test_dash_c_of_a_missing_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["-C", str(tmp_path / "missing"), "check"])

    assert raised.value.code == 2
    assert f"-C {tmp_path / 'missing'}: No such file or directory" in capsys.readouterr().err


def test_text_report_shows_areas_checks_fixes_and_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path, LEGACY)

    _, out = run_cli(str(root), capsys=capsys)

    assert "\033[" not in out, "no colour when stdout is not a terminal"
    for area, _, _ in readiness.AREAS:
        assert area in out
    assert "✗ deps.conflicts" in out
    assert "fix: " in out
    assert "Fix first" in out
    assert readiness.GRADE_SCALE in out
    assert "Validation failed: " in out


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert readiness.use_colour(Terminal())
    assert not readiness.use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not readiness.use_colour(Terminal())
    assert "\033[31m" in readiness.render_text(synthetic(("tests", 1, "fail")), colour=True)


def test_markdown_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path, LEGACY)

    _, out = run_cli(str(root), "--markdown", capsys=capsys)
    lines = out.splitlines()

    assert lines[0].startswith("## Production readiness: ")
    assert "| area | score | passed | failed | not run |" in lines
    assert "### Fix first" in lines
    assert any(line.startswith("| ❌ | `deps.conflicts`") for line in lines)
    table = [line for line in lines if line.startswith("| ") and "`" in line]
    assert len(table) == len(readiness.CHECKS)
    # Every row has exactly the table's four cells: pipes inside messages are escaped.
    assert all(line.replace("\\|", "").count("|") == 5 for line in table)


def test_markdown_escapes_pipes() -> None:
    check = Check("ci_cd.pipe", "ci_cd", 1, "a | b", lambda context: Finding("", "fail", "x | y", fix="p | q"))
    text = readiness.render_markdown(readiness.assess(Path("."), checks=[check]))

    assert "a \\| b" in text
    assert "x \\| y" in text


@pytest.mark.parametrize(("score", "letter", "colour"), [(96, "A", "#4c1"), (41, "D", "#fe7d37"), (12, "F", "#e05d44")])
def test_badge_is_valid_svg(tmp_path: Path, score: int, letter: str, colour: str) -> None:
    path = tmp_path / "badge.svg"
    path.write_text(readiness.badge_svg(score, letter))

    svg = ET.parse(path).getroot()

    assert svg.tag == f"{SVG}svg"
    texts = [node.text for node in svg.iter(f"{SVG}text")]
    assert texts == ["readiness", f"{score} {letter}"]
    assert colour in [node.get("fill") for node in svg.iter(f"{SVG}rect")]
    assert svg.get("aria-label") == f"readiness: {score} {letter}"
    assert int(svg.get("width", "0")) > 0


def test_badge_option_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path / "repo", LEGACY)
    badge = tmp_path / "out" / "readiness.svg"
    badge.parent.mkdir()

    run_cli(str(root), "--json", "--badge", str(badge), capsys=capsys)

    svg = ET.parse(badge).getroot()
    assert svg.tag == f"{SVG}svg"


def test_history_appends_and_shows_the_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(tmp_path / "repo", LEGACY)
    monkeypatch.chdir(tmp_path)

    _, first = run_cli(str(root), "--json", "--history", capsys=capsys)
    (root / "requirements.txt").write_text("fastapi==0.115.0\npandas==2.1.4\n")
    _, second = run_cli(str(root), "--json", "--history", capsys=capsys)
    _, third = run_cli(str(root), "--history", capsys=capsys)

    history = (tmp_path / readiness.DEFAULT_HISTORY).read_text().splitlines()
    assert len(history) == 3
    entries = [json.loads(line) for line in history]
    assert entries[0]["checks"]["deps.conflicts"] == "fail"
    assert entries[1]["checks"]["deps.conflicts"] == "pass"
    assert json.loads(first)["change"] is None
    change = json.loads(second)["change"]
    assert change["now_passing"] == ["deps.conflicts"]
    assert change["delta"] == entries[1]["score"] - entries[0]["score"] > 0
    assert change["areas"]["dependencies"] > 0
    assert "Change since " in third
    assert "(+0)" in third


def test_history_file_can_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write(tmp_path / "repo", LEGACY)
    history = tmp_path / "var" / "history.jsonl"

    run_cli(str(root), "--json", "--history", str(history), capsys=capsys)

    assert json.loads(history.read_text())["score"] == readiness.assess(root).score


def test_change_lists_checks_that_started_failing() -> None:
    before = {"time": "t0", "score": 90, "grade": "A", "areas": {"tests": 100}, "checks": {"tests.x": "pass"}}
    after = {"time": "t1", "score": 80, "grade": "B", "areas": {"tests": 60}, "checks": {"tests.x": "fail"}}

    delta = readiness.change(before, after)

    assert delta["now_failing"] == ["tests.x"]
    assert delta["delta"] == -10
    assert delta["areas"] == {"tests": -40}
    assert "grade A → B" in readiness.describe_change(delta)


def test_outcome_state_mirrors_the_finding() -> None:
    outcome = Outcome(make_check("tests.x", "tests", 1, "pass"), Finding("tests.x", "not run", "no engine"))

    assert outcome.state == "not run"
