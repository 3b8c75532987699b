"""Database engine and sessions (SQLAlchemy 2, async)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .core.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    """Create the engine for the configured database with the configured pool."""
    url = settings.sqlalchemy_url
    options: dict[str, Any] = {"echo": settings.database.echo, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        # SQLite: one file, no server; the timeout covers a locked database.
        options["connect_args"] = {"timeout": settings.database.connect_timeout}
    else:
        connect_args: dict[str, Any] = {"timeout": settings.database.connect_timeout}
        statement_timeout = getattr(settings.database, "statement_timeout", None)
        if statement_timeout is not None and url.startswith("postgresql+asyncpg"):
            # Set per connection by asyncpg at connect time; PostgreSQL counts milliseconds.
            connect_args["server_settings"] = {"statement_timeout": str(max(1, round(statement_timeout * 1000)))}
        options.update(
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
            pool_timeout=settings.database.pool_timeout,
            connect_args=connect_args,
        )
    return create_async_engine(url, **options)


class Database:
    """The engine and a session factory, owned by the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        """Create the engine; no connection is made until first use."""
        self.engine = create_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session; commit is the caller's (service layer's) decision."""
        async with self.sessions() as session:
            yield session

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises when the database is unreachable."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
