"""Reports: findings printed as text or JSON, and the exit code they give."""

from __future__ import annotations

import json

import pytest

from prodready.report import Report


def _report() -> Report:
    report = Report("checks")
    report.add("first", "pass", "fine", where="a.yaml")
    report.add("second", "warn", "hm", fix="look at it")
    report.add("third", "not run")
    return report


def test_a_report_without_failures_passes(capsys: pytest.CaptureFixture[str]) -> None:
    report = _report()

    assert report.failed is False
    assert report.emit() == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "checks"
    assert "  ✓ first [a.yaml]: fine" in out
    assert "  ! second: hm" in out
    assert "      fix: look at it" in out
    assert "  - third" in out
    assert out[-1] == "OK"


def test_one_failure_fails_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    report = _report()
    report.add("fourth", "fail", "broken", fix="repair it")

    assert report.failed is True
    assert report.emit() == 1

    out = capsys.readouterr().out
    assert "  ✗ fourth: broken\n      fix: repair it" in out
    assert out.rstrip().endswith("FAILED")


def test_fixes_are_only_shown_for_problems(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report("r")
    report.add("ok", "pass", fix="nothing to do")

    report.emit()

    assert "fix:" not in capsys.readouterr().out


def test_json_output_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    report = _report()
    report.add("fourth", "fail", "ünïcode")
    report.details["extra"] = {"n": 1}

    assert report.emit(as_json=True) == 1

    payload = json.loads(capsys.readouterr().out)
    assert payload["title"] == "checks"
    assert payload["ok"] is False
    assert payload["extra"] == {"n": 1}
    assert payload["findings"][0] == {
        "check": "first",
        "status": "pass",
        "message": "fine",
        "where": "a.yaml",
        "fix": "",
    }
    assert payload["findings"][-1]["message"] == "ünïcode"
