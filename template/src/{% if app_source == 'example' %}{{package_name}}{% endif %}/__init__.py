"""The service: API (api/), business rules (services/), models (models/), core (core/).

Settings, security, logging and errors live in core/; the database and cache access beside it.
"""

__version__ = "0.1.0"
