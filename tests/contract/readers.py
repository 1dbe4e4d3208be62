"""Which of the project's parsers reads which portal response, shared by the contract tests.

Each reader takes a decoded response body (plain, or wrapped by ``KeyTracker`` to see which keys
it reads) and returns what the project makes of it. They are the project's own pure parsers,
called the way the hook calls them, so a test through a reader is a test of the real code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opendata.portal.approvals import approval_status_from_json, latest_review
from opendata.portal.errors import error_fields, error_from_response
from opendata.portal.models import (
    AssetMetadata,
    DatasetMarker,
    UpsertResult,
    ViewMetadata,
    audience_from_permissions,
    hidden_from_catalog,
    parse_catalog_page,
)
from opendata.portal.revisions import JobInfo, OutputSchemaInfo, RevisionInfo, SourceInfo, held_for_approval

MARKER = DatasetMarker("Dataset Information", "Pipeline Dataset ID", "building-permits")


def read_view(body: Any) -> dict:
    view = ViewMetadata.from_json(body)
    review = latest_review(view.approvals)
    return {"view": view, "review": review, "hidden": hidden_from_catalog(view), "marked": MARKER.matches(view)}


def read_approvals(body: Any) -> Any:
    return latest_review(body)


def read_error(body: Any, status: int = 400, headers: dict | None = None) -> Any:
    """The typed error for a response. The hook decodes the body first (json.loads); the fields it
    then takes come from :func:`error_fields`, called here on the decoded body itself so a key
    tracker sees exactly what is read (``data`` is kept whole, never looked into)."""
    import json

    error_fields(body)
    return error_from_response(status, json.dumps(body).encode(), headers or {}, method="GET", path="/x")


def read_output_schema(body: Any) -> OutputSchemaInfo:
    resource = body.get("resource") if "resource" in body else body
    return OutputSchemaInfo.from_json(resource, body.get("links"))


def read_apply(body: Any) -> dict:
    return {"held": held_for_approval(body), "job": JobInfo.from_json(body)}


#: endpoint kind -> the project's reader of that response body
READERS: dict[str, Callable[[Any], Any]] = {
    "view": read_view,
    "approvals": read_approvals,
    "upsert_report": lambda body: UpsertResult.from_json(body),
    "error": read_error,
    "catalog": parse_catalog_page,
    "metadata": AssetMetadata.from_json,
    "permissions": audience_from_permissions,
    "guidance": lambda body: approval_status_from_json("abcd-1234", body),
    "revision": RevisionInfo.from_json,
    "source": SourceInfo.from_json,
    "output_schema": read_output_schema,
    "apply": read_apply,
    "job": JobInfo.from_json,
}

#: Keys (by name) the project reads although no recording or Socrata API document shows them in a
#: response, each with where Socrata's own client reads it. Anything else the project reads must
#: be in a recording or a publishing API schema.
CLIENT_DOCUMENTED = {
    "completed_at": "socrata-py output_schema.py: OutputSchema.wait_for_finish waits on an output schema's "
                    "completed_at",
    "key": "socrata-py job.py: Job.submitted_for_approval reads attributes['key'] (attributes: the resource, "
           "or the whole body when it has no 'resource')",
}


def client_documented(path: str) -> bool:
    return path.split(".")[-1] in CLIENT_DOCUMENTED
