"""Socrata-shaped errors.

Socrata answers failures with ``{"code","error":true,"message","data"}`` plus the
``X-Error-Code`` / ``X-Error-Message`` headers (recorded live responses, reference §2.4).
Routes raise :class:`SocrataError`; the app turns it into that shape in one place.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import Response

_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class SocrataError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data or {}
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"code": code, "error": True, "message": message, "data": data or {}}
    # A header value holds no control character: a message quoting a client's NUL or newline
    # would otherwise make the server refuse to send the response (a dropped connection).
    shown = _HEADER_UNSAFE.sub("?", message.encode("ascii", "replace").decode())[:200]
    h = {"X-Error-Code": code, "X-Error-Message": shown}
    h.update(headers or {})
    return Response(
        json.dumps(body), status_code=status, headers=h, media_type="application/json; charset=utf-8"
    )


class DiscoveryError(SocrataError):
    """Discovery (catalog) errors use the bare ``{"error": "..."}`` shape (reference §2.4)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(status, "discovery.invalid", message)


def from_exception(exc: SocrataError) -> Response:
    if isinstance(exc, DiscoveryError):
        return Response(
            json.dumps({"error": exc.message}),
            status_code=exc.status,
            media_type="application/json; charset=utf-8",
        )
    return error_response(exc.status, exc.code, exc.message, exc.data, exc.headers)


# Shorthands for the errors the routes raise most often.
def not_found_view(view_id: str) -> SocrataError:
    return SocrataError(404, "not_found", "Not found", {"id": view_id})


def dataset_missing(view_id: str) -> SocrataError:
    # The recorded answer (GET /resource/songs.json): message "Not found", data {"id": ...}.
    return SocrataError(404, "dataset.missing", "Not found", {"id": view_id})


def authentication_required() -> SocrataError:
    return SocrataError(403, "authentication_required", "You must be logged in to access this resource")


def permission_denied(message: str = "You do not have permission to perform this action") -> SocrataError:
    return SocrataError(403, "permission_denied", message)


def bad_request(
    message: str, code: str = "invalid_request", data: dict[str, Any] | None = None
) -> SocrataError:
    return SocrataError(400, code, message, data)


def malformed_query(message: str, data: dict[str, Any] | None = None) -> SocrataError:
    return SocrataError(400, "query.compiler.malformed", message, data)
