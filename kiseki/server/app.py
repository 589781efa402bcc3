"""The kiseki server's ASGI application: the JSON API under ``/api/v1`` and the web app.

``create_app(ServerConfig(store=...))`` builds it on a store (SQLite file or PostgreSQL),
migrating the schema first; ``create_local_app(kiseki_dir)`` is what ``kiseki ui`` serves
(the embedded store, no sign-in). ``kiseki server`` runs it under uvicorn.

Every error leaves through one place: kiseki's own errors become ``{"error": message}`` with
the status of :func:`kiseki.server.errors.status_of` (JSON under ``/api/``, a small HTML page
elsewhere); request validation problems are 422; a bug is a 500 that names no internals.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiseki import __version__
from kiseki.blobs.s3 import open_blob_store
from kiseki.errors import KisekiError
from kiseki.server import (
    api_accounts,
    api_artifacts,
    api_blobs,
    api_ingest,
    api_run_data,
    api_runs,
    api_sweeps,
    login,
)
from kiseki.server.auth import Authenticator, CsrfCookieMiddleware, EntityDirectory
from kiseki.server.config import ServerConfig
from kiseki.server.encoding import KisekiJSONResponse
from kiseki.server.errors import PayloadTooLargeError, status_of
from kiseki.server.ingest import IngestService, WriteGate
from kiseki.server.service import TrackerService, Viewer
from kiseki.server.watchdog import Watchdog
from kiseki.store.accounts import AccountStore
from kiseki.store.database import create_store_engine, ensure_schema
from kiseki.store.queries import StoreQueries
from kiseki.wandb_compat import routes as wandb_routes

CONFIG_ENV = "KISEKI_SERVER_CONFIG"
"""Environment variable through which ``kiseki server --workers N`` hands its config to the
worker processes (see :func:`app_from_env`)."""
log = logging.getLogger("kiseki.server")


def create_app(config: ServerConfig) -> FastAPI:
    """The server app on ``config.store``; the schema is created or migrated first."""
    location = config.location
    ensure_schema(location)
    engine = create_store_engine(location)
    queries = StoreQueries(engine, heartbeat_timeout=config.heartbeat_timeout)
    gate = WriteGate(serialise=location.is_sqlite)
    accounts = AccountStore(engine) if config.auth else None
    watchdog = Watchdog(queries, gate, config.heartbeat_timeout, config.effective_watchdog_interval)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watchdog.start()
        try:
            yield
        finally:
            await watchdog.stop()
            engine.dispose()

    app = FastAPI(
        title="kiseki",
        version=__version__,
        description="The kiseki tracking server: remote logging, runs, users and teams.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        default_response_class=KisekiJSONResponse,
        lifespan=lifespan,
    )
    state = app.state
    state.config = config
    state.engine = engine
    state.queries = queries
    state.accounts = accounts
    state.auth = Authenticator(accounts, config.local_user)
    state.entities = EntityDirectory(accounts)
    state.service = TrackerService(queries)
    state.ingest = IngestService(engine, gate)
    state.watchdog = watchdog
    state.blobs = open_blob_store(config.blob_store, config.s3_endpoint_url, config.blob_root)
    for module in (api_accounts, api_ingest, api_runs, api_blobs, api_artifacts, login):
        app.include_router(module.router)
    app.include_router(api_run_data.router)
    app.include_router(api_sweeps.router)
    app.include_router(wandb_routes.router)  # the official wandb client (issue 7)
    _include_web_app(app)
    _install_error_handlers(app)
    app.add_middleware(CsrfCookieMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=config.limits.max_body_bytes)
    return app


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes (413) before anything reads them."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or (
            scope["method"] == "PUT" and scope["path"].startswith("/api/v1/blobs/")
        ):
            # blob uploads stream to disk under their own limit (Limits.max_blob_bytes)
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            message = f"The request body ({int(declared)} bytes) is larger than {self.limit} bytes."
            response = KisekiJSONResponse({"error": message}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise PayloadTooLargeError(f"The request body is larger than {self.limit} bytes.")
            return message

        await self.app(scope, limited_receive, send)


def create_local_app(kiseki_dir: Path, user: str | None = None) -> FastAPI:
    """The app ``kiseki ui`` serves: the embedded store of ``kiseki_dir``, no sign-in; every
    request acts as ``user`` (default: the ``KISEKI_USERNAME`` setting or the login name)."""
    if user is None:
        from kiseki.settings import resolve_settings

        user = resolve_settings({"kiseki_dir": kiseki_dir}).user
    return create_app(ServerConfig.local(Path(kiseki_dir), user))


def app_from_env() -> FastAPI:
    """The app of a ``kiseki server --workers N`` worker process (config from the environment)."""
    return create_app(ServerConfig.from_json(os.environ[CONFIG_ENV]))


def _include_web_app(app: FastAPI) -> None:
    try:
        from kiseki.web.routes import router as web_router
    except ImportError:  # the web app is optional: the API works without it
        return
    app.include_router(web_router)


# -- errors ---------------------------------------------------------------------------------
def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "html" not in request.headers.get("accept", "")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return KisekiJSONResponse({"error": message}, status_code=status)
    from html import escape

    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
        f'{status} · kiseki</title><link rel="stylesheet" href="/web-static/app.css"></head>'
        f'<body><main class="empty-state"><h1>{status}</h1><p class="error-message">'
        f'{escape(message)}</p><p><a class="btn" href="/">Back to all projects</a></p>'
        "</main></body></html>"
    )
    return HTMLResponse(page, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KisekiError)
    async def kiseki_error(request: Request, exc: KisekiError) -> Response:
        viewer = getattr(request.state, "viewer", None)
        signed_in = isinstance(viewer, Viewer) and not viewer.is_anonymous
        return _error(request, status_of(exc, signed_in), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(part) for part in error.get("loc", ()))
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return _error(request, 422, "Invalid request: " + "; ".join(problems) + ".")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "Request refused."
        if exc.status_code == 404 and message == "Not Found":
            message = f"Nothing at {request.url.path}: see /api/v1/docs for the API."
        response = _error(request, exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(sa.exc.TimeoutError)
    async def pool_timeout(request: Request, exc: sa.exc.TimeoutError) -> Response:
        return _error(request, 503, "The server is busy (no database connection free): retry.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("kiseki server: unexpected error on %s %s", request.method, request.url)
        return _error(
            request, 500, "The server failed unexpectedly; the error is in its log. Retry later."
        )
