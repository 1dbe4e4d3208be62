"""Metadata API v1 (reference §2.6): read, PATCH with ``customFields`` null semantics, validateOnly, list.

A category, custom fieldset or field the domain does not have (``--categories``, ``--fieldsets``)
is a warning: metadata.json says warnings fail an update only with ``strict=true``, and a
``validateOnly=true&strict=true`` dry run lists them as errors without applying anything.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import licenses
from ..auth import require_writer, sees_private
from ..config import EmulatorConfig
from ..errors import SocrataError, authentication_required, bad_request, not_found_view
from ..render import metadata_json
from ..store import Dataset
from .common import anonymous_can_read, base_url, config, domain, json_body, json_response, store

router = APIRouter()
WRITABLE = (
    "name",
    "description",
    "category",
    "tags",
    "license",
    "attribution",
    "attributionLink",
    "externalId",
    "customFields",
    "contactPoint",
)
READ_ONLY = (
    "id",
    "domain",
    "dataUri",
    "webUri",
    "createdAt",
    "updatedAt",
    "dataUpdatedAt",
    "metadataUpdatedAt",
    "provenance",
    "hideFromCatalog",
    "hideFromDataJson",
)
_STRING_OR_NULL = ("description", "category", "attribution", "attributionLink", "externalId")


def _render(request: Request, ds: Dataset) -> dict[str, Any]:
    return metadata_json(ds, domain(request), base_url(request))


@router.get("/api/views/metadata/v1")
def list_metadata(request: Request, limit: int = 100, page: int = 1, method: str | None = None) -> Response:
    if method == "help":
        return json_response(
            {
                "endpoints": [
                    "GET /api/views/metadata/v1?limit=&page=",
                    "GET /api/views/metadata/v1/{id}",
                    "PATCH /api/views/metadata/v1/{id}[?validateOnly=true][&strict=true]",
                ],
                "writableFields": list(WRITABLE),
                "readOnlyFields": list(READ_ONLY),
                "customFields": "{fieldset: {field: value}}; null wipes all, {fieldset: null} one fieldset, "
                "{fieldset: {field: null}} one field",
            }
        )
    if limit < 1 or page < 1:
        raise bad_request("limit and page must be positive", code="invalid_parameter")
    private = sees_private(request) is not None
    found = [ds for ds in store(request).list_datasets() if private or anonymous_can_read(request, ds)]
    start = (page - 1) * limit
    return json_response([_render(request, ds) for ds in found[start : start + limit]])


@router.get("/api/views/metadata/v1/{dataset_id}")
def get_metadata(request: Request, dataset_id: str) -> Response:
    ds = store(request).get_dataset(dataset_id)
    if ds is None:
        raise not_found_view(dataset_id)
    if sees_private(request) is None and not anonymous_can_read(request, ds):
        raise authentication_required()  # private, or a draft: anonymous callers see neither
    return json_response(_render(request, ds))


@router.patch("/api/views/metadata/v1/{dataset_id}")
async def patch_metadata(request: Request, dataset_id: str) -> Response:
    require_writer(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object", code="metadata.invalid")
    validate_only = request.query_params.get("validateOnly", "").lower() == "true"
    strict = request.query_params.get("strict", "").lower() == "true"
    ds = store(request).get_dataset(dataset_id)
    if ds is None:
        raise not_found_view(dataset_id)
    current = _render(request, ds)
    doc = copy.deepcopy(ds.doc)
    errors, warnings = apply_patch(doc, body, current)
    warnings += vocabulary_warnings(body, config(request))
    if strict:
        errors, warnings = errors + warnings, []
    if validate_only:
        return json_response({"valid": not errors, "errors": errors, "warnings": warnings})
    if errors:
        raise SocrataError(
            400, "metadata.invalid", errors[0]["message"], {"errors": errors, "warnings": warnings}
        )

    def save() -> Dataset:
        s = store(request)
        with s.writing() as c:
            fresh = s.get_dataset(dataset_id, c)
            fresh.doc = doc
            s.update_dataset(c, fresh)
            return s.get_dataset(dataset_id, c)

    return json_response(_render(request, await run_in_threadpool(save)))


def apply_patch(doc: dict[str, Any], patch: dict[str, Any], current: dict[str, Any]):
    """Apply a PATCH to a copy of the dataset doc; returns (errors, warnings) as {field, message}."""
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []

    def err(f: str, m: str) -> None:
        errors.append({"field": f, "message": m})

    for key, value in patch.items():
        if key in READ_ONLY:
            if value != current.get(key):
                warnings.append({"field": key, "message": f"{key} is read-only and was ignored"})
        elif key not in WRITABLE:
            warnings.append({"field": key, "message": f"Unknown field {key} was ignored"})
        elif key == "name":
            if not isinstance(value, str) or not value.strip():
                err(key, "name must be a non-empty string")
            else:
                doc["name"] = value
        elif key in _STRING_OR_NULL:
            if value is not None and not isinstance(value, str):
                err(key, f"{key} must be a string or null")
            else:
                doc[key] = value if key != "description" else (value or "")
        elif key == "tags":
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(t, str) for t in value)
            ):
                err(key, "tags must be a list of strings")
            else:
                doc["tags"] = value or []
        elif key == "license":
            lic = licenses.find(value) if value is not None else None
            if value is not None and lic is None:
                err(key, f"Unknown license {value!r}; see /api/licenses")
            else:
                doc["licenseId"] = lic["id"] if lic else None
        elif key == "contactPoint":
            if value is not None and not isinstance(value, dict):
                err(key, "contactPoint must be an object {fn, hasEmail}")
            else:
                doc["contactPoint"] = value
        elif key == "customFields":
            _custom_fields(doc, value, err)
    return errors, warnings


def vocabulary_warnings(patch: dict[str, Any], cfg: EmulatorConfig) -> list[dict[str, str]]:
    """What in a PATCH names a category, custom fieldset or field the domain does not have.

    Clearing (``null``) is never reported: removing something that is not there changes nothing.
    """
    out: list[dict[str, str]] = []
    category = patch.get("category")
    if cfg.categories is not None and isinstance(category, str) and category not in cfg.categories:
        out.append({"field": "category", "message": f"Category {category!r} does not exist on this domain"})
    custom = patch.get("customFields")
    if cfg.fieldsets is None or not isinstance(custom, dict):
        return out
    for fieldset, entries in custom.items():
        if entries is None:
            continue
        known = cfg.fieldsets.get(fieldset)
        if known is None:
            out.append(
                {"field": "customFields", "message": f"Custom fieldset {fieldset!r} does not exist on this domain"}
            )
            continue
        for name, value in entries.items() if isinstance(entries, dict) else ():
            if value is not None and name not in known:
                out.append(
                    {
                        "field": "customFields",
                        "message": f"Custom field {name!r} does not exist in fieldset {fieldset!r}",
                    }
                )
    return out


def _custom_fields(doc: dict[str, Any], value: Any, err) -> None:
    """``null`` wipes all, ``{"Set": null}`` a fieldset, ``{"Set": {"F": null}}`` one field; else merge."""
    metadata = doc.setdefault("metadata", {})
    if value is None:
        metadata.pop("custom_fields", None)
        return
    if not isinstance(value, dict):
        err("customFields", "customFields must be an object of fieldsets")
        return
    fields = copy.deepcopy(metadata.get("custom_fields") or {})
    for fieldset, entries in value.items():
        if entries is None:
            fields.pop(fieldset, None)
            continue
        if not isinstance(entries, dict):
            err("customFields", f"Fieldset {fieldset!r} must be an object or null")
            continue
        target = fields.setdefault(fieldset, {})
        for name, v in entries.items():
            if v is None:
                target.pop(name, None)
            elif isinstance(v, str):
                target[name] = v
            else:
                err("customFields", f"Custom field {fieldset}/{name} must be a string or null")
        if not target:
            fields.pop(fieldset, None)
    if fields:
        metadata["custom_fields"] = fields
    else:
        metadata.pop("custom_fields", None)
