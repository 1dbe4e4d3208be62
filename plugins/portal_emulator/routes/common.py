"""Helpers shared by the route modules: app services, the caller's domain, access checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..approvals import Workflow
from ..auth import current_account
from ..config import EmulatorConfig
from ..errors import SocrataError, authentication_required, not_found_view
from ..render import visible_to_anonymous
from ..stats import Stats
from ..store import Dataset, Store

JSON = "application/json; charset=utf-8"


def store(request: Request) -> Store:
    return request.app.state.store


def config(request: Request) -> EmulatorConfig:
    return request.app.state.config


def workflow(request: Request) -> Workflow:
    return request.app.state.workflow


def stats(request: Request) -> Stats:
    return request.app.state.stats


def domain(request: Request) -> str:
    """The portal domain: configured, else the ``X-Socrata-Host`` the client named, else the Host it
    connected to (which is what sodapy passes as ``domains``)."""
    return (
        config(request).domain
        or request.headers.get("x-socrata-host")
        or request.headers.get("host")
        or "localhost"
    )


def domain_aliases(request: Request) -> set[str]:
    """Every name this single-domain portal answers to, for Discovery's ``domains`` filter."""
    names = {domain(request), request.headers.get("x-socrata-host"), request.headers.get("host")}
    return {n.lower() for n in names if n}


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON, headers=headers)


def anonymous_can_read(request: Request, ds: Dataset) -> bool:
    """Whether a caller without credentials may see the dataset (published, public, approved,
    not hidden): what every anonymous read path checks, the API and the pages alike."""
    return visible_to_anonymous(ds, store(request).approvals_for(ds.pk), config(request).approvals_enabled)


def can_read(ds: Dataset, request: Request) -> bool:
    return current_account(request) is not None or anonymous_can_read(request, ds)


def writable_view(
    request: Request, dataset_id: str, missing: Callable[[str], SocrataError] = not_found_view
) -> Dataset:
    """A dataset by id: ``missing`` is the error for an unknown one (/api/views: 404 not_found;
    SODA2 /resource answers dataset.missing)."""
    current_account(request)  # bad credentials are a 401 even for an unknown dataset, as on the portal
    ds = store(request).get_dataset(dataset_id)
    if ds is None:
        raise missing(dataset_id)
    return ds


def readable_view(
    request: Request, dataset_id: str, missing: Callable[[str], SocrataError] = not_found_view
) -> Dataset:
    """A dataset the caller may read: as :func:`writable_view`, and 403 for anonymous callers on a
    dataset they cannot see (a private one, or a draft whatever its audience)."""
    ds = writable_view(request, dataset_id, missing)
    if not can_read(ds, request):
        raise authentication_required()
    return ds


async def json_body(request: Request) -> Any:
    from ..errors import bad_request

    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("Malformed JSON body", code="json.malformed") from None
