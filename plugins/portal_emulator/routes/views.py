"""Legacy core views API: create, read, update (sodapy ``update_metadata``), setPermission, publish,
and the Permissions API."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import licenses, rows
from ..auth import current_account, require_writer
from ..datatypes import canonical_type
from ..errors import SocrataError, bad_request
from ..render import permissions_json, view_json
from ..store import Dataset, resolve_column_id
from .common import json_body, json_response, readable_view, store, workflow, writable_view

router = APIRouter()
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Keys that PUT /api/views/{id}.json may replace; anything else is read-only and ignored, as the
# portal silently ignores keys that cannot be changed this way (reference §1, sodapy PR #23).
_SIMPLE_KEYS = (
    "name",
    "description",
    "category",
    "attribution",
    "attributionLink",
    "hideFromCatalog",
    "hideFromDataJson",
)


def _view(request: Request, ds: Dataset) -> dict[str, Any]:
    return view_json(ds, store(request).approvals_for(ds.pk), current_account(request))


def _field_name(col: dict[str, Any]) -> str:
    name = col.get("fieldName") or re.sub(r"[^a-z0-9]+", "_", str(col.get("name", "")).lower()).strip("_")
    name = str(name).lower()
    if not _FIELD_NAME.match(name):
        raise bad_request(f"Invalid column field name {name!r}", code="column.invalid")
    return name


def _new_column(col: Any) -> dict[str, Any]:
    if not isinstance(col, dict):
        raise bad_request("Each column must be an object", code="column.invalid")
    field = _field_name(col)
    try:
        data_type = canonical_type(col.get("dataTypeName") or "text")
    except ValueError as exc:
        raise bad_request(str(exc), code="column.invalid") from None
    return {
        "name": str(col.get("name") or field),
        "fieldName": field,
        "dataTypeName": data_type,
        "renderTypeName": data_type,
        "description": str(col.get("description") or ""),
        "format": col.get("format") or {},
    }


@router.post("/api/views.json")
async def create_view(request: Request) -> Response:
    account = require_writer(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise bad_request("A dataset needs a name", code="view.invalid")
    columns = [_new_column(c) for c in body.get("columns") or []]
    fields = [c["fieldName"] for c in columns]
    if len(set(fields)) != len(fields):
        raise bad_request("Column field names must be unique", code="column.duplicate")
    metadata = dict(body.get("metadata") or {})
    row_identifier = body.get("rowIdentifierColumnId", metadata.pop("rowIdentifier", None))
    lic = licenses.find(body.get("licenseId") or (body.get("license") or {}).get("name"))
    doc = {
        "name": body["name"],
        "description": body.get("description") or "",
        "category": body.get("category"),
        "tags": _tags(body.get("tags")),
        "attribution": body.get("attribution"),
        "attributionLink": body.get("attributionLink"),
        "licenseId": lic["id"] if lic else None,
        "metadata": metadata,
        "owner": _owner(account),
    }
    try:
        ds = await run_in_threadpool(store(request).create_dataset, doc, columns, row_identifier)
    except KeyError:
        raise bad_request(
            f"Row identifier {row_identifier!r} is not a column", code="row_identifier.invalid"
        ) from None
    return json_response(_view(request, ds))


def _owner(account) -> dict[str, Any]:
    return {
        "id": account.user_id,
        "displayName": account.name,
        "screenName": account.name,
        "type": "interactive",
        "flags": [],
    }


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise bad_request("tags must be a list of strings", code="view.invalid")
    return value


@router.get("/api/views/{dataset_id}.{ext}")
def get_view(request: Request, dataset_id: str, ext: str) -> Response:
    return json_response(_view(request, readable_view(request, dataset_id)))


@router.put("/api/views/{dataset_id}.{ext}")
async def put_view(request: Request, dataset_id: str, ext: str) -> Response:
    account = require_writer(request)
    method = request.query_params.get("method")
    if method == "setPermission":
        value = request.query_params.get("value", "")
        audience = {"public.read": "public", "public": "public", "private": "private", "site": "site"}.get(
            value
        )
        if audience is None:
            raise bad_request(f"Unknown permission value {value!r}", code="permission.invalid")
        writable_view(request, dataset_id)
        await run_in_threadpool(workflow(request).request_audience, dataset_id, audience, account)
        return Response(status_code=200)  # sodapy expects an empty 200 here
    if method:
        raise bad_request(f"Unsupported method {method!r}", code="method.unsupported")
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object of view keys", code="view.invalid")
    writable_view(request, dataset_id)
    ds = await run_in_threadpool(_update_view, request, dataset_id, body)
    return json_response(_view(request, ds))


def _update_view(request: Request, dataset_id: str, body: dict[str, Any]) -> Dataset:
    s = store(request)
    with s.writing() as c:
        ds = s.get_dataset(dataset_id, c)
        doc = ds.doc
        for key in _SIMPLE_KEYS:
            if key in body:
                doc[key] = body[key]
        if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
            raise bad_request("name must be a non-empty string", code="view.invalid")
        if "tags" in body:
            doc["tags"] = _tags(body["tags"])
        if "licenseId" in body or "license" in body:
            ref = body.get("licenseId") or (body.get("license") or {}).get("name")
            lic = licenses.find(ref)
            if ref and lic is None:
                raise bad_request(f"Unknown license {ref!r}", code="license.invalid")
            doc["licenseId"] = lic["id"] if lic else None
        if "columns" in body:
            _merge_columns(s, c, ds, body["columns"])
        new_rid = doc.get("rowIdentifierColumnId")
        if "metadata" in body:
            metadata = dict(body["metadata"] or {})
            if "rowIdentifier" in metadata:
                new_rid = metadata.pop("rowIdentifier")
            doc["metadata"] = metadata
        if "rowIdentifierColumnId" in body:
            new_rid = body["rowIdentifierColumnId"]
        try:
            new_rid = resolve_column_id(doc["columns"], new_rid)
        except KeyError:
            raise bad_request(
                f"Row identifier {new_rid!r} is not a column", code="row_identifier.invalid"
            ) from None
        if new_rid != doc.get("rowIdentifierColumnId"):
            doc["rowIdentifierColumnId"] = new_rid
            rows.rekey(c, ds, ds.row_identifier_field)
        s.update_dataset(c, ds)
        return s.get_dataset(dataset_id, c)


def _merge_columns(s, c, ds: Dataset, incoming: Any) -> None:
    """Update columns matched by id or fieldName and add new ones; columns left out are kept."""
    if not isinstance(incoming, list):
        raise bad_request("columns must be a list", code="column.invalid")
    existing = ds.doc["columns"]
    by_id = {col["id"]: col for col in existing}
    by_field = {col["fieldName"]: col for col in existing}
    for item in incoming:
        if not isinstance(item, dict):
            raise bad_request("Each column must be an object", code="column.invalid")
        col = by_id.get(item.get("id")) or by_field.get(item.get("fieldName"))
        if col is None:
            new = _new_column(item)
            if new["fieldName"] in by_field:
                raise bad_request(f"Duplicate column {new['fieldName']}", code="column.duplicate")
            new["id"] = new["tableColumnId"] = s.next_counter(c, "column_id", 230641050)
            new["position"] = len(existing) + 1
            existing.append(new)
            by_field[new["fieldName"]] = new
            continue
        if "dataTypeName" in item and canonical_type(item["dataTypeName"]) != col["dataTypeName"]:
            raise bad_request(
                "Changing a column's type is not supported by this emulator", code="column.invalid"
            )
        if "fieldName" in item and item["fieldName"] != col["fieldName"]:
            raise bad_request(
                "Renaming a column's fieldName is not supported by this emulator", code="column.invalid"
            )
        for key in ("name", "description", "format"):
            if key in item:
                col[key] = item[key]


@router.delete("/api/views/{dataset_id}.{ext}")
def delete_view(request: Request, dataset_id: str, ext: str) -> Response:
    require_writer(request)
    writable_view(request, dataset_id)
    raise SocrataError(
        403, "deletion_disabled", "Dataset deletion is disabled on this emulator", {"id": dataset_id}
    )


@router.post("/api/views/{dataset_id}/publication.{ext}")
def publish(request: Request, dataset_id: str, ext: str) -> Response:
    require_writer(request)
    if request.query_params.get("method"):
        raise bad_request(
            "Working copies (method=copy/copySchema) are not supported by this emulator",
            code="method.unsupported",
        )
    writable_view(request, dataset_id)
    s = store(request)
    with s.writing() as c:
        ds = s.get_dataset(dataset_id, c)
        if not ds.is_published:
            s.update_dataset(c, ds, publication_stage="published", publication_date=time.time())
        ds = s.get_dataset(dataset_id, c)
    return json_response(_view(request, ds))


@router.get("/api/views/{dataset_id}/permissions")
def get_permissions(request: Request, dataset_id: str) -> Response:
    return json_response(permissions_json(readable_view(request, dataset_id)))


@router.put("/api/views/{dataset_id}/permissions")
async def put_permissions(request: Request, dataset_id: str) -> Response:
    account = require_writer(request)
    body = await json_body(request)
    writable_view(request, dataset_id)
    if not isinstance(body, dict) or body.get("scope") not in ("private", "site", "public"):
        raise bad_request("scope must be one of private, site, public", code="permission.invalid")
    # Only the scope is modelled; the owner is the single user (``users`` is accepted and ignored).
    ds = await run_in_threadpool(workflow(request).request_audience, dataset_id, body["scope"], account)
    return json_response(permissions_json(ds))
