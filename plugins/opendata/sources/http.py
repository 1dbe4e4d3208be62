"""A JSON or CSV endpoint over HTTP.

With ``conn_id`` the Airflow HTTP connection supplies the base URL, credentials and headers
(the http provider's HttpHook), so the dataset file never holds a secret. Query strings are
never logged: some APIs take keys there.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pandas as pd
import requests

from opendata.sources.base import ExtractError
from opendata.sources.csv_reader import csv_chunks
from opendata.sources.ragged import RaggedRows
from opendata.spec.dataset import HttpSource
from opendata.spec.urls import same_origin

_MAX_REDIRECTS = 5


def read_http_chunks(source: HttpSource, ragged: RaggedRows | None = None) -> Iterator[pd.DataFrame]:
    """Chunks of the response; CSV rows with the wrong number of fields are left out, counted in
    ``ragged``. A JSON record without some keys is not ragged: keys name their values."""
    session, url = _session_and_url(source)
    with session:
        if source.format == "csv":
            yield from _csv_chunks(session, url, source, ragged if ragged is not None else RaggedRows())
        elif source.pagination is None:
            yield from _frames(_records(_get(session, url, source, source.params), source), source.chunk_size)
        else:
            yield from _paged_json(session, url, source)


def _session_and_url(source: HttpSource) -> tuple[requests.Session, str]:
    from opendata import settings
    from opendata.spec.urls import http_url_problem

    # Checked again here, not only by lint: the deployment's allowed hosts may have changed.
    problem = http_url_problem(source.url, conn_id=source.conn_id, allowed_hosts=settings.http_source_hosts())
    if problem:
        raise ExtractError(f"source.url {problem}")
    if source.conn_id is None:
        return requests.Session(), source.url
    from airflow.providers.http.hooks.http import HttpHook

    try:
        hook = HttpHook(method="GET", http_conn_id=source.conn_id)
        session = hook.get_conn()
    except Exception as exc:
        raise ExtractError(
            f"Airflow connection {source.conn_id!r} is not usable: {type(exc).__name__}; define it in "
            f"Admin > Connections or as AIRFLOW_CONN_{source.conn_id.upper()}"
        ) from exc
    return session, hook.url_from_endpoint(source.url)


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _get(session: requests.Session, url: str, source: HttpSource, params: dict[str, Any],
         stream: bool = False) -> requests.Response:
    try:
        response = session.get(url, params=params, timeout=(10, source.timeout_seconds), stream=stream,
                               allow_redirects=False)
        # Redirects are followed only on the same scheme, host and port: the host was chosen by the
        # deployment (connection or allowed hosts), and a redirect must not lead the worker elsewhere.
        for _ in range(_MAX_REDIRECTS):
            if not response.is_redirect:
                break
            target = urljoin(response.url, response.headers.get("Location", ""))
            if not same_origin(url, target):
                response.close()
                raise ExtractError(f"{_shown(url)} redirects to another host ({_shown(target)}); not followed")
            response.close()
            response = session.get(target, timeout=(10, source.timeout_seconds), stream=stream,
                                   allow_redirects=False)
        else:
            raise ExtractError(f"{_shown(url)} redirects more than {_MAX_REDIRECTS} times")
    except requests.Timeout as exc:
        raise ExtractError(f"{_shown(url)} did not answer within {source.timeout_seconds:g} s") from exc
    except requests.ConnectionError as exc:
        raise ExtractError(f"cannot reach {_shown(url)}: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise ExtractError(f"HTTP {response.status_code} {response.reason} from {_shown(url)}")
    return response


def _records(response: requests.Response, source: HttpSource) -> list[dict]:
    try:
        body = response.json()
    except ValueError as exc:
        raise ExtractError(f"{_shown(response.url)} did not return JSON") from exc
    node = body
    for key in (source.records_path or "").split(".") if source.records_path else []:
        if not isinstance(node, dict) or key not in node:
            keys = ", ".join(node) if isinstance(node, dict) else type(node).__name__
            raise ExtractError(f"records_path {source.records_path!r}: no key {key!r} in the response "
                               f"(it has: {keys})")
        node = node[key]
    if not isinstance(node, list) or any(not isinstance(item, dict) for item in node[:1]):
        raise ExtractError(f"records_path {source.records_path or '(body)'!r} is not a list of records")
    return node


def _frames(records: list[dict], chunk_size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(records), chunk_size):
        yield pd.DataFrame.from_records(records[start:start + chunk_size])


def _paged_json(session: requests.Session, url: str, source: HttpSource) -> Iterator[pd.DataFrame]:
    paging = source.pagination
    assert paging is not None
    offset, buffered = 0, []
    while True:
        params = {**source.params, paging.limit_param: paging.page_size, paging.offset_param: offset}
        page = _records(_get(session, url, source, params), source)
        buffered.extend(page)
        offset += len(page)
        if len(buffered) >= source.chunk_size:
            yield pd.DataFrame.from_records(buffered)
            buffered = []
        if len(page) < paging.page_size:
            break
    if buffered:
        yield pd.DataFrame.from_records(buffered)


def _csv_chunks(session: requests.Session, url: str, source: HttpSource,
                ragged: RaggedRows) -> Iterator[pd.DataFrame]:
    response = _get(session, url, source, source.params, stream=True)
    response.raw.decode_content = True  # let urllib3 undo gzip while we stream
    response.raw.auto_close = False  # urllib3's advice for io.TextIOWrapper: it must not see EOF as closed
    try:
        # UTF-8 (a byte-order mark dropped), as pandas read it before.
        # urllib3's response is a readable binary stream; typeshed's TextIOWrapper also asks the
        # buffer for write() and name, which a reader never uses.
        lines = io.TextIOWrapper(response.raw, encoding="utf-8-sig", newline="")  # type: ignore[type-var]
        yield from csv_chunks(lines, origin=f"the CSV from {_shown(url)}", chunk_size=source.chunk_size,
                              ragged=ragged)
    finally:
        response.close()
