"""Results of checks and how prodready prints them (text or JSON)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "warn", "not run"]
_MARK = {"pass": "✓", "fail": "✗", "warn": "!", "not run": "-"}


@dataclass
class Finding:
    """One check's outcome; ``where`` names the file (and key) it concerns."""

    check: str
    status: Status
    message: str = ""
    where: str = ""
    fix: str = ""


@dataclass
class Report:
    """A list of findings with a title; failed when any finding failed.

    ``details`` holds structured data a command wants in its JSON output beyond the findings.
    """

    title: str
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, check: str, status: Status, message: str = "", where: str = "", fix: str = "") -> None:
        """Record one finding."""
        self.findings.append(Finding(check, status, message, where, fix))

    @property
    def failed(self) -> bool:
        """Whether any finding failed."""
        return any(f.status == "fail" for f in self.findings)

    def emit(self, as_json: bool = False) -> int:
        """Print the report and return the process exit code (1 when failed)."""
        if as_json:
            payload: dict[str, Any] = {
                "title": self.title,
                "ok": not self.failed,
                "findings": [asdict(f) for f in self.findings],
            }
            payload.update(self.details)
            json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            print(self.title)
            for f in self.findings:
                where = f" [{f.where}]" if f.where else ""
                message = f": {f.message}" if f.message else ""
                print(f"  {_MARK[f.status]} {f.check}{where}{message}")
                if f.fix and f.status in ("fail", "warn"):
                    print(f"      fix: {f.fix}")
            print("FAILED" if self.failed else "OK")
        return 1 if self.failed else 0
