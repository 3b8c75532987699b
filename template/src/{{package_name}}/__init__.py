"""The service package: API, business rules, models, settings and the ops CLI.

This module stays free of third-party imports: the ops CLI (``python -m <package>.ops``)
runs with nothing but the standard library and PyYAML, before the dependencies are installed.
"""

__version__ = "0.1.0"
