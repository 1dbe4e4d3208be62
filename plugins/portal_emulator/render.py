"""JSON shapes of the portal APIs, built from stored datasets (reference §2.5, §2.6, §4, §5).

Each API family renders the same facts differently: view JSON uses epoch seconds, the Metadata API
ISO-8601 with an offset, Discovery ISO-8601 with ``Z``; keeping all of that here keeps the routes thin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from . import licenses
from .config import Account
from .datatypes import SODA2_TYPE
from .store import Approval, Dataset

PUBLIC_WORKFLOW_ID = 2285
INTERNAL_WORKFLOW_ID = 2286
OWNER_RIGHTS = [
    "read",
    "write",
    "add",
    "delete",
    "grant",
    "add_column",
    "remove_column",
    "update_column",
    "update_view",
    "delete_view",
]


def epoch(t: float | None) -> int | None:
    return None if t is None else int(t)


def iso_offset(t: float | None) -> str | None:
    """Metadata API form: ``YYYY-MM-DDTHH:MM:SS+00:00``."""
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def iso_z(t: float | None) -> str | None:
    """Discovery form: ``YYYY-MM-DDTHH:MM:SS.000Z``."""
    if t is None:
        return None
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def http_date(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text or "").strip("-") or "dataset"


def audience_requests(approvals: list[Approval]) -> list[Approval]:
    """The submissions about the asset's own audience. A revision held for approval is a draft of
    its own (``assetId`` ``4x4:seq`` in the Approvals API) and says nothing about the published
    asset's visibility."""
    return [a for a in approvals if a.is_audience_request]


def approval_status(ds: Dataset, approvals: list[Approval]) -> str:
    """Discovery's ``approval_status``: the latest public audience request decides, else public
    counts as approved."""
    requests = audience_requests(approvals)
    if requests:
        return requests[-1].state
    return "approved" if ds.is_public else "not_ready"


def visible_to_anonymous(ds: Dataset, approvals: list[Approval], approvals_enabled: bool = True) -> bool:
    """The four factors of anonymous visibility (reference §4.2, Discovery's ``visibility=open``):
    published, audience public, approved (where the domain runs approvals), not hidden. A draft
    made with ``POST /api/views.json`` is unpublished, so it stays invisible whatever its audience."""
    approved = not approvals_enabled or approval_status(ds, approvals) == "approved"
    hidden = bool(ds.doc.get("hideFromCatalog", False))
    return ds.is_public and ds.is_published and approved and not hidden


# ---- view JSON (/api/views/{id}.json) ----


def column_json(col: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": col["id"],
        "name": col["name"],
        "dataTypeName": col["dataTypeName"],
        "description": col.get("description", ""),
        "fieldName": col["fieldName"],
        "position": col["position"],
        "renderTypeName": col.get("renderTypeName", col["dataTypeName"]),
        "tableColumnId": col.get("tableColumnId", col["id"]),
        "format": col.get("format", {}),
    }
    out["cachedContents"] = col.get("cachedContents", {})
    return out


def approval_json(a: Approval) -> dict[str, Any]:
    """One ``approvals[]`` record with exactly the keys of the recorded one (reference §2.5): no
    reviewer and no notes, which no recording shows (the emulator keeps both for its /review page
    and ``review list`` only). A key without a value yet (``reviewedAt`` of a pending request,
    ``submissionOutcomeApplication`` before the outcome ran) is null."""
    return {
        "reviewedAt": epoch(a.reviewed_at),
        "reviewedAutomatically": a.reviewed_automatically,
        "state": a.state,
        "submissionId": a.submission_id,
        "submissionObject": a.object,
        "submissionOutcome": a.outcome,
        "submittedAt": epoch(a.submitted_at),
        "targetAudience": a.target_audience,
        "workflowId": a.workflow_id,
        "submissionDetails": submission_details(a),
        "submissionOutcomeApplication": outcome_application(a),
        "submitter": {"id": a.submitter_id, "displayName": a.submitter_name},
    }


def submission_details(a: Approval) -> dict[str, Any]:
    """Recorded for an audience request; for a revision, approvals.yaml's ``details.id`` (the
    revision number, a string there)."""
    if a.revision_seq is not None:
        return {"id": str(a.revision_seq)}
    return {"permissionType": "READ"}


def outcome_application(a: Approval) -> dict[str, Any] | None:
    """``submissionOutcomeApplication`` as recorded once an outcome ran; ``in_progress`` (the
    guidance's ``currentOutcomeStatus`` word) while an approved revision's apply job runs."""
    status = a.outcome_status or ("success" if a.applied_at is not None else None)
    if status is None:
        return None
    return {
        "endedAt": epoch(a.applied_at),
        "failureCount": 1 if status == "failure" else 0,
        "startedAt": epoch(a.reviewed_at if a.revision_seq is not None else a.applied_at),
        "status": status,
    }


