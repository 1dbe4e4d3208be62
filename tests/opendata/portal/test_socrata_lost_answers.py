"""Writes that are not idempotent, against a scripted portal that can lose answers: the write is
applied, then the client gets a 500 or a timeout. Creation, publication and approval submission
must each happen exactly once, found by reading the state (or the creation marker) afterwards."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import requests

from opendata.portal import ApprovalState, Audience, ColumnSpec, DatasetMetadata, SocrataServerError
from opendata.portal.assets import SocrataCreationUnknown
from opendata.portal.models import DatasetMarker
from tests.opendata.portal.socrata_fakes import Seen, hook_with

MARKER = DatasetMarker("Dataset Information", "Pipeline Dataset ID", "building-permits")
COLUMNS = [ColumnSpec("permit_nbr", "Permit Number"), ColumnSpec("zip_code", "ZIP Code")]


@pytest.fixture(autouse=True)
def socrata_conn(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
        "conn_type": "socrata", "host": "https://data.example.gov", "login": "key-id", "password": "pw-lost-answers",
        "extra": {"max_retries": 3, "backoff_base": 0, "create_lookup_seconds": 0.5, "publish_wait_seconds": 1,
                  "app_token": "tok-lost-answers"}}))


class FakePortal:
    """Just enough of a Socrata portal, in memory, with answers that can be lost."""

    def __init__(self):
        self.views: dict[str, dict] = {}
        self.audience: dict[str, str] = {}
        self.approval: dict[str, str] = {}
        self.listed = True  # False: the catalog does not list new assets yet (index lag)
        self.faults: dict[tuple[str, str], list[str]] = {}
        self.writes: list[tuple[str, str]] = []
        self._ids = (f"n{n:03d}-test" for n in itertools.count())

    def lose(self, method: str, path: str, *kinds: str) -> None:
        """The next requests to (method, path) fail: ``after`` (applied, answer lost as a 500),
        ``timeout`` (applied, then the read times out) or ``before`` (a 500, nothing applied)."""
        self.faults.setdefault((method, path), []).extend(kinds)

    def __call__(self, seen: Seen):
        kinds = self.faults.get((seen.method, seen.path))
        kind = kinds.pop(0) if kinds else None
        if kind == "before":
            return 500, {"code": "internal_error", "error": True, "message": "Internal error"}
        answer = self._route(seen)
        if kind == "after":
            return 500, {"code": "internal_error", "error": True, "message": "Internal error"}
        if kind == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out")
        return answer

    def _route(self, seen: Seen):
        m, p = seen.method, seen.path
        if m != "GET":
            self.writes.append((m, p))
        if m == "POST" and p == "/api/views.json":
            dataset_id = next(self._ids)
            body = seen.body
            self.views[dataset_id] = {
                "id": dataset_id, "name": body["name"], "publicationStage": "unpublished", "createdAt": time.time(),
                "columns": [{**c, "id": i} for i, c in enumerate(body["columns"])], "grants": [],
                "metadata": body.get("metadata") or {}, "approvals": [],
            }
            self.audience[dataset_id] = "private"
            self.approval[dataset_id] = "submittable"
            return 200, self.views[dataset_id]
        if p == "/api/catalog/v1":
            return 200, self._catalog(seen)
        parts = p.split("/")
        dataset_id = parts[3].removesuffix(".json") if p.startswith("/api/views/") else None
        if p.startswith("/resource/"):
            dataset_id = parts[2].removesuffix(".json")
            anonymous = "Authorization" not in seen.headers
            visible = (self.views[dataset_id]["publicationStage"] == "published"
                       and self.audience[dataset_id] == "public" and self.approval[dataset_id] == "approved")
            return (200, [{"permit_nbr": "1"}]) if visible or not anonymous else (403, {"error": True, "message": "x"})
        if dataset_id not in self.views:
            return 404, {"code": "not_found", "error": True, "message": "Not found"}
        view = self.views[dataset_id]
        if m == "GET" and p == f"/api/views/{dataset_id}.json":
            grants = [{"type": "viewer", "flags": ["public"]}] if self.audience[dataset_id] == "public" else []
            return 200, {**view, "grants": grants}
        if m == "PUT" and p == f"/api/views/{dataset_id}.json":
            value = seen.param("value")
            self.audience[dataset_id] = "public" if value == "public.read" else "private"
            return 200, None
        if m == "GET" and p.endswith("/permissions"):
            return 200, {"scope": self.audience[dataset_id]}
        if m == "POST" and p.endswith("/publication.json"):
            view["publicationStage"] = "published"
            return 200, view
        if m == "GET" and p.endswith("/approvals"):
            state = self.approval[dataset_id]
            return 200, {"public": {"currentState": state, "toChangeAudience": {
                "queueOptions": [{"workflowId": 1, "expectedState": "pending"}],
                "submission": {"object": "public_audience_request", "outcome": "change_audience"}}}}
        if m == "POST" and p.endswith("/approvals"):
            if self.approval[dataset_id] == "pending":
                return 400, {"code": "approvals.already_pending", "error": True, "message": "already pending"}
            self.approval[dataset_id] = "pending"
            return 200, None
        return 404, {"code": "not_found", "error": True, "message": f"no route {m} {p}"}

    def _catalog(self, seen: Seen) -> dict:
        key, value = MARKER.catalog_param()
        wanted_marker = seen.param(key)
        wanted_name = seen.param("names")
        results = []
        for dataset_id, view in self.views.items():
            if not self.listed:
                continue
            custom = view["metadata"].get("custom_fields", {}).get(MARKER.fieldset, {})
            if wanted_marker is not None and custom.get(MARKER.field) != wanted_marker:
                continue
            if wanted_name is not None and view["name"].lower() != wanted_name.lower():
                continue
            results.append({"resource": {"id": dataset_id, "name": view["name"]}})
        return {"results": results, "resultSetSize": len(results)}


def hook_on(portal: FakePortal):
    hook, script = hook_with(portal)
    return hook, script


def posts(portal: FakePortal, path: str) -> int:
    return portal.writes.count(("POST", path))


# -- publication ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["after", "timeout"])
def test_publication_applied_but_answer_lost_is_not_sent_again(kind):
    portal = FakePortal()
    hook, _ = hook_on(portal)
    dataset_id = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    portal.lose("POST", f"/api/views/{dataset_id}/publication.json", kind)
    view = hook.publish(dataset_id)
    assert view.is_published
    assert posts(portal, f"/api/views/{dataset_id}/publication.json") == 1
    assert hook.get_audience(dataset_id) is Audience.PRIVATE  # publishing keeps the audience


def test_publication_that_failed_before_applying_is_sent_again():
    portal = FakePortal()
    hook, _ = hook_on(portal)
    dataset_id = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    portal.lose("POST", f"/api/views/{dataset_id}/publication.json", "before", "before")
    assert hook.publish(dataset_id).is_published
    assert posts(portal, f"/api/views/{dataset_id}/publication.json") == 1  # the two failures applied nothing


def test_the_last_try_applied_with_its_answer_lost_is_read_back():
    portal = FakePortal()
    hook, _ = hook_on(portal)
    dataset_id = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    # max_retries 3: four tries; the first three fail before applying, the fourth applies and is lost.
    portal.lose("POST", f"/api/views/{dataset_id}/publication.json", "before", "before", "before", "after")
    assert hook.publish(dataset_id).is_published
    assert posts(portal, f"/api/views/{dataset_id}/publication.json") == 1


def test_publication_failing_every_time_raises_after_the_retries():
    portal = FakePortal()
    hook, _ = hook_on(portal)
    dataset_id = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    portal.lose("POST", f"/api/views/{dataset_id}/publication.json", *["before"] * 10)
    with pytest.raises(SocrataServerError):
        hook.publish(dataset_id)
    assert portal.views[dataset_id]["publicationStage"] == "unpublished"


# -- submission -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["after", "timeout"])
def test_submission_applied_but_answer_lost_is_not_sent_again(kind):
    portal = FakePortal()
    hook, _ = hook_on(portal)
    dataset_id = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    portal.lose("POST", f"/api/views/{dataset_id}/approvals", kind)
    result = hook.submit_for_public_approval(dataset_id)
    assert result.submitted and result.status.state is ApprovalState.PENDING
    assert posts(portal, f"/api/views/{dataset_id}/approvals") == 1


# -- creation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["after", "timeout"])
def test_creation_applied_but_answer_lost_finds_the_dataset_by_its_marker(kind):
    portal = FakePortal()
    hook, script = hook_on(portal)
    portal.lose("POST", "/api/views.json", kind)
    dataset_id = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr",
                                     metadata=DatasetMetadata(description="d"), marker=MARKER)
    assert list(portal.views) == [dataset_id]  # exactly one dataset
    assert posts(portal, "/api/views.json") == 1
    assert portal.audience[dataset_id] == "private"
    created = next(s for s in script.seen if s.method == "POST" and s.path == "/api/views.json")
    assert created.body["metadata"]["custom_fields"]["Dataset Information"]["Pipeline Dataset ID"] == "building-permits"


def test_creation_with_an_unknown_outcome_is_not_repeated_while_the_catalog_lags():
    portal = FakePortal()
    portal.listed = False
    hook, _ = hook_on(portal)
    portal.lose("POST", "/api/views.json", "after")
    with pytest.raises(SocrataCreationUnknown, match="not creating another one"):
        hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    assert len(portal.views) == 1 and posts(portal, "/api/views.json") == 1
    portal.listed = True  # the catalog catches up: the caller's next look finds it
    (found,) = hook.find_marked_datasets(MARKER, name="Permits")
    assert found.id == next(iter(portal.views))


def test_creation_that_failed_before_applying_reports_unknown_and_creates_nothing():
    portal = FakePortal()
    hook, _ = hook_on(portal)
    portal.lose("POST", "/api/views.json", "before")
    with pytest.raises(SocrataCreationUnknown):
        hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    assert portal.views == {} and posts(portal, "/api/views.json") == 0  # nothing applied, nothing retried


def test_lookup_is_confirmed_by_the_marker_not_the_name():
    portal = FakePortal()
    hook, _ = hook_on(portal)
    other = DatasetMarker(MARKER.fieldset, MARKER.field, "another-dataset")
    hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=other)  # same name
    assert hook.find_marked_datasets(MARKER, name="Permits") == []
    ours = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    assert [v.id for v in hook.find_marked_datasets(MARKER, name="Permits")] == [ours]


# -- visibility -------------------------------------------------------------------------------------
def test_visibility_reads_the_four_factors_and_the_anonymous_read():
    portal = FakePortal()
    hook, script = hook_on(portal)
    dataset_id = hook.create_dataset("Permits", COLUMNS, row_identifier="permit_nbr", marker=MARKER)
    seen = hook.visibility(dataset_id)
    assert not seen.visible_to_anonymous and len(seen.problems) == 3  # draft, private, not approved
    portal.audience[dataset_id] = "public"
    portal.approval[dataset_id] = "approved"
    seen = hook.visibility(dataset_id)
    assert seen.problems == ["it is not published (a draft is invisible to the public whatever its audience)"]
    assert hook.anonymous_read_status(dataset_id) == 403
    hook.publish(dataset_id)
    assert hook.visibility(dataset_id).visible_to_anonymous
    assert hook.anonymous_read_status(dataset_id) == 200
    anonymous = [s for s in script.seen if s.path.startswith("/resource/")]
    assert anonymous and all("Authorization" not in s.headers for s in anonymous)
    assert all(s.headers.get("X-App-Token") == "tok-lost-answers" for s in anonymous)
