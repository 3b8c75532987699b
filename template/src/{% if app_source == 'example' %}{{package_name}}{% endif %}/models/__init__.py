"""Tables (SQLAlchemy) and API schemas (pydantic)."""
