"""SocrataHook operations against a scripted wire: what is sent, what comes back, what is refused."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path

import pandas as pd
import pytest
import requests

import opendata.portal
from opendata.portal import (
    ApprovalState,
    Audience,
    ColumnSpec,
    DatasetMetadata,
    SocrataApprovalError,
    SocrataAuthError,
    SocrataError,
    SocrataForbiddenOperation,
    SocrataHook,
    SocrataNotFound,
    SocrataServerError,
    SocrataUnexpectedResponse,
)
from tests.opendata.portal.socrata_fakes import Router, hook_with

DSID = "abcd-1234"
PASSWORD = "pw-unit-SECRET-9f2"
TOKEN = "tok-unit-SECRET-77a"


@pytest.fixture(autouse=True)
def socrata_conn(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        json.dumps(
            {
                "conn_type": "socrata",
                "host": "https://data.example.gov",
                "login": "key-id",
                "password": PASSWORD,
                "extra": {"app_token": TOKEN, "max_retries": 2, "backoff_base": 0, "chunk_size": 3},
            }
        ),
    )


def view_json(stage="published", rid=True, public=False, approvals=None):
    view = {
        "id": DSID,
        "name": "Permits",
        "publicationStage": stage,
        "columns": [{"id": 11, "fieldName": "permit_id", "name": "Permit ID", "dataTypeName": "text"}],
        "grants": [{"type": "viewer", "flags": ["public"]}] if public else [],
        "approvals": approvals or [],
    }
    if rid:
        view["rowIdentifierColumnId"] = 11
    return view


def upsert_echo(seen):
    rows = seen.body
    deleted = sum(1 for r in rows if r.get(":deleted"))
    return 200, {"Rows Created": len(rows) - deleted, "Rows Updated": 0, "Rows Deleted": deleted, "Errors": 0}


# -- create / audience / publish ------------------------------------------------------------------
def test_create_dataset_sends_columns_rowid_metadata_and_makes_it_private():
    router = (
        Router()
        .on("POST", "/api/views.json", (200, {"id": DSID, "publicationStage": "unpublished"}))
        .on("PUT", f"/api/views/{DSID}.json", (200, None))
        .on("GET", f"/api/views/{DSID}/permissions", (200, {"scope": "private"}))
    )
    hook, script = hook_with(router)
    dataset_id = hook.create_dataset(
        "Building Permits",
        [
            ColumnSpec("permit_id", "Permit ID", "text", "Permit number"),
            {"fieldName": "issued", "name": "Issued", "dataTypeName": "calendar_date"},
        ],
        row_identifier="permit_id",
        metadata=DatasetMetadata(
            description="All permits",
            category="Housing",
            tags=("permits",),
            license_id="PUBLIC_DOMAIN",
            attribution="LADBS",
            attribution_link="https://ladbs.org",
            custom_fields={"Publishing Details": {"Publishing frequency": "Daily"}},
        ),
    )
    assert dataset_id == DSID
    create, permission, check = script.seen
    assert (create.method, create.path) == ("POST", "/api/views.json")
    body = create.body
    assert body["name"] == "Building Permits" and body["description"] == "All permits"
    assert body["columns"][0] == {
        "fieldName": "permit_id",
        "name": "Permit ID",
        "dataTypeName": "text",
        "description": "Permit number",
    }
    assert body["metadata"] == {
        "rowIdentifier": "permit_id",
        "custom_fields": {"Publishing Details": {"Publishing frequency": "Daily"}},
    }
    assert (body["category"], body["tags"], body["licenseId"]) == ("Housing", ["permits"], "PUBLIC_DOMAIN")
    assert (body["attribution"], body["attributionLink"]) == ("LADBS", "https://ladbs.org")
    headers = create.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-App-Token"] == TOKEN and headers["X-Socrata-Host"] == "data.example.gov"
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"key-id:{PASSWORD}".encode()).decode()
    assert (permission.method, permission.path) == ("PUT", f"/api/views/{DSID}.json")
    assert dict(permission.query) == {"method": "setPermission", "value": "private"}
    assert check.path == f"/api/views/{DSID}/permissions"


def test_create_is_not_retried_on_ambiguous_failure():
    router = Router().on("POST", "/api/views.json", (500, {"message": "boom"}))
    hook, script = hook_with(router)
    with pytest.raises(SocrataServerError):
        hook.create_dataset("x", [ColumnSpec("a", "A")], row_identifier="a")
    assert len(script.seen) == 1  # a retry could create a second dataset


def test_create_fails_loudly_if_dataset_is_not_private():
    router = (
        Router()
        .on("POST", "/api/views.json", (200, {"id": DSID}))
        .on("PUT", f"/api/views/{DSID}.json", (200, None))
        .on("GET", f"/api/views/{DSID}/permissions", (200, {"scope": "public"}))
    )
    hook, _ = hook_with(router)
    with pytest.raises(SocrataError, match="public after asking for private"):
        hook.create_dataset("x", [ColumnSpec("a", "A")], row_identifier="a")


def test_create_validates_inputs_before_sending():
    hook, script = hook_with(Router())
    with pytest.raises(ValueError):
        hook.create_dataset("x", [ColumnSpec("a", "A")], row_identifier="b")
    with pytest.raises(ValueError):
        hook.create_dataset("x", [], row_identifier="a")
    assert script.seen == []


def test_set_and_get_audience():
    router = (
        Router()
        .on("PUT", f"/api/views/{DSID}.json", (200, None))
        .on("GET", f"/api/views/{DSID}/permissions", (200, {"scope": "public"}))
    )
    hook, script = hook_with(router)
    hook.set_audience(DSID, "public")
    assert dict(script.seen[0].query) == {"method": "setPermission", "value": "public.read"}
    assert hook.get_audience(DSID) is Audience.PUBLIC
    with pytest.raises(ValueError):
        hook.set_audience(DSID, "site")


def test_publish_only_when_unpublished():
    router = Router().on("GET", f"/api/views/{DSID}.json", (200, view_json("published")))
    hook, script = hook_with(router)
    assert hook.publish(DSID).is_published
    assert [s.method for s in script.seen] == ["GET"]

    stage = {"now": "unpublished"}

    def publish(_seen):
        stage["now"] = "published"
        return 200, view_json("published")

    router = (
        Router()
        .on("GET", f"/api/views/{DSID}.json", lambda _s: (200, view_json(stage["now"])))
        .on("POST", f"/api/views/{DSID}/publication.json", publish)
    )
    hook, script = hook_with(router)
    assert hook.publish(DSID).is_published
    sent = [(s.method, s.path) for s in script.seen]
    assert sent.count(("POST", f"/api/views/{DSID}/publication.json")) == 1
    assert sent[-1] == ("GET", f"/api/views/{DSID}.json")  # read back, not taken on trust


# -- metadata -----------------------------------------------------------------------------------
def test_metadata_read_and_patch():
    meta = {"id": DSID, "name": "Permits", "dataUpdatedAt": "2024-01-01T00:00:00+00:00"}
    router = (
        Router()
        .on("GET", f"/api/views/metadata/v1/{DSID}", (200, meta))
        .on("PATCH", f"/api/views/metadata/v1/{DSID}", lambda s: (200, {**meta, **s.body}))
    )
    hook, script = hook_with(router)
    assert hook.get_asset_metadata(DSID).name == "Permits"
    updated = hook.update_metadata(DSID, DatasetMetadata(description="new", custom_fields={"S": {"F": "v"}}))
    patch = script.seen[-1]
    assert patch.method == "PATCH" and patch.headers["Content-Type"] == "application/json"
    assert patch.body == {"description": "new", "customFields": {"S": {"F": "v"}}}
    assert updated.description == "new"
    with pytest.raises(ValueError):
        hook.update_metadata(DSID, DatasetMetadata())


def test_get_view_errors_are_typed_not_http_errors():
    hook, _ = hook_with(Router())
    with pytest.raises(SocrataNotFound) as info:
        hook.get_view("zzzz-9999")
    assert not isinstance(info.value, requests.HTTPError)
    assert info.value.code == "not_found" and info.value.status == 404


def test_non_json_success_is_typed():
    router = Router().on("GET", f"/api/views/{DSID}.json", (200, "<html>maintenance</html>"))

    def html(seen):
        from tests.opendata.portal.socrata_fakes import make_response

        return make_response(
            requests.Request("GET", "https://x/").prepare(), 200, "<html/>", content_type="text/html"
        )

    router.on("GET", f"/api/views/{DSID}.json", html)
    hook, _ = hook_with(router)
    with pytest.raises(SocrataUnexpectedResponse):
        hook.get_view(DSID)


def test_invalid_dataset_ids_never_reach_the_wire():
    hook, script = hook_with(Router())
    for bad in ("../../api/users", "ABCD-1234", "abcd1234", ""):
        with pytest.raises(ValueError):
            hook.get_view(bad)
    assert script.seen == []


# -- rows ---------------------------------------------------------------------------------------
def test_upsert_chunks_and_sums(caplog):
    router = (
        Router()
        .on("GET", f"/api/views/{DSID}.json", (200, view_json()))
        .on("POST", f"/resource/{DSID}.json", upsert_echo)
    )
    hook, script = hook_with(router)
    rows = [{"permit_id": str(i), "amount": float("nan") if i == 2 else i} for i in range(8)]
    rows.append({"permit_id": "old", ":deleted": True})
    result = hook.upsert(DSID, rows)
    posts = [s for s in script.seen if s.method == "POST"]
    assert [len(p.body) for p in posts] == [3, 3, 3]
    assert posts[0].body[2] == {"permit_id": "2", "amount": None}
    assert posts[0].headers["Content-Type"] == "application/json"
    assert (result.rows_created, result.rows_deleted, result.rows_sent, result.requests) == (8, 1, 9, 3)
    assert result.as_report()["Rows Created"] == 8


def test_upsert_dataframes_with_explicit_chunk_size():
    router = (
        Router()
        .on("GET", f"/api/views/{DSID}.json", (200, view_json()))
        .on("POST", f"/resource/{DSID}.json", upsert_echo)
    )
    hook, script = hook_with(router)
    frames = [
        pd.DataFrame({"permit_id": [f"p{i}" for i in range(n)], "at": pd.Timestamp("2024-01-01")})
        for n in (4, 3)
    ]
    result = hook.upsert(DSID, frames, chunk_size=5)
    posts = [s for s in script.seen if s.method == "POST"]
    assert [len(p.body) for p in posts] == [5, 2]
    assert posts[0].body[0]["at"] == "2024-01-01T00:00:00.000"
    assert result.rows_created == 7


def test_upsert_refuses_dataset_without_row_identifier():
    router = Router().on("GET", f"/api/views/{DSID}.json", (200, view_json(rid=False)))
    hook, script = hook_with(router)
    with pytest.raises(SocrataForbiddenOperation, match="row identifier"):
        hook.upsert(DSID, [{"a": 1}])
    assert all(s.method == "GET" for s in script.seen)


def test_upsert_deletions_and_auth_errors():
    router = (
        Router()
        .on("GET", f"/api/views/{DSID}.json", (200, view_json()))
        .on("POST", f"/resource/{DSID}.json", upsert_echo)
    )
    hook, script = hook_with(router)
    result = hook.upsert_deletions(DSID, "permit_id", ["a", "b"])
    assert script.seen[-1].body == [
        {"permit_id": "a", ":deleted": True},
        {"permit_id": "b", ":deleted": True},
    ]
    assert result.rows_deleted == 2

    router.on(
        "POST",
        f"/resource/{DSID}.json",
        (403, {"message": "You must be logged in to access this resource", "error": True}),
    )
    with pytest.raises(SocrataAuthError) as info:
        hook.upsert(DSID, [{"permit_id": "x"}])
    assert info.value.status == 403 and "logged in" in info.value.message


def test_replace_puts_first_chunk_then_upserts():
    router = (
        Router()
        .on("GET", f"/api/views/{DSID}.json", (200, view_json()))
        .on("PUT", f"/resource/{DSID}.json", upsert_echo)
        .on("POST", f"/resource/{DSID}.json", upsert_echo)
    )
    hook, script = hook_with(router)
    result = hook.replace(DSID, ({"permit_id": str(i)} for i in range(7)))
    writes = [(s.method, len(s.body)) for s in script.seen if s.method != "GET"]
    assert writes == [("PUT", 3), ("POST", 3), ("POST", 1)]
    assert result.rows_created == 7
    script.seen.clear()
    for empty in ([], pd.DataFrame({"permit_id": []}), [pd.DataFrame()]):
        with pytest.raises(ValueError, match="no rows"):
            hook.replace(DSID, empty)
    assert script.seen == []
    hook.replace(DSID, iter([]), allow_empty=True)
    assert (script.seen[-1].method, script.seen[-1].body) == ("PUT", [])


def test_iter_rows_pages_in_id_order():
    data = [{"permit_id": str(i)} for i in range(7)]

    def page(seen):
        offset, limit = int(seen.param("$offset")), int(seen.param("$limit"))
        return 200, data[offset : offset + limit]

    router = Router().on("GET", f"/resource/{DSID}.json", page)
    hook, script = hook_with(router)
    assert list(hook.iter_rows(DSID, page_size=3)) == data
    assert [(s.param("$order"), s.param("$offset"), s.param("$limit")) for s in script.seen] == [
        (":id", "0", "3"),
        (":id", "3", "3"),
        (":id", "6", "3"),
    ]
    list(hook.iter_rows(DSID, page_size=10, order="issued DESC", where="amount > 1"))
    assert script.seen[-1].param("$order") == "issued DESC,:id"
    assert script.seen[-1].param("$where") == "amount > 1"


# -- approvals ----------------------------------------------------------------------------------
def _approval_router(state, post_result=(200, {"id": 1})):
    current = {"state": state}

    def guidance(seen):
        assert seen.param("method") == "guidance_v2" and seen.param("assetId") == DSID
        return 200, {
            "public": {"currentState": current["state"]},
            "internal": {"currentState": "unsubmittable"},
        }

    def submit(seen):
        current["state"] = "pending"
        return post_result

    return (
        Router()
        .on("GET", f"/api/views/{DSID}/approvals", guidance)
        .on("POST", f"/api/views/{DSID}/approvals", submit)
        .on("GET", f"/api/views/{DSID}.json", (200, view_json()))
    )


def test_submit_for_approval_once():
    hook, script = hook_with(_approval_router("submittable"))
    result = hook.submit_for_public_approval(DSID)
    assert result.submitted and result.status.state is ApprovalState.PENDING
    post = next(s for s in script.seen if s.method == "POST")
    assert post.param("method") == "startWorkflowSubmission"
    assert post.body == {"object": "public_audience_request", "outcome": "change_audience"}
    assert post.headers["Content-Type"] == "application/json"

    again = hook.submit_for_public_approval(DSID)
    assert not again.submitted and again.status.state is ApprovalState.PENDING
    assert sum(1 for s in script.seen if s.method == "POST") == 1


@pytest.mark.parametrize("state", ["pending", "approved"])
def test_no_resubmission_when_pending_or_approved(state):
    hook, script = hook_with(_approval_router(state))
    assert not hook.submit_for_public_approval(DSID).submitted
    assert not any(s.method == "POST" for s in script.seen)


def test_resubmission_after_rejection_and_unsubmittable():
    hook, script = hook_with(_approval_router("rejected"))
    assert hook.submit_for_public_approval(DSID).submitted
    hook, script = hook_with(_approval_router("unsubmittable"))
    with pytest.raises(SocrataApprovalError):
        hook.submit_for_public_approval(DSID)
    assert not any(s.method == "POST" for s in script.seen)


# -- freshness ----------------------------------------------------------------------------------
def test_freshness_batches_ids():
    def catalog(seen):
        ids = [v for k, v in seen.query if k == "ids"]
        results = [
            {
                "resource": {"id": i, "data_updated_at": "2024-01-01T00:00:00Z"},
                "metadata": {"is_public": False},
            }
            for i in ids
            if i != "miss-0000"
        ]
        return 200, {"results": results, "resultSetSize": len(results)}

    hook, script = hook_with(Router().on("GET", "/api/catalog/v1", catalog))
    out = hook.list_asset_freshness(["aaaa-0001", "bbbb-0002", "miss-0000", "aaaa-0001"], batch_size=2)
    assert sorted(out) == ["aaaa-0001", "bbbb-0002"]
    assert out["aaaa-0001"].audience is Audience.PRIVATE
    assert len(script.seen) == 2
    first = script.seen[0]
    assert first.param("show_visibility") == "true" and first.param("limit") == "2"
    assert first.headers["X-Socrata-Host"] == "data.example.gov"


# -- safety -------------------------------------------------------------------------------------
def test_hook_has_no_dataset_delete_method():
    destructive = ("delet", "drop", "destroy", "remove", "purge", "truncate")
    names = [n for n in dir(SocrataHook) if any(word in n.lower() for word in destructive)]
    assert names == ["upsert_deletions"]  # rows only, through ':deleted' upserts


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _is_revision_discard(path: Path, function: str | None, call: ast.Call) -> bool:
    """The one allowed DELETE: DSMAPI's discard of a revision (``DELETE {API}/revision/{id}/{seq}``),
    which closes an unapplied revision and never touches the dataset. It must live in
    ``revisions.discard_revision`` and its path must start with the revision path."""
    if (path.name, function) != ("revisions.py", "discard_revision") or len(call.args) < 2:
        return False
    target = call.args[1]
    return (
        isinstance(target, ast.JoinedStr)
        and len(target.values) >= 2
        and isinstance(target.values[0], ast.FormattedValue)
        and isinstance(target.values[0].value, ast.Name)
        and target.values[0].value.id == "API"
        and isinstance(target.values[1], ast.Constant)
        and str(target.values[1].value).startswith("/revision/")
    )


def _calls_with_function(tree):
    """Every call with the name of the function it is in (None at module level)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    yield node.name, inner
    for call in _calls(tree):
        yield None, call


