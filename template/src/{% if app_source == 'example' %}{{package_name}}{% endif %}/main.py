"""App factory: ``uvicorn --factory <package>.main:create_app``, or ``create_app(settings)`` in tests.

A factory rather than a module-level ``app``: importing this module (tests, tools) never reads
settings or needs keys.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from . import __version__, about
from .api.routes import auth, health, items, users
from .cache import create_cache
from .core.crypto import FieldCipher
from .core.errors import install_error_handlers
from .core.logging import configure_logging, flush_logs
from .core.middleware import RequestContextMiddleware
from .core.policies import get_policies
from .core.security import configure_password_hashing
from .core.settings import Settings, get_settings
from .db import Database
from .services.principals import PrincipalCache, VerifiedTokens, keep_principals_true
from .utils.redact import redact_url

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app for ``settings`` (default: loaded from the environment)."""
    settings = settings or get_settings()
    configure_logging(
        settings.app.log_level, settings.app.access_log_flush_seconds, development=settings.app_env == "development"
    )
    hashing = settings.password_hashing
    configure_password_hashing(hashing.time_cost, hashing.memory_kib, hashing.parallelism)
    policies = get_policies()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info(
            "starting",
            extra={
                "env": settings.app_env,
                "database": redact_url(settings.sqlalchemy_url),
                "cache": settings.cache.backend,
            },
        )
        app.state.database = Database(settings)
        app.state.cache = create_cache(settings)
        try:
            async with keep_principals_true(settings, app.state.principals):
                yield
        finally:
            await app.state.cache.close()
            await app.state.database.dispose()
            flush_logs()  # the access lines still held (see app.access_log_flush_seconds)

    docs = settings.app.docs_enabled
    app = FastAPI(
        title=settings.app.name,
        description=about.description(),
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.policies = policies
    app.state.principals = PrincipalCache()
    app.state.verified_tokens = VerifiedTokens()
    previous = settings.db_encryption_key_previous
    app.state.cipher = FieldCipher(
        settings.db_encryption_key.get_secret_value(), previous.get_secret_value() if previous else None
    )

    install_error_handlers(app)
    health.register(app)
    # The router tries routes in this order: the most frequent requests, item reads, come first.
    for module in (items, auth, users):
        app.include_router(module.router)

    if settings.app.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.app.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        )
    # Added last, so it runs first: every answer, even a rejected host, gets an id and headers.
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.app.max_body_bytes,
        hsts=settings.app.public_url.startswith("https://"),
        allowed_hosts=settings.app.allowed_hosts,
        max_headers=settings.app.max_headers,
        max_header_bytes=settings.app.max_header_bytes,
        body_timeout=settings.app.body_timeout_seconds,
    )
    return app
