"""prodready: production-readiness checks for Python services, and the tools to pass them.

``prodready check [PATH]`` scores any repository out of 100 (six areas, a grade and what to
fix first); the other groups work on a project made by the prodready template: ``keys``
(generate, ensure, rotate, audit), ``security validate``, ``config`` (validate, sync, show)
and ``deps check``. The rules they apply are the project's own files (``security/keys.json``,
``security/policies/``, ``config/schema.json``), the same ones its service enforces.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prodready")
except PackageNotFoundError:  # run from a source tree (the post-generation hook)
    __version__ = "0+unknown"
