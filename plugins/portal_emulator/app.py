"""Builds the ASGI application: FastAPI routes, Socrata-shaped errors, and the outer middleware."""

from __future__ import annotations

import logging
import os

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from . import csrf
from .approvals import Workflow
from .auth import current_account
from .config import EmulatorConfig
from .errors import SocrataError, error_response, from_exception
from .faults import EmulatorMiddleware, FaultInjector
from .pathguard import ControlCharacterGuard
from .publishing import Publishing
from .routes import admin, approvals, catalog, metadata, pages, publishing, resource, users, views
from .stats import Stats
from .store import Store

log = logging.getLogger("portal_emulator")


def create_app(config: EmulatorConfig) -> tuple[FastAPI, EmulatorMiddleware]:
    """The FastAPI app and the ASGI callable to serve (the app wrapped in the emulator middleware)."""
    app = FastAPI(title="Socrata portal emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.state.store = Store(config.state_path)
    app.state.stats = Stats()
    app.state.faults = FaultInjector(config.faults)
    app.state.workflow = Workflow(app.state.store, config)
    app.state.publishing = Publishing(app.state.store, config, app.state.stats, app.state.workflow)
    app.state.pid = os.getpid()
    # Signs the review page's form tokens (csrf.py); a new key each start.
    app.state.csrf_key = csrf.new_key()

    # Every API request with credentials has them checked, even where anonymous access would do,
    # so a client with a wrong password fails at once. Pages answer with their own HTML challenge.
    # Order matters only where paths overlap: the metadata API before /api/views/{id}.{ext}.
    for module in (admin, metadata, approvals, views, resource, catalog, publishing, users):
        app.include_router(module.router, dependencies=[Depends(current_account)])
    app.include_router(pages.router)

    @app.exception_handler(SocrataError)
    async def socrata_error(_: Request, exc: SocrataError):
        return from_exception(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        return error_response(
            400,
            "invalid_request",
            f"Invalid request: {first.get('msg', 'bad parameters')}",
            {"errors": [str(e.get("loc")) for e in exc.errors()]},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return error_response(404, "not_found", "Not found", {"path": request.url.path})
        if exc.status_code == 405:
            return error_response(405, "method_not_allowed", "Method not allowed", {"path": request.url.path})
        return error_response(exc.status_code, "error", str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Internal error")

    # Parses and apply jobs that a restart interrupted carry on (their state is in the store).
    app.state.publishing.recover()
    # Outermost: a path with a control character is refused before it is routed or logged.
    return app, ControlCharacterGuard(EmulatorMiddleware(app, app.state.faults, app.state.stats))
