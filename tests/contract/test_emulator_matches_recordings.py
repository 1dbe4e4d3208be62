"""(b) The emulator answers like the recordings: for the same kind of request its answer has the
recording's keys with the same JSON types, and no key that only the emulator has is read by the
project's parsers (a field only our emulator invents must never be relied on).

The emulator runs in strict mode (the mode meant to behave like the recorded portal), with its
random lost answers off so that each request below is answered once.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from portal_emulator.testing import run_emulator
from tests.contract.readers import MARKER, READERS, client_documented, read_error
from tests.contract.recordings import (
    KeyTracker,
    all_recordings,
    compare_shapes,
    extra_keys,
    key_paths,
    load,
)
from tests.contract.test_parsers_read_recordings import READER_OF

API = "/api/publishing/v1"
COLUMNS = [
    {"fieldName": "permit_nbr", "name": "Permit Number", "dataTypeName": "text"},
    {"fieldName": "zip_code", "name": "ZIP Code", "dataTypeName": "text"},
    {"fieldName": "valuation", "name": "Valuation", "dataTypeName": "number"},
    {"fieldName": "issue_date", "name": "Issue Date", "dataTypeName": "calendar_date"},
]
ROWS = [{"permit_nbr": f"P{n:04d}", "zip_code": "02134", "valuation": str(1000 + n),
         "issue_date": "2026-11-01T00:00:00.000"} for n in range(5)]

#: Differences between a recording and the emulator that are accepted, as path prefixes with the
#: reason. Anything else fails the test.
ACCEPTED = {
    # The recorded NYC dataset's own custom fieldsets and attachments; the emulator's dataset has
    # the pipeline's fieldsets. Same recorded structure, other names.
    "metadata.custom_fields.": "domain-defined fieldset and field names",
    "metadata.attachments": "only assets with attachments carry them (the pipeline uploads none)",
    # A column's display format depends on its type and the publisher's choices.
    "columns[].format.": "number formatting the recorded publisher chose",
    "results[].resource.columns_format[].": "number formatting the recorded publisher chose",
    "columns[].width": "set only on columns a publisher resized in the recorded view",
    # Column statistics Socrata computes from the data in the background; the project never reads
    # them and the emulator does not compute them.
    "columns[].cachedContents.": "column statistics computed by the portal",
    # The publishing API types these as one object; socrata-py and the research notes (§3.1) read
    # a TaskSet's log as a list of entries and a revision's attachments as a list.
    "resource.log": "TaskSet.log typed as an object in publishing.json, a list of entries in use",
    "resource.task_sets[].log": "TaskSet.log typed as an object in publishing.json, a list of entries in use",
    "resource.attachments": "Revision.attachments typed as an object in publishing.json, a list in use",
}


#: Keys the project reads that the recording of this answer lacks but the same API document
#: defines for the same kind of object elsewhere, with where.
DOCUMENTED_IN_SPEC = {
    "resource.created_by.user_id": "publishing.json Creator.user_id: the created_by of sources, schemas and task "
                                   "sets (a revision's created_by is an untyped object there); only used to "
                                   "tell this user's stray empty revisions apart, and skipped when absent",
}


def unaccepted(differences: list[str]) -> list[str]:
    def path(difference: str) -> str:
        return difference.split(": ", 1)[1].split(":")[0] if difference.startswith("missing key") \
            else difference.split(" at ", 1)[1].split(":")[0]

    return sorted(d for d in differences if not any(path(d).startswith(prefix) for prefix in ACCEPTED))


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("contract"), strict=True, lost_answer_rate=0.0,
                      parse_complete_seconds=0.2) as running:
        yield running


def _json(response: requests.Response):
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.text[:200]
    return response.json()


@pytest.fixture(scope="module")
def world(emu):
    """A public, published, approved dataset (with an approval record), its raw answers, and a
    DSMAPI replace of it taken step by step, every answer kept."""
    s = emu.session("publisher")
    answers: dict[str, object] = {}
    metadata = {"custom_fields": {"Dataset Information": {"Pipeline Dataset ID": MARKER.value}},
                "rowIdentifier": "permit_nbr"}
    created = s.post(f"{emu.url}/api/views.json", timeout=30,
                     data=json.dumps({"name": "Contract permits", "columns": COLUMNS, "metadata": metadata}))
    answers["create"] = _json(created)
    ds = answers["create"]["id"]
    answers["upsert"] = _json(s.post(f"{emu.url}/resource/{ds}.json", data=json.dumps(ROWS), timeout=30))
    answers["replace"] = _json(s.put(f"{emu.url}/resource/{ds}.json", data=json.dumps(ROWS), timeout=30))
    s.post(f"{emu.url}/api/views/{ds}/publication.json", timeout=30).raise_for_status()
    s.post(f"{emu.url}/api/views/{ds}/approvals", params={"method": "startWorkflowSubmission"}, timeout=30,
           data=json.dumps({"object": "public_audience_request", "outcome": "change_audience"})).raise_for_status()
    emu.review(ds, "approved", notes="fine")
    answers["view"] = _json(s.get(f"{emu.url}/api/views/{ds}.json", timeout=30))
    answers["metadata"] = _json(s.get(f"{emu.url}/api/views/metadata/v1/{ds}", timeout=30))
    answers["permissions"] = _json(s.get(f"{emu.url}/api/views/{ds}/permissions", timeout=30))
    answers["guidance"] = _json(s.get(f"{emu.url}/api/views/{ds}/approvals", timeout=30,
                                      params={"method": "guidance_v2", "assetId": ds}))
    anonymous = requests.Session()
    answers["catalog"] = _json(anonymous.get(f"{emu.url}/api/catalog/v1", timeout=30,
                                             params={"domains": emu.host, "limit": 7}))
    answers["catalog_visibility"] = _json(s.get(f"{emu.url}/api/catalog/v1", timeout=30, params={
        "domains": emu.host, "limit": 7, "show_visibility": "true"}))
    answers["rows"] = _json(anonymous.get(f"{emu.url}/resource/{ds}.json", timeout=30))
    answers["rows_limit1"] = _json(anonymous.get(f"{emu.url}/resource/{ds}.json", timeout=30,
                                                 params={"$limit": 1, "$offset": 0}))
    answers["view_404"] = (404, _json(s.get(f"{emu.url}/api/views/zzzz-9999.json", timeout=30)))
    answers["resource_404"] = (404, _json(s.get(f"{emu.url}/resource/zzzz-9999.json", timeout=30)))
    forbidden = anonymous.post(f"{emu.url}/resource/{ds}.json", data=json.dumps(ROWS[:1]), timeout=30)
    answers["resource_403"] = (forbidden.status_code, _json(forbidden))

    # DSMAPI: a replace revision on a private copy (a public one is held for approval in strict mode).
    private = _json(s.post(f"{emu.url}/api/views.json", timeout=30,
                           data=json.dumps({"name": "Contract revision", "columns": COLUMNS,
                                            "metadata": {"rowIdentifier": "permit_nbr"}})))["id"]
    revision = _json(s.post(f"{emu.url}{API}/revision/{private}", timeout=30,
                            data=json.dumps({"action": {"type": "replace", "permission": "private"}})))
    answers["revision"] = revision
    seq = revision["resource"]["revision_seq"]
    source = _json(s.post(f"{emu.url}{API}/revision/{private}/{seq}/source", timeout=30, data=json.dumps(
        {"source_type": {"type": "upload", "filename": "permits.csv"}, "parse_options": {"parse_source": True}})))
    source_id = source["resource"]["id"]
    answers["initiate"] = _json(s.post(f"{emu.url}{API}/source/{source_id}/initiate", timeout=30,
                                       data=json.dumps({"content_type": "text/csv"})))
    body = ("permit_nbr,zip_code,valuation,issue_date\n" + "".join(
        f"{r['permit_nbr']},{r['zip_code']},{r['valuation']},{r['issue_date']}\n" for r in ROWS)).encode()
    s.post(f"{emu.url}{API}/source/{source_id}/chunk/0/0", data=body, timeout=30,
           headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    s.post(f"{emu.url}{API}/source/{source_id}/chunk/0/{len(body)}/commit", timeout=30).raise_for_status()
    deadline = time.monotonic() + 60
    while True:
        parsed = _json(s.get(f"{emu.url}{API}/source/{source_id}", timeout=30))
        outputs = [o for schema in parsed["resource"]["schemas"] for o in schema.get("output_schemas") or []]
        if outputs and outputs[-1].get("completed_at"):
            break
        assert time.monotonic() < deadline, "the upload was never parsed"
        time.sleep(0.2)
    answers["source"] = parsed
    schema = parsed["resource"]["schemas"][-1]
    output_id = max(o["id"] for o in schema["output_schemas"])
    answers["output_schema"] = _json(s.get(
        f"{emu.url}{API}/source/{source_id}/schema/{schema['id']}/output/{output_id}", timeout=30))
    apply = _json(s.put(f"{emu.url}{API}/revision/{private}/{seq}/apply", timeout=30,
                        data=json.dumps({"output_schema_id": output_id})))
    answers["apply"] = apply
    job_id = apply["resource"]["id"]
    job = s.get(f"{emu.url}{API}/revision/{private}/{seq}/apply/{job_id}", timeout=30)
    answers["job"] = _json(job)
    return answers


#: recording -> the emulator's answer to the same kind of request
CASES = {
    "views_get_uczf-rk3c": "view",
    "views_get_uczf-rk3c_approvals": "view",
    "views_create_foobar": "create",
    "resource_upsert_songs": "upsert",
    "resource_replace_songs": "replace",
    "resource_upsert_docs_example": "upsert",
    "resource_replace_docs_example": "replace",
    "catalog_v1_nyc_limit7": "catalog",
    "catalog_v1_show_visibility_schema": "catalog_visibility",
    "metadata_v1_get_schema": "metadata",
    "permissions_get_example": "permissions",
    "approvals_guidance_v2_schema": "guidance",
    "resource_get_uczf-rk3c": "rows",
    "resource_get_uczf-rk3c_limit1": "rows_limit1",
    "views_get_missing_404": "view_404",
    "resource_get_missing_404": "resource_404",
    "resource_upsert_403": "resource_403",
    "dsmapi_revision_schema": "revision",
    "dsmapi_source_initiate_schema": "initiate",
    "dsmapi_source_schema": "source",
    "dsmapi_output_schema_schema": "output_schema",
    "dsmapi_apply_taskset_schema": "apply",
    "dsmapi_apply_job_get_schema": "job",
}
ERROR_CASES = {"views_get_missing_404", "resource_get_missing_404", "resource_upsert_403"}
ROW_CASES = {"resource_get_uczf-rk3c", "resource_get_uczf-rk3c_limit1"}


def _actual(world, name: str):
    recording = load(name)
    answer = world[CASES[name]]
    if name in ERROR_CASES:
        status, answer = answer
        assert status == recording.status
    return recording, recording.pick(answer)


@pytest.mark.parametrize("name", sorted(set(CASES) - ROW_CASES))
def test_the_emulator_has_the_recorded_keys_and_types(world, name):
    recording, actual = _actual(world, name)
    differences = compare_shapes(recording.body, actual)
    if recording.kind == "documented-schema":
        # A skeleton lists every property the spec documents, many optional: only the types of
        # what both carry must agree.
        differences = [d for d in differences if not d.startswith("missing key")]
    assert unaccepted(differences) == []


@pytest.mark.parametrize("name", sorted(ROW_CASES))
def test_rows_are_text_as_recorded(world, name):
    """Recorded SODA2 JSON rows carry every value as a string (numbers and dates included)."""
    recording, actual = _actual(world, name)
    assert all(isinstance(v, str) for row in recording.body for v in row.values())
    assert actual and all(isinstance(v, str) for row in actual for v in row.values())


def _reader(name: str):
    if name in ERROR_CASES:
        return lambda body: read_error(body, load(name).status)
    return READERS[READER_OF[name]]


@pytest.mark.parametrize("name", sorted((set(CASES) - ROW_CASES) & (set(READER_OF) | ERROR_CASES)))
def test_the_project_reads_no_key_only_the_emulator_has(world, name):
    recording, actual = _actual(world, name)
    tracker = KeyTracker(actual)
    _reader(name)(tracker.value)
    kind = READER_OF.get(name, "error")
    recorded_anywhere = {p for r in all_recordings()
                         if READER_OF.get(r.name, "error" if r.name in ERROR_CASES else None) == kind
                         for p in key_paths(r.body)}
    emulator_only = set(extra_keys(recording.body, actual)) - recorded_anywhere
    read = set(tracker.read_paths())
    relied_on = sorted(p for p in read & emulator_only
                       if not client_documented(p) and p not in DOCUMENTED_IN_SPEC
                       and not p.startswith("metadata.custom_fields."))
    assert relied_on == []


def test_the_emulators_approval_records_carry_exactly_the_recorded_keys(world):
    (record,) = world["view"]["approvals"]
    recorded = load("views_get_uczf-rk3c_approvals").body[0]
    assert set(record) == set(recorded)  # no reviewer, no notes: the recording has neither
