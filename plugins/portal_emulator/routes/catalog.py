"""Discovery API (``/api/catalog/v1``), the Project Open Data catalog (``/data.json``) and licenses."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import licenses
from ..auth import sees_private
from ..errors import DiscoveryError
from ..render import approval_status, catalog_entry, slug
from ..store import Dataset
from .common import anonymous_can_read, base_url, domain, domain_aliases, json_response, store

router = APIRouter()
MULTI = ("ids", "domains", "names", "categories", "tags", "only", "column_names", "shared_to")
SINGLE = (
    "q",
    "min_should_match",
    "attribution",
    "license",
    "provenance",
    "for_user",
    "public",
    "visibility",
    "audience",
    "published",
    "approval_status",
    "explicitly_hidden",
    "data_json_hidden",
    "derived",
    "derived_from",
    "order",
    "offset",
    "limit",
    "scroll_id",
    "show_visibility",
    "search_context",
)
DEFAULT_LIMIT, MAX_LIMIT = 100, 10000


def _discovery_error(message: str) -> DiscoveryError:
    return DiscoveryError(message)


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _discovery_error(f"Expected true or false, got {value!r}")


def _custom_match(ds: Dataset, key: str, value: str) -> bool:
    """Unknown parameters are custom metadata searches (``Fieldset_Field=value``), like Discovery."""
    custom = (ds.doc.get("metadata") or {}).get("custom_fields") or {}
    return any(
        f"{slug(fs)}_{slug(f)}".lower() == key.lower() and str(v).lower() == value.lower()
        for fs, fields in custom.items()
        for f, v in (fields or {}).items()
    )


@router.get("/api/catalog/v1")
def catalog(request: Request) -> Response:
    started = time.monotonic()
    qp = request.query_params
    multi = {k: [v for v in qp.getlist(k) if v] for k in MULTI if k in qp}
    single = {k: qp.get(k) for k in SINGLE if k in qp}
    custom = [
        (k, v) for k, v in qp.multi_items() if k not in MULTI and k not in SINGLE and not k.startswith("$")
    ]
    try:
        limit = int(single.get("limit") or DEFAULT_LIMIT)
        offset = int(single.get("offset") or 0)
    except ValueError:
        raise _discovery_error("limit and offset must be integers") from None
    if not 0 <= limit <= MAX_LIMIT or offset < 0:
        raise _discovery_error(f"limit must be between 0 and {MAX_LIMIT}, offset non-negative")
    private = sees_private(request) is not None
    dom = domain(request)
    aliases = domain_aliases(request)
    s = store(request)

    results = []
    for ds in s.list_datasets():
        approvals = s.approvals_for(ds.pk)
        status = approval_status(ds, approvals)
        hidden = bool(ds.doc.get("hideFromCatalog", False))
        if not private and not (ds.is_public and ds.is_published and status == "approved" and not hidden):
            continue  # anonymous callers see public, published, approved, unhidden assets only
        if not _matches(ds, status, hidden, aliases, multi, single, custom):
            continue
        results.append((ds, approvals))

    order = (single.get("order") or "").split()
    if order:
        key = {
            "name": lambda r: r[0].doc["name"].lower(),
            "createdAt": lambda r: r[0].created_at,
            "updatedAt": lambda r: r[0].updated_at,
            "dataUpdatedAt": lambda r: r[0].data_updated_at,
        }.get(order[0])
        if key is None:
            raise _discovery_error(f"Unsupported order {order[0]!r}")
        results.sort(key=key, reverse=len(order) > 1 and order[1].upper() == "DESC")
    show = _bool(single.get("show_visibility")) or False
    page = [catalog_entry(ds, a, dom, base_url(request), show) for ds, a in results[offset : offset + limit]]
    return json_response(
        {
            "results": page,
            "warnings": [],
            "resultSetSize": len(results),
            "timings": {"serviceMillis": int((time.monotonic() - started) * 1000), "searchMillis": [0, 0]},
        }
    )


@router.get("/api/catalog/v1/domain_categories")
def domain_categories(request: Request) -> Response:
    """Discovery's "Count by category": each category that assets the caller can see carry, with
    the count (``{results: [{domain_category, count}], timings}``, discovery.json). Counted from
    the assets, as Discovery does, so a configured category no asset uses yet is not listed.
    The counts honour the search filters of ``/api/catalog/v1``."""
    started = time.monotonic()
    qp = request.query_params
    multi = {k: [v for v in qp.getlist(k) if v] for k in MULTI if k in qp}
    single = {k: qp.get(k) for k in SINGLE if k in qp and k not in ("limit", "offset", "order", "scroll_id")}
    custom = [
        (k, v) for k, v in qp.multi_items() if k not in MULTI and k not in SINGLE and not k.startswith("$")
    ]
    private = sees_private(request) is not None
    aliases = domain_aliases(request)
    s = store(request)
    counts: dict[str, int] = {}
    for ds in s.list_datasets():
        status = approval_status(ds, s.approvals_for(ds.pk))
        hidden = bool(ds.doc.get("hideFromCatalog", False))
        if not private and not (ds.is_public and ds.is_published and status == "approved" and not hidden):
            continue
        category = ds.doc.get("category")
        if category and _matches(ds, status, hidden, aliases, multi, single, custom):
            counts[category] = counts.get(category, 0) + 1
    results = [{"domain_category": c, "count": n} for c, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]
    return json_response(
        {
            "results": results,
            "timings": {"serviceMillis": int((time.monotonic() - started) * 1000), "searchMillis": [0, 0]},
        }
    )


def _matches(ds: Dataset, status: str, hidden: bool, aliases: set[str], multi, single, custom) -> bool:
    doc = ds.doc
    if "ids" in multi and ds.id not in multi["ids"]:
        return False
    if "domains" in multi and not aliases & {d.lower() for d in multi["domains"]}:
        return False
    if "names" in multi and doc["name"].lower() not in [n.lower() for n in multi["names"]]:
        return False
    if "only" in multi and not {o.lower() for o in multi["only"]} & {"dataset", "datasets"}:
        return False
    if "categories" in multi and (doc.get("category") or "").lower() not in [
        c.lower() for c in multi["categories"]
    ]:
        return False
    if "tags" in multi and not {t.lower() for t in doc.get("tags") or []} & {
        t.lower() for t in multi["tags"]
    }:
        return False
    if "column_names" in multi:
        names = {c["name"].lower() for c in ds.columns} | {c["fieldName"] for c in ds.columns}
        if not all(n.lower() in names for n in multi["column_names"]):
            return False
    if single.get("q"):
        text = " ".join(
            [
                doc["name"],
                doc.get("description") or "",
                " ".join(doc.get("tags") or []),
                doc.get("category") or "",
                " ".join(c["name"] for c in ds.columns),
            ]
        ).lower()
        if not all(word in text for word in single["q"].lower().split()):
            return False
    lic = licenses.find(doc.get("licenseId"))
    checks = {
        "attribution": lambda v: (doc.get("attribution") or "").lower() == v.lower(),
        "license": lambda v: lic is not None and v.lower() in (lic["name"].lower(), lic["id"].lower()),
        "audience": lambda v: ds.audience in v.split(","),
        "public": lambda v: ds.is_public == _bool(v),
        "published": lambda v: ds.is_published == _bool(v),
        "approval_status": lambda v: status in v.split(","),
        "explicitly_hidden": lambda v: hidden == _bool(v),
        "data_json_hidden": lambda v: bool(doc.get("hideFromDataJson", False)) == _bool(v),
        "provenance": lambda v: v.lower() == "official",
        "for_user": lambda v: doc["owner"]["id"] == v,
        "derived": lambda v: _bool(v) is False,
        "visibility": lambda v: (
            (v == "open") == (ds.is_public and ds.is_published and status == "approved" and not hidden)
        ),
    }
    for key, check in checks.items():
        if single.get(key) is not None and not check(single[key]):
            return False
    return all(_custom_match(ds, k, v) for k, v in custom)


@router.get("/data.json")
def data_json(request: Request) -> Response:
    base = base_url(request)
    dom = domain(request)
    datasets = []
    for ds in store(request).list_datasets():
        doc = ds.doc
        if not anonymous_can_read(request, ds) or doc.get("hideFromDataJson"):
            continue
        lic = licenses.find(doc.get("licenseId"))
        contact = doc.get("contactPoint") or {}
        entry = {
            "@type": "dcat:Dataset",
            "identifier": f"{base}/api/views/{ds.id}",
            "title": doc["name"],
            "description": doc.get("description") or doc["name"],
            "keyword": list(doc.get("tags") or []) or [dom],
            "issued": _date(ds.publication_date or ds.created_at),
            "modified": _date(ds.updated_at),
            "publisher": {"@type": "org:Organization", "name": doc.get("attribution") or dom},
            "contactPoint": {
                "@type": "vcard:Contact",
                "fn": contact.get("fn") or doc["owner"]["displayName"],
                "hasEmail": contact.get("hasEmail") or f"mailto:opendata@{dom.split(':')[0]}",
            },
            "accessLevel": "public",
            "landingPage": f"{base}/d/{ds.id}",
            "distribution": [
                {
                    "@type": "dcat:Distribution",
                    "downloadURL": f"{base}/api/views/{ds.id}/rows.csv?accessType=DOWNLOAD",
                    "mediaType": "text/csv",
                },
                {
                    "@type": "dcat:Distribution",
                    "downloadURL": f"{base}/api/views/{ds.id}/rows.json?accessType=DOWNLOAD",
                    "mediaType": "application/json",
                },
            ],
        }
        license_url = (lic or {}).get("termsLink") or _POD_LICENSE_URLS.get((lic or {}).get("id"))
        if license_url:
            entry["license"] = license_url
        if doc.get("category"):
            entry["theme"] = [doc["category"]]
        datasets.append(entry)
    return json_response(
        {
            "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
            "@id": f"{base}/data.json",
            "@type": "dcat:Catalog",
            "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
            "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
            "dataset": datasets,
        }
    )


# POD wants a license URL; licenses without terms links get the conventional one.
_POD_LICENSE_URLS = {"PUBLIC_DOMAIN": "http://www.usa.gov/publicdomain/label/1.0/"}


def _date(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


@router.get("/api/licenses")
def list_licenses() -> Response:
    return json_response(licenses.LICENSES)
