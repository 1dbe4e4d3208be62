"""Parsing DSMAPI answers (pure): revisions, sources, apply jobs; the audience check."""

from __future__ import annotations

import pytest

from opendata.portal import Audience, SocrataForbiddenOperation
from opendata.portal.revisions import (
    JobInfo,
    OutputSchemaInfo,
    RevisionInfo,
    SourceInfo,
    check_audience,
    held_for_approval,
    link,
    transform_expr,
)

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
                            "completed_at": "2026-01-01T00:00:05Z",
                            "output_columns": [
                                {"field_name": "a", "transform": {"transform_expr": "to_number(`a`)",
                                                                  "error_count": 2}},
                                {"field_name": "b", "transform": {"transform_expr": "to_text(`b`)",
                                                                  "error_count": 0}},
                            ],
                        },
                    ],
                },
            ],
        },
        "links": {"show": "/api/publishing/v1/source/15786"},
    }
    source = SourceInfo.from_json(payload)
    assert source.finished and not source.failed and source.total_rows == 10 and source.parsed
    assert (source.input_schema_id, source.output.id, source.output.error_count, source.num_row_errors) == (3, 5, 2, 1)
    assert source.output.column_errors == {"a": 2} and source.output.complete
    assert [c.transform_expr for c in source.output.columns] == ["to_number(`a`)", "to_text(`b`)"]
    parsing = SourceInfo.from_json({"resource": {"id": 1, "schemas": []}})
    assert not parsing.finished and parsing.total_rows is None and parsing.output is None and not parsing.parsed


def test_the_bytes_stopping_is_not_the_parse_completing():
    """``finished_at`` on the source means the bytes stopped (publishing API); the output schema
    is complete at its ``completed_at`` (socrata-py waits on it), or at its documented
    ``finished_at`` once every transform's ``error_count`` (null until complete) is known."""
    columns = [{"field_name": "a", "transform": {"transform_expr": "to_text(`a`)", "error_count": None}}]
    assert not OutputSchemaInfo.from_json({"id": 1, "output_columns": columns}).complete
    assert not OutputSchemaInfo.from_json({"id": 1, "finished_at": "t", "output_columns": columns}).complete
    assert OutputSchemaInfo.from_json({"id": 1, "completed_at": "t", "output_columns": columns}).complete
    done = [{"field_name": "a", "transform": {"transform_expr": "to_text(`a`)", "error_count": 0}}]
    assert OutputSchemaInfo.from_json({"id": 1, "finished_at": "t", "output_columns": done}).complete
    source = SourceInfo.from_json({"resource": {"id": 9, "finished_at": "t", "schemas": [
        {"id": 1, "total_rows": 2, "output_schemas": [{"id": 2, "output_columns": columns}]}]}})
    assert source.finished and source.parsed and not source.output.complete


def test_held_apply_key_links_and_transforms():
    assert held_for_approval({"resource": {"key": "approval_submitted"}, "links": {}})
    assert held_for_approval({"key": "approval_submitted"})
    # socrata-py's status label is not what the portal sends: it must not be taken for the key.
    assert not held_for_approval({"key": "submitted_for_approval", "resource": {"id": 5}})
    assert not held_for_approval({"resource": {"id": 5, "status": "initializing"}})
    links = {"apply": "/api/publishing/v1/revision/abcd-1234/3/apply", "evil": "https://elsewhere.example/x",
             "up": "/api/publishing/v1/../../admin", "other": "/api/views/abcd-1234.json"}
    assert link(links, "apply", "fallback") == "/api/publishing/v1/revision/abcd-1234/3/apply"
    assert link(links, "evil", "fallback") == "fallback"
    assert link(links, "up", "fallback") == "fallback"
    assert link(links, "other", "fallback") == "fallback"
    assert link(links, "missing", "fallback") == "fallback"
    assert transform_expr("zip_code", "text") == "to_text(`zip_code`)"
    assert transform_expr("issued", "calendar_date") == "to_floating_timestamp(`issued`)"
    assert transform_expr("n", "number") == "to_number(`n`)"
    assert transform_expr("u", "url") is None  # no documented transform: the guess is kept


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


def _scripted(monkeypatch, apply_result, *, guessed="to_text(`permit_id`)", incomplete_polls=0):
    import json

    from tests.opendata.portal.socrata_fakes import Router, hook_with

    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        json.dumps({"conn_type": "socrata", "host": "https://data.example.gov", "login": "k", "password": "p"}),
    )
    view = {"id": DS, "columns": [{"id": 1, "fieldName": "permit_id", "name": "Permit", "dataTypeName": "text"}]}
    revision = {"resource": {**REVISION["resource"], "revision_seq": 1, "task_sets": []},
                "links": {"apply": f"{API}/revision/{DS}/1/apply"}}
    column = {"id": 70, "field_name": "permit_id", "display_name": "Permit", "position": 1,
              "transform": {"id": 80, "transform_expr": guessed, "output_soql_type": "text", "error_count": None}}
    schema = {"id": 1, "total_rows": 2, "output_schemas": [{"id": 2, "output_columns": [column]}]}
    source = {"resource": {"id": 9, "finished_at": "t", "schemas": [schema]}}
    polls = {"n": 0}

    def output(seen, output_id):
        polls["n"] += 1
        done = polls["n"] > incomplete_polls
        col = {**column, "transform": {**column["transform"], "error_count": 0 if done else None}}
        if output_id == 3:
            col["transform"]["transform_expr"] = "to_text(`permit_id`)"
        return 200, {"resource": {"id": output_id, "input_schema_id": 1, "total_rows": 2, "error_count": 0,
                                  "completed_at": "t" if done else None, "output_columns": [col]}}

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
        .on("POST", f"{API}/source/9/chunk/0/16/commit", (200, source))
        .on("GET", f"{API}/source/9", (200, source))
        .on("POST", f"{API}/source/9/schema/1", lambda seen: output(seen, 3))
        .on("GET", f"{API}/source/9/schema/1/output/2", lambda seen: output(seen, 2))
        .on("GET", f"{API}/source/9/schema/1/output/3", lambda seen: output(seen, 3))
        .on("PUT", f"{API}/revision/{DS}/1/apply", apply_result)
        .on("DELETE", f"{API}/revision/{DS}/1", (201, revision))
    )
    return hook_with(router)


