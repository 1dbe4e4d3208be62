"""Parsing DSMAPI answers (pure): revisions, sources, apply jobs; the audience check."""

from __future__ import annotations

import pytest

from opendata.portal import Audience, SocrataForbiddenOperation
from opendata.portal.revisions import JobInfo, RevisionInfo, SourceInfo, check_audience

REVISION = {
    "resource": {
        "id": 41000,
        "fourfour": "abcd-1234",
        "revision_seq": 3,
        "action": {"type": "replace", "permission": "private"},
        "closed_at": None,
        "output_schema_id": 15399,
        "created_by": {"user_id": "h522-rd5b", "display_name": "publisher"},
        "task_sets": [{"id": 60000, "status": "failure", "log": [{"stage": "failure", "details": {"type": "x"}}]}],
    },
    "links": {"apply": "/api/publishing/v1/revision/abcd-1234/3/apply"},
}


def test_revision():
    rev = RevisionInfo.from_json(REVISION)
    assert (rev.fourfour, rev.seq, rev.action, rev.permission) == ("abcd-1234", 3, "replace", "private")
    assert rev.created_by == "h522-rd5b" and rev.path == "/api/publishing/v1/revision/abcd-1234/3"
    assert [j.status for j in rev.jobs] == ["failure"] and rev.jobs[0].entry("failure")["details"] == {"type": "x"}


def test_source_reads_the_latest_schemas_and_errors():
    payload = {
        "resource": {
            "id": 15786,
            "finished_at": "2026-01-01T00:00:00Z",
            "failed_at": None,
            "schemas": [
                {"id": 1, "total_rows": 5, "output_schemas": [{"id": 2, "error_count": 9}]},
                {
                    "id": 3,
                    "total_rows": 10,
                    "num_row_errors": 1,
                    "output_schemas": [
                        {"id": 4, "error_count": 0},
                        {
                            "id": 5,
                            "error_count": 2,
                            "output_columns": [
                                {"field_name": "a", "transform": {"error_count": 2}},
                                {"field_name": "b", "transform": {"error_count": 0}},
                            ],
                        },
                    ],
                },
            ],
        }
    }
    source = SourceInfo.from_json(payload)
    assert source.finished and not source.failed and source.total_rows == 10
    assert (source.output_schema_id, source.error_count, source.num_row_errors) == (5, 2, 1)
    assert source.column_errors == {"a": 2}
    parsing = SourceInfo.from_json({"resource": {"id": 1, "schemas": []}})
    assert not parsing.finished and parsing.total_rows is None and parsing.output_schema_id is None


def test_job_report_and_bodies_without_a_job():
    job = JobInfo.from_json(
        {
            "resource": {
                "id": 7,
                "status": "successful",
                "log": [{"stage": "upsert_complete", "details": {"Rows Created": "12", "Rows Deleted": 3}}],
            }
        }
    )
    assert job.done and job.report() == {"Rows Created": 12, "Rows Updated": 0, "Rows Deleted": 3, "Errors": 0}
    # What a 202 "request processing" answer carries: no job, so "still running".
    assert JobInfo.from_json({"code": "request_processing", "error": False, "message": "…"}) is None
    assert JobInfo.from_json(None) is None


def test_audience_check():
    assert check_audience("private", Audience.PRIVATE, "abcd-1234") is Audience.PRIVATE
    assert check_audience(Audience.PUBLIC, Audience.PUBLIC, "abcd-1234") is Audience.PUBLIC
    with pytest.raises(SocrataForbiddenOperation, match="would make it public"):
        check_audience("public", Audience.PRIVATE, "abcd-1234")
    with pytest.raises(ValueError):
        check_audience("internal", Audience.SITE, "abcd-1234")
    with pytest.raises(ValueError):
        check_audience("everyone", Audience.PUBLIC, "abcd-1234")


# -- scripted wire: a portal that holds the revision for approval, an apply refused ---------------
DS, API = "abcd-1234", "/api/publishing/v1"


def _scripted(monkeypatch, apply_result):
    import json

    from tests.opendata.portal.socrata_fakes import Router, hook_with

    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        json.dumps({"conn_type": "socrata", "host": "https://data.example.gov", "login": "k", "password": "p"}),
    )
    view = {"id": DS, "columns": [{"id": 1, "fieldName": "permit_id", "name": "Permit", "dataTypeName": "text"}]}
    revision = {**REVISION, "resource": {**REVISION["resource"], "revision_seq": 1, "task_sets": []}}
    schema = {"id": 1, "total_rows": 2, "output_schemas": [{"id": 2}]}
    source = {"resource": {"id": 9, "finished_at": "t", "schemas": [schema]}}
    router = (
        Router()
        .on("GET", f"/api/views/{DS}/permissions", (200, {"scope": "private"}))
        .on("GET", f"/api/views/{DS}.json", (200, view))
        .on("GET", f"{API}/revision/{DS}", (200, []))
        .on("POST", f"{API}/revision/{DS}", (201, revision))
        .on("POST", f"{API}/revision/{DS}/1/source", (201, {"resource": {"id": 9}}))
        .on("POST", f"{API}/source/9/initiate", (200, {"preferred_chunk_size": 1024}))
        .on("POST", f"{API}/source/9/chunk/0/0", (200, {}))
        .on("POST", f"{API}/source/9/chunk/0/14/commit", (200, source))
        .on("GET", f"{API}/source/9", (200, source))
        .on("PUT", f"{API}/revision/{DS}/1/apply", apply_result)
        .on("DELETE", f"{API}/revision/{DS}/1", (201, revision))
    )
    return hook_with(router)


def test_a_revision_held_for_approval_is_reported_not_waited_for(monkeypatch):
    from opendata.portal.revisions import APPROVAL_SUBMITTED

    hook, script = _scripted(monkeypatch, (200, {"key": APPROVAL_SUBMITTED, "resource": {"id": 5}}))
    result = hook.replace_via_revision(DS, [{"permit_id": "A"}, {"permit_id": "B"}], audience="private")
    assert result.status == APPROVAL_SUBMITTED and result.rows_uploaded == 2 and result.rows_created == 0
    sent = [(s.method, s.path) for s in script.seen]
    assert sent.count(("PUT", f"{API}/revision/{DS}/1/apply")) == 1
    assert not any("/apply/" in path for _, path in sent)  # nothing to poll: the reviewer decides
    create = next(s for s in script.seen if s.method == "POST" and s.path == f"{API}/revision/{DS}")
    assert create.body == {"action": {"type": "replace", "permission": "private"}}  # explicit permission
    chunk = next(s for s in script.seen if "/chunk/0/0" in s.path and not s.path.endswith("commit"))
    assert chunk.body == "permit_id\nA\nB\n" and chunk.headers["Content-Type"] == "application/octet-stream"


def test_an_apply_refused_outright_discards_the_revision(monkeypatch):
    from opendata.portal import SocrataAuthError

    hook, script = _scripted(monkeypatch, (403, {"code": "permission_denied", "error": True, "message": "no"}))
    with pytest.raises(SocrataAuthError):
        hook.replace_via_revision(DS, [{"permit_id": "A"}, {"permit_id": "B"}], audience="private")
    sent = [(s.method, s.path) for s in script.seen]
    assert sent.count(("PUT", f"{API}/revision/{DS}/1/apply")) == 1  # a refusal is not retried
    assert sent[-1] == ("DELETE", f"{API}/revision/{DS}/1")  # the unapplied revision is discarded
