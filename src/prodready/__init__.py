"""prodready: production-readiness checks for Python services, and the tools to pass them.

``prodready check [PATH]`` scores any repository out of 100 (six areas, a grade and what to
fix first); the other groups work on a project made by the prodready template: ``keys``
(generate, ensure, rotate, audit), ``security validate``, ``config`` (validate, sync, show)
and ``deps check``. The rules they apply are the project's own files (``security/keys.json``,
``security/policies/``, ``config/schema.json``), the same ones its service enforces.
"""

from __future__ import annotations


def version() -> str:
    """Return the installed version ("0+unknown" when run from a source tree, as the hook does)."""
    # Looked up on demand: importlib.metadata costs a tenth of a second at every start.
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("prodready")
    except PackageNotFoundError:
        return "0+unknown"
