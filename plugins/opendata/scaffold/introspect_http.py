"""Introspecting a JSON API (thin I/O): one GET, its body read up to ``MAX_BODY_BYTES``, the records
at the records path (``data.items``) typed from their values.

As the HTTP source does (opendata.sources.http), redirects are followed only to the same scheme,
host and port, and a URL carrying credentials is refused: they belong in an Airflow HTTP
connection. What is not JSON, or not a list of records where the path says, is named with what
was found instead (the content type, the keys there are), so the right path is one retry away.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from opendata import settings
from opendata.scaffold.columns import profile_columns
from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.names import title
from opendata.scaffold.profile import SourceProfile
from opendata.scaffold.typemap import guess_values
from opendata.spec.errors import did_you_mean
from opendata.spec.urls import http_url_problem, same_origin

# A sample needs a page of records, not a whole export: a body larger than this is refused.
MAX_BODY_BYTES = 20 * 1024 * 1024
TIMEOUT_SECONDS = 60
_MAX_REDIRECTS = 5
# Keys of a body's metadata that say the API pages its records.
_PAGING_KEYS = {"total", "count", "next", "next_page", "total_count", "totalcount", "has_more", "offset", "page"}


def profile_http(url: str, records_path: str | None, sample_rows: int, *, conn_id: str | None = None) -> SourceProfile:
    session, full_url = _session(url, conn_id)
    with session:
        body, content_type = _fetch(session, full_url)
    shown = _shown(full_url)
    try:
        document = json.loads(body)
    except ValueError:
        start = body[:60].decode("utf-8", errors="replace")
        raise ScaffoldError(f"{shown} did not return JSON (Content-Type {content_type or 'not given'}; the body "
                            f"starts {start!r})") from None
    records, path = _records(document, records_path, shown)
    sample = [record for record in records[:sample_rows] if isinstance(record, dict)]
    names: list[str] = []
    seen: set[str] = set()
    for record in sample:  # every key any sampled record has, in the order first met
        for key in record:
            if str(key) not in seen:
                seen.add(str(key))
                names.append(str(key))
    rows = [tuple(record.get(name) for name in names) for record in sample]
    columns = profile_columns(names, rows, guess=lambda field, values, i: guess_values(field, values))
    source: dict[str, Any] = {"kind": "http"}
    if conn_id is not None:
        source["conn_id"] = conn_id
    source.update({"url": url, "format": "json"})
    if path:
        source["records_path"] = path
    notes = [f"types inferred from {len(rows)} records of one response"]
    paging = _paging_note(document, path, len(records), url)
    if paging:
        notes.append(paging)
    if conn_id is None:
        host = urlsplit(url).hostname or ""
        if http_url_problem(url, conn_id=None, allowed_hosts=settings.http_source_hosts()):
            notes.append(f"host {host!r} is not in OPENDATA_HTTP_SOURCE_HOSTS, so lint refuses source.url until the "
                         f"deployment lists it; or use an Airflow HTTP connection (source.conn_id, url a path on it)")
    parts = [p for p in urlsplit(full_url).path.split("/") if p]
    return SourceProfile(columns=columns, row_count_sampled=len(rows), primary_key=(), source=source,
                         source_system=f"JSON API at {urlsplit(full_url).hostname}",
                         title=title(parts[-1]) if parts else "", notes=tuple(notes))


def _session(url: str, conn_id: str | None) -> tuple[requests.Session, str]:
    if conn_id is not None:
        problem = http_url_problem(url, conn_id=conn_id, allowed_hosts=())
        if problem:
            raise ScaffoldError(f"url {url!r} {problem}")
        from airflow.providers.http.hooks.http import HttpHook

        try:
            hook = HttpHook(method="GET", http_conn_id=conn_id)
            return hook.get_conn(), hook.url_from_endpoint(url)
        except Exception as exc:  # noqa: BLE001 - the hook raises what its connection lookup raises
            raise ScaffoldError(f"Airflow connection {conn_id!r} is not usable ({type(exc).__name__}): define it in "
                                f"Admin > Connections or as AIRFLOW_CONN_{conn_id.upper()}") from None
    # Every rule of a source URL but the deployment's host list (that one is a note: see above).
    host = urlsplit(url).hostname if "://" in url else None
    problem = http_url_problem(url, conn_id=None, allowed_hosts=[host] if host else [])
    if problem:
        raise ScaffoldError(f"url {_shown(url) if host else repr(url)} {problem}")
    return requests.Session(), url


def _fetch(session: requests.Session, url: str) -> tuple[bytes, str]:
    shown = _shown(url)
    try:
        response = session.get(url, timeout=(10, TIMEOUT_SECONDS), stream=True, allow_redirects=False)
        for _ in range(_MAX_REDIRECTS):
            if not response.is_redirect:
                break
            target = urljoin(response.url, response.headers.get("Location", ""))
            response.close()
            if not same_origin(url, target):
                raise ScaffoldError(f"{shown} redirects to another host ({_shown(target)}); not followed")
            response = session.get(target, timeout=(10, TIMEOUT_SECONDS), stream=True, allow_redirects=False)
        else:
            raise ScaffoldError(f"{shown} redirects more than {_MAX_REDIRECTS} times")
        with response:
            if response.status_code >= 400:
                raise ScaffoldError(f"HTTP {response.status_code} {response.reason} from {shown}")
            body = bytearray()
            for block in response.iter_content(64 * 1024):
                body += block
                if len(body) > MAX_BODY_BYTES:
                    raise ScaffoldError(f"{shown} answered more than {MAX_BODY_BYTES // 2**20} MiB; give a URL that "
                                        f"returns one page of records (e.g. with ?limit=1000)")
            return bytes(body), response.headers.get("Content-Type", "")
    except requests.Timeout:
        raise ScaffoldError(f"{shown} did not answer within {TIMEOUT_SECONDS} s") from None
    except requests.RequestException as exc:
        raise ScaffoldError(f"cannot reach {shown} ({type(exc).__name__})") from None


def _records(document: Any, records_path: str | None, shown: str) -> tuple[list[Any], str | None]:
    """The list of records and the path it is at (found when not given and only one list fits)."""
    if records_path is None:
        if isinstance(document, list):
            return _checked(document, "(the body)"), None
        found = _record_lists(document)
        if len(found) == 1:
            return _checked(_at(document, found[0]), found[0]), found[0]
        keys = ", ".join(str(k) for k in document) if isinstance(document, dict) else type(document).__name__
        where = f"lists of records at: {', '.join(found)}" if found else f"no list of records; its keys: {keys}"
        raise ScaffoldError(f"{shown}: the body is not a list of records; give --records-path ({where})")
    node = document
    walked: list[str] = []
    for key in records_path.split("."):
        if not isinstance(node, dict) or key not in node:
            found = [str(k) for k in node] if isinstance(node, dict) else []
            at = ".".join(walked) or "the body"
            has = f"it has: {', '.join(found)}" if found else f"it is {_a(_json_kind(node))}"
            raise ScaffoldError(f"records path {records_path!r}: no key {key!r} in {at} ({has})",
                                did_you_mean(key, found))
        node = node[key]
        walked.append(key)
    return _checked(node, records_path), records_path


def _checked(node: Any, path: str) -> list[Any]:
    if not isinstance(node, list):
        keys = f" with keys {', '.join(str(k) for k in node)}" if isinstance(node, dict) else ""
        raise ScaffoldError(f"records path {path!r} is {_a(_json_kind(node))}{keys}, not a list of records")
    if not node:
        raise ScaffoldError(f"records path {path!r} is an empty list: no record to learn the columns from")
    if not all(isinstance(item, dict) for item in node[:100]):
        raise ScaffoldError(f"records path {path!r} is a list of {_json_kind(node[0])}s, not of records (objects)")
    return node


def _record_lists(document: Any) -> list[str]:
    """Dotted paths (two levels deep at most) of non-empty lists of objects in the body."""
    found: list[str] = []
    if not isinstance(document, dict):
        return found
    for key, value in document.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            found.append(str(key))
        elif isinstance(value, dict):
            found += [f"{key}.{inner}" for inner, deeper in value.items()
                      if isinstance(deeper, list) and deeper and isinstance(deeper[0], dict)]
    return found


def _at(document: Any, path: str) -> Any:
    for key in path.split("."):
        document = document[key]
    return document


def _paging_note(document: Any, path: str | None, count: int, url: str) -> str | None:
    meta = {str(k).lower(): v for k, v in document.items()} if isinstance(document, dict) else {}
    total = next((v for k, v in meta.items() if k in ("total", "total_count", "totalcount", "count")
                  and isinstance(v, int) and not isinstance(v, bool)), None)
    query = {k.lower() for k in parse_qs(urlsplit(url).query)}
    if (total is not None and total > count) or (_PAGING_KEYS - {"total", "count"}) & set(meta) or \
            query & {"limit", "offset", "page", "per_page"}:
        said = f" (the body says {total:,} records; this answer held {count:,})" if total is not None else ""
        return (f"the API seems to page its records{said}: add source.pagination (limit_param, offset_param, "
                f"page_size) so that every page is read")
    return None


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _shown(url: str) -> str:
    """The URL without credentials or query (which may carry a token)."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
