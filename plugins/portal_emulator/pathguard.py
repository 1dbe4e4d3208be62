"""Refuse request paths holding control characters, before anything reads them.

A dataset id is part of the path (``/api/views/{id}.json``, ``/resource/{id}.json``, ``/d/{id}``),
and a percent-encoded control character (``%00``, ``%0A``...) decodes into it. Deeper down, such an
id reached an error's ``X-Error-Message`` header, which the server refuses to send: the connection
dropped with a traceback. A newline also forged lines in the access log. No portal id, path or
name the portal serves holds a control character, so the outermost layer answers 400 in the
portal's error shape for every route, and logs the path still percent-encoded.
"""

from __future__ import annotations

import logging
import re

from .errors import error_response

log = logging.getLogger("portal_emulator.access")

# C0 controls (NUL, tab, CR, LF...), DEL and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_character(path: str) -> bool:
    return _CONTROL.search(path) is not None


class ControlCharacterGuard:
    """ASGI middleware: a path with a control character gets a Socrata-shaped 400."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not has_control_character(scope.get("path", "")):
            return await self.app(scope, receive, send)
        raw = (scope.get("raw_path") or b"").decode("ascii", "backslashreplace")
        log.info("%s %s 400 refused: control character in the path", scope.get("method"),
                 _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", raw))
        response = error_response(
            400, "invalid_request", "Invalid request: the path holds a control character (such as %00)"
        )
        await response(scope, receive, send)
