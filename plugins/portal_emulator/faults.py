"""Fault injection and per-request bookkeeping, as one ASGI middleware around the app.

A fault usually strikes before the request reaches the app, but a share (``after_ratio``) strikes
after it was applied and replaces the real answer: the write happened, the client never hears of it.
That is the case that makes blind retries of non-idempotent writes dangerous, so tests need it.

Lost answers (``--lost-answer-rate``, on by default in strict mode) are that "after" case on their
own: a seeded share of API writes is applied and answered with a 500 or 502, as a real portal now
and then does (reference, "Corrections from review"). They are independent of the faults set at
run time through ``/__emulator/faults``, which still strike on top, and are counted in the stats as
the fault kinds ``lost_answer_500`` / ``lost_answer_502``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import threading
import time
from dataclasses import asdict
from typing import Any, NamedTuple

from starlette.routing import Match

from .config import FaultSettings

log = logging.getLogger("portal_emulator.access")

STATUS_KINDS = {"429", "500", "502", "503", "504", "202"}
KINDS = STATUS_KINDS | {"timeout", "slow"}
#: Faults that by their meaning strike before the request is processed.
BEFORE_ONLY_KINDS = frozenset({"slow", "429"})
# Browser pages, the emulator's own endpoints and health checks never fail.
EXEMPT_PREFIXES = ("/__emulator", "/review", "/d/", "/static", "/favicon.ico")
# Lost answers strike writes to the portal's APIs only.
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
API_PREFIXES = ("/api/", "/resource/", "/views/")
LOST_ANSWER_KINDS = ("500", "502")


class Decision(NamedTuple):
    kind: str  # a fault kind (KINDS)
    phase: str  # "before" | "after" the app handled the request
    lost_answer: bool = False  # a strict-mode lost answer rather than a configured fault

    @property
    def label(self) -> str:
        """The kind as counted in the stats and written to the access log."""
        return f"lost_answer_{self.kind}" if self.lost_answer else self.kind


def validate(settings: FaultSettings) -> FaultSettings:
    bad = [k for k in settings.kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown fault kinds {bad}; use {sorted(KINDS)}")
    if not 0.0 <= settings.rate <= 1.0 or not 0.0 <= settings.after_ratio <= 1.0:
        raise ValueError("rate and after_ratio must be between 0 and 1")
    if settings.lost_answer_rate is not None and not 0.0 <= settings.lost_answer_rate <= 1.0:
        raise ValueError("lost_answer_rate must be between 0 and 1")
    if settings.methods:
        settings.methods = [m.upper() for m in settings.methods]
    return settings


class FaultInjector:
    def __init__(self, settings: FaultSettings):
        self._lock = threading.Lock()
        self.lost_answer_rate = 0.0
        self.lost_answer_seed: int | None = None
        self._lost_rng = random.Random()
        self.configure(settings)

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = validate(settings)
            self.rng = random.Random(settings.seed)
            # Lost answers have their own generator, so their share does not shift when the faults
            # are reconfigured; settings that do not change the rate or seed leave them as they are.
            wanted = (settings.lost_answer_rate, settings.lost_answer_seed)
            if settings.lost_answer_rate is not None and wanted != (self.lost_answer_rate, self.lost_answer_seed):
                self.lost_answer_rate = settings.lost_answer_rate
                self.lost_answer_seed = settings.lost_answer_seed
                self._lost_rng = random.Random(settings.lost_answer_seed)
            settings.lost_answer_rate = self.lost_answer_rate
            settings.lost_answer_seed = self.lost_answer_seed

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self.settings)

    def decide(self, method: str, path: str) -> Decision | None:
        """What strikes this request: a configured fault, else perhaps a lost answer, else None."""
        if path == "/" or path.startswith(EXEMPT_PREFIXES):
            return None
        with self._lock:
            return self._fault(method, path) or self._lost_answer(method, path)

    def _fault(self, method: str, path: str) -> Decision | None:
        s = self.settings
        if not s.kinds or (s.count is None and s.rate <= 0) or (s.count is not None and s.count <= 0):
            return None
        if s.methods and method not in s.methods:
            return None
        if s.path_prefixes and not path.startswith(tuple(s.path_prefixes)):
            return None
        if s.count is not None:
            s.count -= 1
        elif self.rng.random() >= s.rate:
            return None
        kind = self.rng.choice(s.kinds)
        # A 429 is a refusal by the rate limiter, before the request is processed (RFC 6585), and
        # clients rely on that to repeat even a create: a 429 after applying the write was a
        # fault no portal produces, and it made the pipeline's retried create a second dataset.
        after = self.rng.random() < s.after_ratio
        phase = "after" if kind not in BEFORE_ONLY_KINDS and after else "before"
        return Decision(kind, phase)

    def _lost_answer(self, method: str, path: str) -> Decision | None:
        if self.lost_answer_rate <= 0 or method not in WRITE_METHODS or not path.startswith(API_PREFIXES):
            return None
        if self._lost_rng.random() >= self.lost_answer_rate:
            return None
        return Decision(self._lost_rng.choice(LOST_ANSWER_KINDS), "after", lost_answer=True)


_JSON_FAULTS = {
    "429": ("too_many_requests", "Too many requests, you have been throttled"),
    "500": ("internal_error", "Internal error"),
    "503": ("service_unavailable", "Service temporarily unavailable"),
}
_HTML_TITLES = {"502": "502 Bad Gateway", "504": "504 Gateway Time-out", "timeout": "504 Gateway Time-out"}


def fault_response(kind: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of an injected failure, shaped like what the portal's edge sends:
    Socrata JSON errors from the application, HTML pages from the load balancer (502/504)."""
    json_ct = (b"content-type", b"application/json; charset=utf-8")
    if kind in _JSON_FAULTS:
        code, message = _JSON_FAULTS[kind]
        body = json.dumps({"code": code, "error": True, "message": message, "data": {}}).encode()
        return int(kind), [json_ct, (b"x-error-code", code.encode())], body
    if kind == "202":
        message = "Request Processing: retry your request, and when it is complete you will get a 200"
        return (
            202,
            [json_ct],
            json.dumps({"code": "request_processing", "error": False, "message": message}).encode(),
        )
    title = _HTML_TITLES[kind]
    body = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>"
    return int(title[:3]), [(b"content-type", b"text/html")], body.encode()