def test_a_revision_held_for_approval_is_reported_not_waited_for(monkeypatch):
    from opendata.portal.revisions import APPROVAL_SUBMITTED

    hook, script = _scripted(monkeypatch, (200, {"resource": {"key": "approval_submitted", "id": 5}, "links": {}}))
    result = hook.replace_via_revision(DS, [{"permit_id": "A"}, {"permit_id": "B"}], audience="private")
    assert result.status == APPROVAL_SUBMITTED and result.rows_uploaded == 2 and result.rows_created == 0
    sent = [(s.method, s.path) for s in script.seen]
    assert sent.count(("PUT", f"{API}/revision/{DS}/1/apply")) == 1
    assert not any("/apply/" in path for _, path in sent)  # nothing to poll: the reviewer decides
    create = next(s for s in script.seen if s.method == "POST" and s.path == f"{API}/revision/{DS}")
    assert create.body == {"action": {"type": "replace", "permission": "private"}}  # explicit permission
    chunk = next(s for s in script.seen if "/chunk/0/0" in s.path and not s.path.endswith("commit"))
    assert chunk.body == "permit_id\nA\nB\n" and chunk.headers["Content-Type"] == "application/octet-stream"


def test_apply_waits_for_the_output_schema_to_complete(monkeypatch):
    hook, script = _scripted(monkeypatch, (200, {"resource": {"key": "approval_submitted", "id": 5}}),
                             incomplete_polls=3)
    hook.replace_via_revision(DS, [{"permit_id": "A"}, {"permit_id": "B"}], audience="private", poll_seconds=0.01)
    sent = [(s.method, s.path) for s in script.seen]
    polls = [i for i, (m, p) in enumerate(sent) if p == f"{API}/source/9/schema/1/output/2"]
    apply_at = sent.index(("PUT", f"{API}/revision/{DS}/1/apply"))
    assert len(polls) == 4 and max(polls) < apply_at  # three incomplete answers, then complete, then apply
    assert not any(m == "POST" and p == f"{API}/source/9/schema/1" for m, p in sent)  # the guess was right
    assert next(s for s in script.seen if s.method == "PUT").body == {"output_schema_id": 2}


def test_a_guessed_type_is_replaced_by_the_dataset_type(monkeypatch):
    """The portal guessed a number for a text column (a ZIP code would lose its zeros): the replace
    sets the column's transform to its dataset type and applies that output schema instead."""
    hook, script = _scripted(monkeypatch, (200, {"resource": {"key": "approval_submitted", "id": 5}}),
                             guessed="to_number(`permit_id`)")
    hook.replace_via_revision(DS, [{"permit_id": "01"}, {"permit_id": "02"}], audience="private")
    transform = next(s for s in script.seen if s.method == "POST" and s.path == f"{API}/source/9/schema/1")
    (column,) = transform.body["output_columns"]
    assert column["transform"]["transform_expr"] == "to_text(`permit_id`)"
    assert column["initial_output_column_id"] == 70 and column["field_name"] == "permit_id"
    assert next(s for s in script.seen if s.method == "PUT").body == {"output_schema_id": 3}


def test_socrata_pys_label_is_not_the_held_key(monkeypatch):
    """An answer with ``key: submitted_for_approval`` (socrata-py's label, not the portal's key) and
    no job is an unknown outcome: the revision is read back, never applied a second time."""
    hook, script = _scripted(monkeypatch, (200, {"key": "submitted_for_approval", "resource": {"id": 5}}))
    with pytest.raises(Exception):  # noqa: B017 - whichever error ends it, the count below matters
        hook.replace_via_revision(DS, [{"permit_id": "A"}, {"permit_id": "B"}], audience="private")
    sent = [(s.method, s.path) for s in script.seen]
    puts = sent.count(("PUT", f"{API}/revision/{DS}/1/apply"))
    reads = sent.count(("GET", f"{API}/revision/{DS}/1"))
    assert puts >= 1 and reads >= puts  # every further apply was preceded by a read of the revision


def test_an_apply_refused_outright_discards_the_revision(monkeypatch):
    from opendata.portal import SocrataAuthError

    hook, script = _scripted(monkeypatch, (403, {"code": "permission_denied", "error": True, "message": "no"}))
    with pytest.raises(SocrataAuthError):
        hook.replace_via_revision(DS, [{"permit_id": "A"}, {"permit_id": "B"}], audience="private")
    sent = [(s.method, s.path) for s in script.seen]
    assert sent.count(("PUT", f"{API}/revision/{DS}/1/apply")) == 1  # a refusal is not retried
    assert sent[-1] == ("DELETE", f"{API}/revision/{DS}/1")  # the unapplied revision is discarded
