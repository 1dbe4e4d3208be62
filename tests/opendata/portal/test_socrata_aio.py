"""Async approval-state read (httpx), on httpx.MockTransport: same parsing, retries and errors."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from opendata.portal.aio import fetch_approval_status
from opendata.portal.config import SocrataConnectionConfig
from opendata.portal.errors import SocrataAuthError, SocrataNotFound
from opendata.portal.models import ApprovalState

DSID = "abcd-1234"
CONFIG = SocrataConnectionConfig.from_parts(
    host="https://data.example.gov",
    login="key-id",
    password="pw-async-SECRET",
    extra={"app_token": "tok-async-SECRET", "backoff_base": 0, "max_retries": 3},
)


def run(handler):
    seen: list[httpx.Request] = []

    def wrapped(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    status = asyncio.run(fetch_approval_status(CONFIG, DSID, transport=httpx.MockTransport(wrapped)))
    return status, seen


def portal(request: httpx.Request) -> httpx.Response:
    if request.url.path == f"/api/views/{DSID}/approvals":
        return httpx.Response(200, json={"public": {"currentState": "rejected"}, "internal": {}})
    if request.url.path == f"/api/views/{DSID}.json":
        approvals = [{"state": "rejected", "reviewedAt": 1700000000, "notes": "needs a data dictionary"}]
        return httpx.Response(200, json={"id": DSID, "approvals": approvals})
    return httpx.Response(404, json={"code": "not_found", "message": "Not found"})


def test_reads_state_and_latest_review_with_auth_headers():
    status, seen = run(portal)
    assert status.state is ApprovalState.REJECTED and status.is_final
    assert status.reviewed_at is not None and status.latest_review.state == "rejected"
    assert "notes" not in status.to_dict()  # no recording shows a reviewer's notes: never read
    guidance = seen[0]
    assert guidance.url.params["method"] == "guidance_v2" and guidance.url.params["assetId"] == DSID
    assert guidance.headers["X-App-Token"] == "tok-async-SECRET"
    assert guidance.headers["X-Socrata-Host"] == "data.example.gov"
    expected = base64.b64encode(b"key-id:pw-async-SECRET").decode()
    assert guidance.headers["Authorization"] == f"Basic {expected}"


def test_retries_then_succeeds():
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, json={"message": "busy"})
        if calls["n"] == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return portal(request)

    status, seen = run(flaky)
    assert status.state is ApprovalState.REJECTED
    assert len(seen) == 4  # 503, timeout, then guidance and view


@pytest.mark.parametrize(("code", "cls"), [(404, SocrataNotFound), (403, SocrataAuthError)])
def test_typed_errors(code, cls):
    def fail(request):
        return httpx.Response(code, json={"code": "x", "message": "pw-async-SECRET is wrong"})

    with pytest.raises(cls) as info:
        run(fail)
    assert "pw-async-SECRET" not in str(info.value)