def test_portal_source_never_sends_delete_nor_unordered_get_all():
    root = Path(opendata.portal.__file__).parent
    offenders = []
    allowed = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for call in _calls(tree):
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr == "delete":
                offenders.append(f"{path.name}:{call.lineno} .delete(...)")
            if isinstance(func, ast.Attribute) and func.attr == "get_all":  # pages without $order
                offenders.append(f"{path.name}:{call.lineno} sodapy get_all")
        seen = set()
        for function, call in _calls_with_function(tree):
            if id(call) in seen:
                continue  # attributed to the outermost function holding it; the module pass repeats calls
            seen.add(id(call))
            values = list(call.args[:1]) + [k.value for k in call.keywords if k.arg == "method"]
            for value in values:
                if isinstance(value, ast.Constant) and str(value.value).upper() == "DELETE":
                    if _is_revision_discard(path, function, call):
                        allowed.append(f"{path.name}:{call.lineno}")
                    else:
                        offenders.append(f"{path.name}:{call.lineno} request with method DELETE")
    assert offenders == []
    assert len(allowed) <= 1  # only the revision discard


def test_raw_sodapy_delete_is_blocked_before_the_wire():
    hook, script = hook_with(Router())
    with pytest.raises(SocrataForbiddenOperation):
        hook.get_conn().delete(DSID)
    assert script.seen == []


def test_credentials_not_in_repr_or_errors():
    router = Router().on("GET", f"/api/views/{DSID}.json", (500, {"message": f"echo {PASSWORD} {TOKEN}"}))
    hook, _ = hook_with(router)
    with pytest.raises(SocrataServerError) as info:
        hook.get_view(DSID)
    basic = base64.b64encode(f"key-id:{PASSWORD}".encode()).decode()
    for text in (str(info.value), repr(info.value), repr(hook), repr(hook.config), repr(hook.adapter)):
        assert PASSWORD not in text and TOKEN not in text and basic not in text
