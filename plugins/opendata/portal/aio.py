"""Async read of the approval state (httpx), for a deferrable trigger in Airflow's triggerer.

It uses the same connection settings, retry policy, typed errors, log format and pure parsers
as the sync hook; only the I/O differs. Read-only: it never submits or changes anything.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

import httpx

from opendata.portal.approvals import ApprovalStatus, approval_status_from_json
from opendata.portal.config import SocrataConnectionConfig
from opendata.portal.errors import (
    SocrataConnectionError,
    SocrataTimeout,
    SocrataUnexpectedResponse,
    error_from_response,
)
from opendata.portal.redaction import Redactor, loggable_target
from opendata.portal.retry import parse_retry_after
from opendata.portal.transport import JSONValue, PortalLog

_log = logging.getLogger(__name__)

_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _client(
    config: SocrataConnectionConfig, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    headers = {"X-Socrata-Host": config.host_header, "User-Agent": "civic-opendata SocrataHook (httpx)"}
    if config.app_token:
        headers["X-App-Token"] = config.app_token
    auth = httpx.BasicAuth(config.username, config.password) if config.username and config.password else None
    return httpx.AsyncClient(
        base_url=config.base_url,
        headers=headers,
        auth=auth,
        timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
        follow_redirects=False,
        transport=transport,
    )


async def get_json(
    client: httpx.AsyncClient,
    config: SocrataConnectionConfig,
    path: str,
    *,
    params: Mapping[str, str | int | float] | None = None,
    logger: PortalLog | None = None,
    redactor: Redactor | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> JSONValue:
    """GET ``path`` with retries per the connection's policy; return decoded JSON."""
    log: PortalLog = logger or _log
    policy = config.retry_policy
    redactor = redactor or Redactor(config.secrets())
    retry_number = 0
    while True:
        attempt = retry_number + 1
        started = time.monotonic()
        try:
            response = await client.get(path, params=params)
        except _RETRYABLE as err:
            elapsed = time.monotonic() - started
            kind = "timeout" if isinstance(err, httpx.TimeoutException) else "connection error"
            can_retry = retry_number < policy.max_retries
            log.warning(
                "Socrata GET %s failed: %s after %.3fs (attempt %d/%d)%s",
                path,
                kind,
                elapsed,
                attempt,
                policy.max_attempts,
                "; retrying" if can_retry else "",
            )
            if not can_retry:
                cls = SocrataTimeout if isinstance(err, httpx.TimeoutException) else SocrataConnectionError
                raise cls(
                    f"{kind} talking to the portal after {attempt} attempt(s)", method="GET", path=path
                ) from None
            await sleep(policy.compute_delay(retry_number, rng=rng))
            retry_number += 1
            continue
        elapsed = time.monotonic() - started
        status = response.status_code
        request_id = response.headers.get("X-Socrata-RequestId")
        can_retry = policy.should_retry_status(status) and retry_number < policy.max_retries
        log.log(
            logging.INFO if status < 400 and status != 202 else logging.WARNING,
            "Socrata GET %s -> %d in %.3fs (X-Socrata-RequestId: %s, attempt %d/%d)%s",
            loggable_target(str(response.request.url)),
            status,
            elapsed,
            request_id or "-",
            attempt,
            policy.max_attempts,
            "; retrying" if can_retry else "",
        )
        if can_retry:
            retry_after = parse_retry_after(response.headers)
            await sleep(policy.compute_delay(retry_number, retry_after=retry_after, rng=rng))
            retry_number += 1
            continue
        if 200 <= status < 300 and status != 202:
            if not response.content.strip():
                return None
            try:
                decoded: JSONValue = response.json()
            except ValueError:
                raise SocrataUnexpectedResponse(
                    "Response body is not JSON", status=status, request_id=request_id, method="GET", path=path
                ) from None
            return decoded
        error = error_from_response(
            status,
            response.content,
            response.headers,
            method="GET",
            path=path,
            reason=response.reason_phrase,
            retry_after=parse_retry_after(response.headers),
        )
        error.message = redactor.redact(error.message)
        error.args = (error.message,)
        raise error


async def fetch_approval_status(
    config: SocrataConnectionConfig,
    dataset_id: str,
    *,
    audience: str = "public",
    logger: PortalLog | None = None,
    redactor: Redactor | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ApprovalStatus:
    """Async twin of ``SocrataHook.get_approval_status`` (guidance_v2 plus the view's approvals).

    :param transport: httpx transport override (tests use ``httpx.MockTransport``).
    """
    http = _client(config, transport)
    try:
        guidance = await get_json(
            http,
            config,
            f"/api/views/{dataset_id}/approvals",
            params={"method": "guidance_v2", "assetId": dataset_id},
            logger=logger,
            redactor=redactor,
        )
        view = await get_json(http, config, f"/api/views/{dataset_id}.json", logger=logger, redactor=redactor)
    finally:
        await http.aclose()
    approvals = view.get("approvals") if isinstance(view, Mapping) else None
    records = [a for a in approvals if isinstance(a, Mapping)] if isinstance(approvals, list) else None
    return approval_status_from_json(dataset_id, guidance, records, audience)