class EmulatorMiddleware:
    """Request ids, body byte counting, route-template statistics, access log and fault injection."""

    def __init__(self, app, injector: FaultInjector, stats):
        self.app = app
        self.injector = injector
        self.stats = stats

    def _template(self, scope) -> str:
        for route in getattr(self.app, "routes", []):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} (unmatched)"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.monotonic()
        request_id = secrets.token_hex(12)
        scope["emulator.request_id"] = request_id
        received = 0
        status_seen = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def tagged_send(message):
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-socrata-requestid", request_id.encode())]
            await send(message)

        decision = self.injector.decide(scope["method"], scope["path"])
        try:
            if decision is None:
                await self.app(scope, counting_receive, tagged_send)
            else:
                await self._with_fault(decision, scope, counting_receive, tagged_send)
        finally:
            self.stats.request(self._template(scope), status_seen, received)
            account = scope.get("emulator.account")
            query = scope.get("query_string", b"").decode("latin-1")
            if "app_token" in query:
                query = "&".join(
                    p if "app_token" not in p.split("=")[0] else p.split("=")[0] + "=***"
                    for p in query.split("&")
                )
            log.info(
                "%s %s%s %s %.0fms user=%s fault=%s rid=%s",
                scope["method"],
                scope["path"],
                f"?{query}" if query else "",
                status_seen,
                (time.monotonic() - started) * 1000,
                account.name if account else "-",
                f"{decision.label}/{decision.phase}" if decision else "-",
                request_id,
            )

    async def _with_fault(self, decision: Decision, scope, receive, send):
        kind, phase = decision.kind, decision.phase
        self.stats.fault(decision.label, phase)
        s = self.injector.settings
        if kind == "slow":
            await asyncio.sleep(s.slow_seconds)
            return await self.app(scope, receive, send)
        if phase == "after":
            captured = []

            async def capture(message):
                captured.append(message)

            await self.app(scope, receive, capture)
            if kind == "timeout":
                # Held past the client's read timeout, then the real (applied) answer goes nowhere.
                await asyncio.sleep(s.timeout_seconds)
                for message in captured:
                    await send(message)
                return
        else:
            while True:  # drain the body so the connection stays usable and bytes are counted
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            if kind == "timeout":
                await asyncio.sleep(s.timeout_seconds)
        status, headers, body = fault_response(kind)
        if s.retry_after is not None and status in (429, 503):
            headers = [*headers, (b"retry-after", str(max(1, round(s.retry_after))).encode())]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
