"""Test-only admin endpoints under ``/__emulator``: faults, counters, and dataset fixtures that the
public API cannot produce (comment counts, back-dated timestamps for monitors)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..auth import require_admin
from ..config import FaultSettings
from ..errors import bad_request, not_found_view
from .common import json_body, json_response, stats, store

router = APIRouter(prefix="/__emulator")
TIMESTAMP_FIELDS = {
    "dataUpdatedAt": "data_updated_at",
    "rowsUpdatedAt": "data_updated_at",
    "metadataUpdatedAt": "metadata_updated_at",
    "viewLastModified": "metadata_updated_at",
    "createdAt": "created_at",
    "publicationDate": "publication_date",
}


@router.get("/health")
def health(request: Request) -> Response:
    return json_response({"status": "ok", "pid": request.app.state.pid})


@router.get("/faults")
def get_faults(request: Request) -> Response:
    require_admin(request)
    return json_response(request.app.state.faults.describe())


@router.post("/faults")
async def set_faults(request: Request) -> Response:
    require_admin(request)
    body = await json_body(request)
    known = {f.name for f in fields(FaultSettings)}
    if not isinstance(body, dict) or set(body) - known:
        raise bad_request(f"Fault settings are a JSON object with keys among {sorted(known)}")
    try:
        settings = FaultSettings(**{**request.app.state.faults.describe(), **body})
        settings.kinds = [str(k) for k in settings.kinds]
        request.app.state.faults.configure(settings)
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from None
    return json_response(request.app.state.faults.describe())


@router.delete("/faults")
def clear_faults(request: Request) -> Response:
    require_admin(request)
    request.app.state.faults.configure(FaultSettings())
    return json_response(request.app.state.faults.describe())


@router.get("/stats")
def get_stats(request: Request) -> Response:
    require_admin(request)
    return json_response(stats(request).snapshot())


@router.post("/stats/reset")
def reset_stats(request: Request) -> Response:
    require_admin(request)
    stats(request).reset()
    return json_response(stats(request).snapshot())


@router.post("/datasets/{dataset_id}/comments")
async def set_comments(request: Request, dataset_id: str) -> Response:
    require_admin(request)
    body = await json_body(request)
    n = body.get("numberOfComments") if isinstance(body, dict) else None
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise bad_request('Send {"numberOfComments": <non-negative int>}')
    ds = await run_in_threadpool(store(request).set_admin_fields, dataset_id, number_of_comments=n)
    if ds is None:
        raise not_found_view(dataset_id)
    return json_response({"id": ds.id, "numberOfComments": ds.number_of_comments})


def _epoch(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise bad_request(f"Not an ISO-8601 timestamp: {value!r}") from None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    raise bad_request("Timestamps are epoch seconds or ISO-8601 strings")


@router.post("/datasets/{dataset_id}/timestamps")
async def set_timestamps(request: Request, dataset_id: str) -> Response:
    """Back-date a dataset so monitor tests can build portals of mixed ages."""
    require_admin(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not body or set(body) - set(TIMESTAMP_FIELDS):
        raise bad_request(f"Send an object with keys among {sorted(TIMESTAMP_FIELDS)}")
    values = {TIMESTAMP_FIELDS[k]: _epoch(v) for k, v in body.items()}
    # In a worker thread: the write lock may be held by an upsert, and the event loop must not wait.
    ds = await run_in_threadpool(store(request).set_admin_fields, dataset_id, **values)
    if ds is None:
        raise not_found_view(dataset_id)
    return json_response(
        {
            "id": ds.id,
            "createdAt": ds.created_at,
            "dataUpdatedAt": ds.data_updated_at,
            "metadataUpdatedAt": ds.metadata_updated_at,
            "publicationDate": ds.publication_date,
        }
    )