def grants(ds: Dataset) -> list[dict[str, Any]]:
    if ds.audience == "public":
        return [{"inherited": False, "type": "viewer", "flags": ["public"]}]
    if ds.audience == "site":
        return [{"inherited": False, "type": "viewer", "flags": ["site"]}]
    return []


def user_json(user: dict[str, Any]) -> dict[str, Any]:
    """An owner as the recorded view JSON shows one (with the profile image paths)."""
    images = f"/api/users/{user['id']}/profile_images"
    return {
        **user,
        "profileImageUrlLarge": f"{images}/LARGE",
        "profileImageUrlMedium": f"{images}/THUMB",
        "profileImageUrlSmall": f"{images}/TINY",
    }


def view_json(ds: Dataset, approvals: list[Approval], account: Account | None) -> dict[str, Any]:
    doc = ds.doc
    owner = user_json(doc["owner"])
    lic = licenses.find(doc.get("licenseId"))
    # rdfSubject, rdfClass and availableDisplayTypes appear in every recorded view's metadata.
    metadata = {"rdfSubject": "0", "rdfClass": "", "availableDisplayTypes": ["table", "fatrow", "page"],
                **(doc.get("metadata") or {})}
    if doc.get("rowIdentifierColumnId") is not None:
        metadata["rowIdentifier"] = doc["rowIdentifierColumnId"]
    out: dict[str, Any] = {
        "id": ds.id,
        "name": doc["name"],
        "assetType": "dataset",
        "attribution": doc.get("attribution"),
        "attributionLink": doc.get("attributionLink"),
        "averageRating": 0,
        "category": doc.get("category"),
        "clientContext": {"clientContextVariables": [], "inheritedVariables": {}},
        "createdAt": epoch(ds.created_at),
        "description": doc.get("description", ""),
        "diciBackend": False,
        "displayType": "table",
        "downloadCount": 0,
        "flags": ["default", "restorable", "restorePossibleForType"],
        "grants": grants(ds),
        "hideFromCatalog": bool(doc.get("hideFromCatalog", False)),
        "hideFromDataJson": bool(doc.get("hideFromDataJson", False)),
        "indexUpdatedAt": epoch(ds.data_updated_at),
        "locale": "",
        "locked": False,
        "metadata": metadata,
        "newBackend": True,
        "numberOfComments": ds.number_of_comments,
        "oid": ds.pk,
        "owner": owner,
        "provenance": "official",
        "publicationAppendEnabled": False,
        "publicationDate": epoch(ds.publication_date),
        "publicationGroup": ds.pk,
        "publicationStage": ds.publication_stage,
        "query": {},
        "rights": OWNER_RIGHTS if account else ["read"],
        "rowClass": "",
        "rowsUpdatedAt": epoch(ds.data_updated_at),
        "rowsUpdatedBy": ds.rows_updated_by or doc["owner"]["id"],
        "tableAuthor": owner,
        "tableId": ds.pk,
        "tags": list(doc.get("tags") or []),
        "totalTimesRated": 0,
        "viewCount": 0,
        "viewLastModified": epoch(ds.metadata_updated_at),
        "viewType": "tabular",
        "columns": [column_json(c) for c in sorted(ds.columns, key=lambda c: c["position"])],
        "approvals": [approval_json(a) for a in approvals],
    }
    if doc.get("rowIdentifierColumnId") is not None:
        out["rowIdentifierColumnId"] = doc["rowIdentifierColumnId"]
    if lic:
        out["licenseId"] = lic["id"]
        out["license"] = {k: lic[k] for k in ("name", "termsLink", "logoUrl") if lic.get(k)}
    for key, value in (doc.get("extra") or {}).items():
        out.setdefault(key, value)
    return out


# ---- Metadata API v1 (/api/views/metadata/v1/{id}) ----


def metadata_json(ds: Dataset, domain: str, base_url: str) -> dict[str, Any]:
    doc = ds.doc
    lic = licenses.find(doc.get("licenseId"))
    return {
        "id": ds.id,
        "name": doc["name"],
        "attribution": doc.get("attribution"),
        "attributionLink": doc.get("attributionLink"),
        "category": doc.get("category"),
        "createdAt": iso_offset(ds.created_at),
        "customFields": custom_fields(ds),
        "dataUpdatedAt": iso_offset(ds.data_updated_at),
        "dataUri": f"{base_url}/resource/{ds.id}",
        "description": doc.get("description", ""),
        "domain": domain,
        "externalId": doc.get("externalId"),
        "hideFromCatalog": bool(doc.get("hideFromCatalog", False)),
        "hideFromDataJson": bool(doc.get("hideFromDataJson", False)),
        "license": lic["name"] if lic else None,
        "metadataUpdatedAt": iso_offset(ds.metadata_updated_at),
        "provenance": "OFFICIAL",
        "tags": list(doc.get("tags") or []),
        "updatedAt": iso_offset(ds.updated_at),
        "webUri": f"{base_url}/d/{ds.id}",
        "contactPoint": doc.get("contactPoint"),
    }


