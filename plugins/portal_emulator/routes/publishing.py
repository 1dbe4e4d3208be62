"""DSMAPI ``/api/publishing/v1`` routes (reference §3.1); the model is ``publishing.py``
(its docstring lists the modules it puts together; the routes reach them as ``p.reads``, ``p.render``...).

Status codes follow the publishing API's OpenAPI document: 201 for creating a revision, a source
or an output schema (a transform), uploading bytes and discarding; 202 for updating a revision,
moving a source and reading an apply job; 200 for the rest. Every call needs an account; writes
need one that may write.
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..auth import require_account, require_writer
from ..datatypes import to_csv_cell
from ..errors import SocrataError, bad_request
from ..publishing import Publishing
from .common import json_body, json_response

router = APIRouter(prefix="/api/publishing/v1")


def pub(request: Request) -> Publishing:
    return request.app.state.publishing


@router.post("/revision")
def create_asset(request: Request) -> Response:
    require_writer(request)
    raise SocrataError(
        501,
        "not_implemented",
        "Creating a new asset through a revision is not supported by this emulator; "
        "create it with POST /api/views.json and open revisions on it",
    )


@router.post("/revision/{fourfour}")
async def open_revision(request: Request, fourfour: str) -> Response:
    account = require_writer(request)
    body = await json_body(request)
    p = pub(request)

    def work():
        ds, rev = p.open_revision(fourfour, body, account)
        return p.render.revision_json(ds, rev)

    return json_response(await run_in_threadpool(work), 201)


@router.get("/revision/{fourfour}")
def list_revisions(request: Request, fourfour: str) -> Response:
    require_account(request)
    flag = request.query_params.get("open")
    open_only = None if flag is None else flag.lower() in ("true", "1", "yes")
    p = pub(request)
    ds, revisions = p.reads.revisions(fourfour, open_only)
    return json_response([p.render.revision_json(ds, rev) for rev in revisions])


@router.get("/revision/{fourfour}/{seq}")
def show_revision(request: Request, fourfour: str, seq: int) -> Response:
    require_account(request)
    p = pub(request)
    ds, rev = p.reads.revision(fourfour, seq)
    return json_response(p.render.revision_json(ds, rev))


async def _update(request: Request, fourfour: str, seq: int) -> Response:
    require_writer(request)
    body = await json_body(request)
    p = pub(request)

    def work():
        rev = p.update_revision(fourfour, seq, body)
        return p.render.revision_json(p.reads.dataset(fourfour), rev)

    return json_response(await run_in_threadpool(work), 202)


@router.put("/revision/{fourfour}/{seq}")
async def put_revision(request: Request, fourfour: str, seq: int) -> Response:
    return await _update(request, fourfour, seq)


@router.patch("/revision/{fourfour}/{seq}")
async def patch_revision(request: Request, fourfour: str, seq: int) -> Response:
    return await _update(request, fourfour, seq)


@router.delete("/revision/{fourfour}/{seq}")
def discard_revision(request: Request, fourfour: str, seq: int) -> Response:
    """Close the revision without changing the dataset (the only DELETE here; no dataset delete)."""
    require_writer(request)
    p = pub(request)
    rev = p.discard(fourfour, seq)
    return json_response(p.render.revision_json(p.reads.dataset(fourfour), rev), 201)


@router.put("/revision/{fourfour}/{seq}/apply")
async def apply_revision(request: Request, fourfour: str, seq: int) -> Response:
    account = require_writer(request)
    body = await json_body(request)
    if body is not None and not isinstance(body, dict):
        raise bad_request('Send {"output_schema_id": ...} or {"resource": {"id": <revision_seq>}}')
    request_id = request.scope.get("emulator.request_id")
    p = pub(request)

    def work():
        rev, ts, held = p.jobs.apply(fourfour, seq, body, account, request_id)
        if held is not None:
            return p.render.held_json(fourfour, rev, held)
        return p.render.task_set_json(fourfour, rev, ts)

    return json_response(await run_in_threadpool(work))


@router.get("/revision/{fourfour}/{seq}/apply/{task_set_id}")
def show_job(request: Request, fourfour: str, seq: int, task_set_id: int) -> Response:
    require_account(request)
    p = pub(request)
    rev, ts = p.reads.task_set(fourfour, seq, task_set_id)
    return json_response(p.render.task_set_json(fourfour, rev, ts), 202)


@router.post("/revision/{fourfour}/{seq}/source")
async def create_source(request: Request, fourfour: str, seq: int) -> Response:
    account = require_writer(request)
    body = await json_body(request)
    p = pub(request)

    def work():
        return p.render.source_json(p.uploads.create_source(fourfour, seq, body, account))

    return json_response(await run_in_threadpool(work), 201)


@router.get("/revision/{fourfour}/{seq}/source")
def list_sources(request: Request, fourfour: str, seq: int) -> Response:
    require_account(request)
    p = pub(request)
    _, rev = p.reads.revision(fourfour, seq)
    return json_response([p.render.source_json(src) for src in p.reads.sources(rev.pk)])


@router.get("/source/{source_id}")
def show_source(request: Request, source_id: int) -> Response:
    require_account(request)
    p = pub(request)
    return json_response(p.render.source_json(p.reads.source(source_id)))


@router.patch("/source/{source_id}")
async def add_to_revision(request: Request, source_id: int) -> Response:
    """socrata-py ``Source.add_to_revision``: 202, as publishing.json documents for this PATCH."""
    require_writer(request)
    body = await json_body(request)
    p = pub(request)

    def work():
        return p.render.source_json(p.uploads.add_to_revision(source_id, body))

    return json_response(await run_in_threadpool(work), 202)


@router.post("/source/{source_id}/schema/{input_schema_id}")
async def transform(request: Request, source_id: int, input_schema_id: int) -> Response:
    """A new output schema from ``output_columns`` (201 with the output schema, which is what
    socrata-py and publishing.json's examples read from the answer); evaluated on a thread."""
    account = require_writer(request)
    body = await json_body(request)
    flag = request.query_params.get("increment_revision", "true").lower()
    p = pub(request)

    def work():
        schema = p.schemas.transform(source_id, input_schema_id, body, account, increment_revision=flag != "false")
        return p.render.output_schema_json(schema)

    return json_response(await run_in_threadpool(work), 201)


@router.get("/source/{source_id}/schema/{input_schema_id}")
def show_input_schema(request: Request, source_id: int, input_schema_id: int) -> Response:
    require_account(request)
    p = pub(request)
    return json_response(p.render.input_schema_json(p.reads.input_schema(source_id, input_schema_id)))


@router.get("/source/{source_id}/schema/{input_schema_id}/output/{output_schema_id}")
def show_output_schema(request: Request, source_id: int, input_schema_id: int, output_schema_id: str) -> Response:
    """An output schema by id, or ``latest``: socrata-py polls this until ``completed_at``."""
    require_account(request)
    p = pub(request)
    return json_response(p.render.output_schema_json(p.reads.schema_of(source_id, input_schema_id, output_schema_id)))


def _rows(request: Request, source_id: int, input_schema_id: int, output_schema_id: int, errors: bool) -> Response:
    require_account(request)
    try:
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 500))
    except ValueError:
        raise bad_request("offset and limit must be integers") from None
    p = pub(request)
    schema = p.reads.schema_of(source_id, input_schema_id, output_schema_id)
    rows = p.reads.output_rows(schema, errors=errors, offset=max(offset, 0), limit=max(min(limit, 10000), 0))
    fields = [col["field_name"] for col in schema.ordered()]
    if errors and "text/csv" in request.headers.get("accept", ""):
        return Response(_errors_csv(fields, rows), media_type="text/csv; charset=utf-8")
    # socrata-py drops the first element and reads each other one's "row" (output_schema.py).
    return json_response([{"output_columns": fields}, *({"row": row} for row in rows)])


