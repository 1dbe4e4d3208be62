"""SODA2 ``/resource/{id}`` endpoints: reads with SoQL, upsert (POST), replace (PUT), single rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import ids, rows
from ..auth import require_writer
from ..datatypes import to_csv_cell
from ..errors import SocrataError, dataset_missing
from ..render import http_date, iso_z, soda2_types
from ..soql import Compiler, run_query
from ..store import Dataset
from .common import JSON, json_response, readable_view, stats, store

router = APIRouter()
FORMATS = ("json", "csv")


def _format(ext: str) -> str:
    if ext not in FORMATS:
        raise SocrataError(406, "format.unsupported", f"Format {ext!r} is not supported by this emulator")
    return ext


def _data_headers(ds: Dataset, fields: list[str], types: list[str]) -> dict[str, str]:
    modified = http_date(ds.data_updated_at)
    return {
        "X-SODA2-Fields": json.dumps(fields),
        "X-SODA2-Types": json.dumps(types),
        "Last-Modified": modified,
        "X-SODA2-Truth-Last-Modified": modified,
        "X-SODA2-Secondary-Last-Modified": modified,
        "X-SODA2-Data-Out-Of-Date": "false",
        "ETag": f'W/"{ds.id}.{int(ds.data_updated_at * 1000)}"',
    }


def _system_value(name: str, sid: int, created: float, updated: float) -> str:
    if name == ":id":
        return ids.row_id(sid)
    return iso_z(created if name == ":created_at" else updated)


def _shape(found: list[tuple], columns: list[tuple[str, str]]) -> list[dict]:
    out = []
    for sid, created, updated, data in found:
        d = json.loads(data)
        row = {}
        for name, alias in columns:
            if name[0] == ":":
                row[alias] = _system_value(name, sid, created, updated)
            elif name in d:
                row[alias] = d[name]
        out.append(row)
    return out


@router.get("/resource/{dataset_id}.{ext}")
def read_rows(request: Request, dataset_id: str, ext: str) -> Response:
    # One read transaction: the headers (ETag, Last-Modified), the count and the rows all come from
    # the same snapshot, so a response never mixes the data before and after a concurrent write
    # (an applied revision replaces every row in one transaction).
    with store(request).reading() as c:
        return _read_rows(request, dataset_id, ext, c)


def _read_rows(request: Request, dataset_id: str, ext: str, c) -> Response:
    fmt = _format(ext)
    ds = readable_view(request, dataset_id, dataset_missing)
    params = dict(request.query_params)
    include_system = params.get("$$exclude_system_fields", "true").lower() == "false"
    types = {c["fieldName"]: c["dataTypeName"] for c in ds.columns}
    q = Compiler(ds.columns).compile(params, include_system=include_system)
    if q.count_alias:
        n = ds.row_count if not q.where else run_query(c, ds.pk, q)[0][0]
        headers = _data_headers(ds, [q.count_alias], ["number"])
        if fmt == "csv":
            return Response(
                f'"{q.count_alias}"\n"{n}"\n', media_type="text/csv; charset=utf-8", headers=headers
            )
        return json_response([{q.count_alias: str(n)}], headers=headers)
    found = run_query(c, ds.pk, q)
    headers = _data_headers(ds, [a for _, a in q.columns], soda2_types(q.columns, types))
    if fmt == "csv":
        return Response(
            _csv(_shape(found, q.columns), [a for _, a in q.columns]),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )
    if q.default_select and not include_system:
        # Rows are stored in their output form: splice them without decoding.
        return Response("[" + ",".join(r[3] for r in found) + "]", media_type=JSON, headers=headers)
    return json_response(_shape(found, q.columns), headers=headers)


def _csv(records: list[dict], header: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(header)
    for r in records:
        w.writerow([to_csv_cell(r.get(h)) for h in header])
    return buf.getvalue()


async def _write(request: Request, dataset_id: str, ext: str, replace: bool) -> Response:
    account = require_writer(request)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding != "identity":
        # The reference documents no compressed request bodies, so accepting them here could hide
        # a client feature that fails on the real portal.
        raise SocrataError(
            415, "content_encoding.unsupported", f"Content-Encoding {encoding} is not supported"
        )
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if ext == "csv":
        content_type = "text/csv"

    def work():
        payload, is_csv = rows.parse_body(body, content_type)
        report, _ = rows.write_rows(
            store(request), dataset_id, payload, replace=replace, is_csv=is_csv, user_id=account.user_id
        )
        out = report.as_json()
        stats(request).rows_written(dataset_id, len(payload), out)
        return out

    return json_response(await run_in_threadpool(work))


@router.post("/resource/{dataset_id}.{ext}")
async def upsert(request: Request, dataset_id: str, ext: str) -> Response:
    return await _write(request, dataset_id, _format(ext), replace=False)


@router.put("/resource/{dataset_id}.{ext}")
async def replace(request: Request, dataset_id: str, ext: str) -> Response:
    return await _write(request, dataset_id, _format(ext), replace=True)


@router.get("/resource/{dataset_id}/{row_ref}.{ext}")
def read_row(request: Request, dataset_id: str, row_ref: str, ext: str) -> Response:
    _format(ext)
    ds = readable_view(request, dataset_id, dataset_missing)
    row = rows.find_row(store(request), ds, row_ref)
    if row is None:
        raise SocrataError(404, "row.missing", f"Row {row_ref} not found", {"row": row_ref})
    return json_response(json.loads(row[3]))


@router.delete("/resource/{dataset_id}/{row_ref}.{ext}")
def delete_row(request: Request, dataset_id: str, row_ref: str, ext: str) -> Response:
    account = require_writer(request)
    if store(request).get_dataset(dataset_id) is None:
        raise dataset_missing(dataset_id)
    deleted = rows.delete_row(store(request), dataset_id, row_ref, account.user_id)
    if deleted is None:
        raise SocrataError(404, "row.missing", f"Row {row_ref} not found", {"row": row_ref})
    stats(request).rows_written(dataset_id, 1, {"Rows Deleted": 1})
    return json_response([{"typ": "delete", "id": deleted}])


@router.get("/api/views/{dataset_id}/rows.{ext}")
def export_rows(request: Request, dataset_id: str, ext: str) -> Response:
    """Full export (the data.json download links), streamed in keyset pages."""
    fmt = _format(ext)
    ds = readable_view(request, dataset_id, dataset_missing)
    fields = [c["fieldName"] for c in sorted(ds.columns, key=lambda c: c["position"])]

    def stream() -> Iterator[str]:
        # A private connection in one read transaction: the whole export is one version of the
        # data even if a revision is applied while it streams.
        conn = store(request).reader()
        try:
            conn.execute("BEGIN")
            if fmt == "csv":
                yield _csv([], fields)
                for batch in _batched(rows.iter_all(store(request), ds, conn=conn)):
                    yield _csv([json.loads(r[3]) for r in batch], fields).split("\n", 1)[1]
            else:
                yield "["
                first = True
                for batch in _batched(rows.iter_all(store(request), ds, conn=conn)):
                    yield ("" if first else ",") + ",".join(r[3] for r in batch)
                    first = False
                yield "]"
        finally:
            conn.close()

    media = "text/csv; charset=utf-8" if fmt == "csv" else JSON
    return StreamingResponse(stream(), media_type=media)


def _batched(it, n: int = 5000):
    batch = []
    for item in it:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch
