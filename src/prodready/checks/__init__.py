"""The readiness checks, one module per area; importing this package registers every check.

The six areas: :mod:`.dependencies`, :mod:`.testing`, :mod:`.security`,
:mod:`.configuration`, :mod:`.cicd` and :mod:`.container`; :mod:`.base` holds what they share.
"""

from . import cicd, configuration, container, dependencies, security, testing
from .base import CHECKS, Check, Context, Project, evaluate

__all__ = [
    "CHECKS",
    "Check",
    "Context",
    "Project",
    "cicd",
    "configuration",
    "container",
    "dependencies",
    "evaluate",
    "security",
    "testing",
]
