"""Test doubles for the Socrata hook's HTTP layer (no sockets).

``ScriptedAdapter`` replaces the single wire attempt of :class:`SocrataHTTPAdapter` with a
Python handler, so the real retry loop, logging, header and error handling are exercised.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from opendata.portal.transport import SocrataHTTPAdapter


@dataclass
class Seen:
    """One request as it reached the (fake) wire."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any
    timeout: Any

    def param(self, key: str) -> str | None:
        return next((v for k, v in self.query if k == key), None)


def make_response(
    request: requests.PreparedRequest,
    status: int = 200,
    body: Any = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if body is None:
        response._content = b""
    elif isinstance(body, bytes):
        response._content = body
    elif isinstance(body, str):
        response._content = body.encode()
    else:
        response._content = json.dumps(body).encode()
    hdrs = CaseInsensitiveDict({"Content-Type": content_type})
    hdrs.update(headers or {})
    response.headers = hdrs
    response.url = request.url
    response.request = request
    response.reason = {200: "OK", 202: "Accepted", 404: "Not Found", 500: "Server Error"}.get(status, "X")
    response.encoding = "utf-8"
    return response


Handler = Callable[[Seen], Any]


@dataclass
class Script:
    """Handler plus a log of every attempt."""

    handler: Handler
    seen: list[Seen] = field(default_factory=list)


class ScriptedAdapter(SocrataHTTPAdapter):
    """Adapter whose wire attempts are answered by ``script.handler``.

    The handler returns ``(status, body)``, ``(status, body, headers)`` or a Response, or raises
    a ``requests`` exception to simulate timeouts.
    """

    script: Script

    def _send_once(self, request, **kwargs):
        parts = urlsplit(request.url)
        body = request.body
        if isinstance(body, bytes):
            body = body.decode()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        seen = Seen(
            method=request.method,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            headers=dict(request.headers),
            body=parsed,
            timeout=kwargs.get("timeout"),
        )
        self.script.seen.append(seen)
        result = self.script.handler(seen)
        if isinstance(result, requests.Response):
            return result
        if len(result) == 2:
            status, payload = result
            headers = None
        else:
            status, payload, headers = result
        return make_response(request, status, payload, headers)


def scripted(handler: Handler, **kwargs) -> tuple[ScriptedAdapter, Script]:
    script = Script(handler)
    kwargs.setdefault("sleep", lambda _s: None)
    adapter = ScriptedAdapter(**kwargs)
    adapter.script = script
    return adapter, script


def session_with(adapter: SocrataHTTPAdapter, prefix: str = "https://") -> requests.Session:
    session = requests.Session()
    session.mount(prefix, adapter)
    return session


def hook_with(handler: Handler, *, conn_id: str = "socrata_default", **hook_kwargs):
    """A SocrataHook whose wire is ``handler`` (connection still read from Airflow)."""
    from opendata.portal.hook import SocrataHook

    script = Script(handler)

    class _Hook(SocrataHook):
        def _make_adapter(self, cfg):
            adapter = ScriptedAdapter(
                policy=cfg.retry_policy,
                connect_timeout=cfg.connect_timeout,
                read_timeout=cfg.read_timeout,
                logger=self.log,
                redactor=self._redactor,
                sleep=lambda _s: None,
            )
            adapter.script = script
            return adapter

    return _Hook(conn_id, **hook_kwargs), script


class Router:
    """Map ``(METHOD, path)`` to handlers; unknown routes answer 404 ``not_found``."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}

    def on(self, method: str, path: str, result: Any) -> Router:
        self.routes[(method.upper(), path)] = result if callable(result) else (lambda _s, r=result: r)
        return self

    def __call__(self, seen: Seen) -> Any:
        handler = self.routes.get((seen.method, seen.path))
        if handler is None:
            return 404, {"code": "not_found", "error": True, "message": "Not found"}
        return handler(seen)