def _errors_csv(fields: list[str], rows: list[list[dict]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([cell["error"]["message"] if "error" in cell else to_csv_cell(cell["ok"]) for cell in row])
    return buf.getvalue()


@router.get("/source/{source_id}/schema/{input_schema_id}/rows/{output_schema_id}")
def output_rows(request: Request, source_id: int, input_schema_id: int, output_schema_id: int) -> Response:
    return _rows(request, source_id, input_schema_id, output_schema_id, errors=False)


@router.get("/source/{source_id}/schema/{input_schema_id}/errors/{output_schema_id}")
def schema_errors(request: Request, source_id: int, input_schema_id: int, output_schema_id: int) -> Response:
    """The rows a transform could not convert, each cell ``{"ok": value}`` or ``{"error": {message,
    input}}``; CSV with ``Accept: text/csv`` (socrata-py ``schema_errors_csv``)."""
    return _rows(request, source_id, input_schema_id, output_schema_id, errors=True)


@router.post("/source/{source_id}")
async def upload(request: Request, source_id: int) -> Response:
    """The whole file in one body, streamed to disk (never held in memory), then parsed."""
    require_writer(request)
    p = pub(request)
    path = await run_in_threadpool(p.uploads.begin_upload, source_id, request.headers.get("content-type", "text/csv"))
    size = 0
    ok = False
    try:
        with open(path, "wb") as f:
            async for part in request.stream():
                f.write(part)
                size += len(part)
        ok = True
    finally:
        src = await run_in_threadpool(p.uploads.end_upload, source_id, size, ok)
    return json_response(await run_in_threadpool(p.render.source_json, src), 201)


@router.post("/source/{source_id}/initiate")
async def initiate(request: Request, source_id: int) -> Response:
    require_writer(request)
    body = await json_body(request)
    return json_response(await run_in_threadpool(pub(request).uploads.initiate, source_id, body))


@router.post("/source/{source_id}/chunk/{seq_num}/{byte_offset}")
async def chunk(request: Request, source_id: int, seq_num: int, byte_offset: int) -> Response:
    require_writer(request)
    p = pub(request)
    limit = p.config.upload_chunk_size
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise bad_request(f"A chunk may hold at most {limit} bytes (preferred_chunk_size)", code="chunk.too_large")
    data = await request.body()
    await run_in_threadpool(p.uploads.chunk, source_id, seq_num, byte_offset, data)
    return json_response({"seq_num": seq_num, "byte_offset": byte_offset, "size": len(data)})


@router.post("/source/{source_id}/chunk/{seq_num}/{byte_offset}/commit")
async def commit(request: Request, source_id: int, seq_num: int, byte_offset: int) -> Response:
    require_writer(request)
    p = pub(request)

    def work():
        return p.render.source_json(p.uploads.commit(source_id, seq_num, byte_offset))

    return json_response(await run_in_threadpool(work))