def custom_fields(ds: Dataset) -> dict[str, dict[str, str]]:
    return dict((ds.doc.get("metadata") or {}).get("custom_fields") or {})


# ---- Permissions API (/api/views/{id}/permissions) ----


def permissions_json(ds: Dataset) -> dict[str, Any]:
    owner = ds.doc["owner"]
    levels = [{"name": "viewer", "version": "published"}] if ds.audience != "private" else []
    return {
        "scope": ds.audience,
        "accessLevels": levels,
        "users": [
            {
                "id": owner["id"],
                "type": "interactive",
                "displayName": owner["displayName"],
                "email": owner.get("email"),
                "accessLevels": [{"name": "current_owner", "version": "all"}],
            }
        ],
    }


# ---- Discovery (/api/catalog/v1) ----


def catalog_entry(
    ds: Dataset, approvals: list[Approval], domain: str, base_url: str, show_visibility: bool
) -> dict[str, Any]:
    doc = ds.doc
    cols = sorted(ds.columns, key=lambda c: c["position"])
    lic = licenses.find(doc.get("licenseId"))
    owner = {
        "id": doc["owner"]["id"],
        "user_type": "interactive",
        "display_name": doc["owner"]["displayName"],
    }
    domain_metadata = [
        {"key": f"{slug(fs)}_{slug(f)}", "value": v}
        for fs, fields in custom_fields(ds).items()
        for f, v in (fields or {}).items()
    ]
    entry: dict[str, Any] = {
        "resource": {
            "name": doc["name"],
            "id": ds.id,
            "parent_fxf": [],
            "description": doc.get("description", ""),
            "attribution": doc.get("attribution"),
            "attribution_link": doc.get("attributionLink"),
            "contact_email": (doc.get("contactPoint") or {}).get("hasEmail"),
            "type": "dataset",
            "updatedAt": iso_z(ds.updated_at),
            "createdAt": iso_z(ds.created_at),
            "metadata_updated_at": iso_z(ds.metadata_updated_at),
            "data_updated_at": iso_z(ds.data_updated_at),
            "publication_date": iso_z(ds.publication_date),
            # Discovery adds log(1 + views) of each count (recorded: page_views_*_log).
            "page_views": {"page_views_last_week": 0, "page_views_last_month": 0, "page_views_total": 0,
                           "page_views_last_week_log": 0.0, "page_views_last_month_log": 0.0,
                           "page_views_total_log": 0.0},
            "columns_name": [c["name"] for c in cols],
            "columns_field_name": [c["fieldName"] for c in cols],
            "columns_datatype": [
                _DISCOVERY_TYPE.get(c["dataTypeName"], c["dataTypeName"].replace("_", " ").capitalize())
                for c in cols
            ],
            "columns_description": [c.get("description", "") for c in cols],
            "columns_format": [c.get("format", {}) for c in cols],
            "download_count": 0,
            "provenance": "official",
            "lens_view_type": "tabular",
            "lens_display_type": "table",
            "locked": False,
            "resource_name": None,
            "blob_mime_type": None,
            "hide_from_data_json": bool(doc.get("hideFromDataJson", False)),
        },
        "classification": {
            "categories": [],
            "tags": [],
            "domain_category": doc.get("category"),
            "domain_tags": list(doc.get("tags") or []),
            "domain_metadata": domain_metadata,
            "domain_private_metadata": [],
        },
        "metadata": {"domain": domain, "license": lic["name"] if lic else None},
        "permalink": f"{base_url}/d/{ds.id}",
        "link": f"{base_url}/{slug(doc.get('category') or 'dataset')}/{slug(doc['name'])}/{ds.id}",
        "owner": owner,
        "creator": owner,
        "published_copy": None,
    }
    if show_visibility:
        hidden = bool(doc.get("hideFromCatalog", False))
        status = approval_status(ds, approvals)
        entry["metadata"].update(
            {
                "is_public": ds.is_public,
                "is_published": ds.is_published,
                "is_hidden": hidden,
                "visible_to_anonymous": visible_to_anonymous(ds, approvals),
                "visible_to_site": ds.audience in ("site", "public") and ds.is_published and not hidden,
                "approval_status": status,
            }
        )
    return entry


_DISCOVERY_TYPE = {"calendar_date": "Calendar date", "date": "Date", "url": "URL"}


def soda2_types(columns: list[tuple[str, str]], types: dict[str, str]) -> list[str]:
    return [SODA2_TYPE.get(types.get(f, ""), "meta_data") for f, _ in columns]
