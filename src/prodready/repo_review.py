"""prodready's checks as a repo-review plugin: ``repo-review PATH`` runs them beside other plugins.

repo-review (scientific-python's framework, used by sp-repo-review) finds plugins through entry
points; pyproject.toml registers this module's three functions. Each prodready check becomes a
repo-review check in its area's family: a pass is a pass, a failure carries prodready's message
and fix, a check that could not run is a skip.

What stays in ``prodready check`` (and why the checks are not rewritten as repo-review
classes): the weights, the score and grade, the fix-first list, history, badge and SARIF have no
place in repo-review's pass/fail/skip model; and the checks run git, uv, pytest and Docker on a
local checkout, which repo-review's WebAssembly app (reading GitHub through its API) cannot do.
So the checks are defined once, in :mod:`.checks`, and this adapter hands them to repo-review
for its command line and pre-commit hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checks import CHECKS
from .readiness import AREAS, Assessment, assess


class ProdreadyCheck:
    """One prodready check, in repo-review's protocol (family, url, requires, check)."""

    requires: frozenset[str] = frozenset()
    url = ""

    def __init__(self, check_id: str, area: str, title: str) -> None:
        self.check_id = check_id
        self.family = area
        # repo-review shows a check's docstring as its description.
        self.__doc__ = title

    def check(self, prodready_assessment: Assessment) -> bool | str | None:
        """A prodready check (see ``prodready check``)."""
        outcome = next(o for o in prodready_assessment.outcomes if o.check.id == self.check_id)
        if outcome.state == "pass":
            return True
        if outcome.state == "not run":
            return None
        fix = f" Fix: {outcome.finding.fix}" if outcome.finding.fix else ""
        return f"{outcome.finding.message}.{fix}"


def fixture(root: Any) -> Assessment:
    """The static assessment of the repository repo-review inspects, computed once per run."""
    return assess(Path(str(root)))


def repo_review_checks() -> dict[str, ProdreadyCheck]:
    """Every prodready check, by its id."""
    return {item.id: ProdreadyCheck(item.id, item.area, item.title) for item in CHECKS}


def repo_review_families() -> dict[str, dict[str, Any]]:
    """The six areas, in prodready's order, with their weight in the score."""
    return {
        area: {"name": f"prodready: {title}", "order": index, "description": f"{weight} of 100 points"}
        for index, (area, title, weight) in enumerate(AREAS)
    }
