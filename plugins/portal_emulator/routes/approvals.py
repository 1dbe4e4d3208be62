"""Approvals API (reference §4.1), served under both ``/api/views/...`` and ``/views/...``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..approvals import submission_json
from ..auth import require_reviewer, require_writer
from ..errors import bad_request
from .common import base_url, json_body, json_response, readable_view, workflow, writable_view

router = APIRouter()
PREFIXES = ("/api/views", "/views")


def _record_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"Invalid approval record id {value!r}", code="approvals.invalid_id") from None


def _revision_seq(request: Request, dataset_id: str) -> int | None:
    """``assetId`` names the asset, or one of its drafts as ``4x4:seq`` (approvals.yaml); here the
    drafts are DSMAPI revisions."""
    asset = request.query_params.get("assetId") or dataset_id
    fourfour, sep, seq = asset.partition(":")
    if fourfour != dataset_id or (sep and not seq.isdigit()):
        raise bad_request(f"Invalid assetId {asset!r} for {dataset_id}", code="approvals.invalid_asset")
    if not sep:
        return None
    request.app.state.publishing.reads.revision(dataset_id, int(seq))  # 404 for a revision that does not exist
    return int(seq)


async def guidance_or_list(request: Request, dataset_id: str) -> Response:
    require_writer(request)
    method = request.query_params.get("method", "guidance_v2")
    ds = readable_view(request, dataset_id)
    guidance = workflow(request).guidance(ds, base_url(request), _revision_seq(request, dataset_id))
    if method == "guidance_v2":
        return json_response(guidance)
    if method == "guidance":  # v1: the public guidance at the top level
        return json_response(guidance["public"])
    raise bad_request(f"Unsupported method {method!r}", code="method.unsupported")


async def submit(request: Request, dataset_id: str) -> Response:
    account = require_writer(request)
    if request.query_params.get("method") != "startWorkflowSubmission":
        raise bad_request("Use ?method=startWorkflowSubmission", code="method.unsupported")
    body = await json_body(request) or {}
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object", code="approvals.invalid")
    writable_view(request, dataset_id)
    approval = await run_in_threadpool(
        workflow(request).submit,
        dataset_id,
        account,
        body.get("object", "public_audience_request"),
        body.get("outcome", "change_audience"),
    )
    return json_response(submission_json(approval))


async def cancel(request: Request, dataset_id: str, record_id: str) -> Response:
    require_writer(request)
    if request.query_params.get("method") != "cancelWorkflowSubmission":
        raise bad_request("Use ?method=cancelWorkflowSubmission", code="method.unsupported")
    await run_in_threadpool(workflow(request).cancel, dataset_id, _record_id(record_id))
    return Response(status_code=200)


async def review(request: Request, dataset_id: str, record_id: str) -> Response:
    reviewer = require_reviewer(request)
    body = await json_body(request)
    if not isinstance(body, dict) or "state" not in body:
        raise bad_request(
            'The body must be {"state": "approved"|"rejected", "notes": "..."}', code="approvals.invalid"
        )
    approval = await run_in_threadpool(
        workflow(request).review,
        dataset_id,
        _record_id(record_id),
        body["state"],
        body.get("notes"),
        reviewer,
    )
    return json_response(submission_json(approval))


for prefix in PREFIXES:
    router.add_api_route(f"{prefix}/{{dataset_id}}/approvals", guidance_or_list, methods=["GET"])
    router.add_api_route(f"{prefix}/{{dataset_id}}/approvals", submit, methods=["POST"])
    router.add_api_route(f"{prefix}/{{dataset_id}}/approvals/{{record_id}}", cancel, methods=["DELETE"])
    router.add_api_route(f"{prefix}/{{dataset_id}}/approvals/{{record_id}}", review, methods=["PUT"])
