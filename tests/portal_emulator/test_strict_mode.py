"""Recorded portal behaviour in both modes (drafts are not public, approval records without reviewer
or notes, publishing keeps the audience, DSMAPI transforms) and what ``--strict`` adds: guessed
column types, output schemas that complete after the bytes stop, applies held for approval, lost
answers. Every test talks HTTP to a real emulator subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import requests

from portal_emulator.testing import run_emulator

from .conftest import http, make_public, new_dataset, sodapy_client

API = "/api/publishing/v1"
APPROVAL_KEYS = {
    "reviewedAt",
    "reviewedAutomatically",
    "state",
    "submissionId",
    "submissionObject",
    "submissionOutcome",
    "submittedAt",
    "targetAudience",
    "workflowId",
    "submissionDetails",
    "submissionOutcomeApplication",
    "submitter",
}
ADDRESSES = [
    {"fieldName": "address_id", "name": "Address ID", "dataTypeName": "text"},
    {"fieldName": "street", "name": "Street", "dataTypeName": "text"},
    {"fieldName": "zip_code", "name": "ZIP code", "dataTypeName": "text"},
]
ADDRESS_CSV = b"address_id,street,zip_code\nA1,Main St,02134\nA2,Elm St,10001\n"


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """Strict mode without lost answers (their own test turns them on), with a short parse delay."""
    with run_emulator(
        tmp_path_factory.mktemp("strict"),
        strict=True,
        parse_complete_seconds=1.0,
        lost_answer_rate=0,
        extra_args=["--apply-stage-seconds", "0.02"],
    ) as e:
        yield e


@pytest.fixture(scope="module")
def strict_client(strict):
    with sodapy_client(strict) as c:
        yield c


# -- helpers ----------------------------------------------------------------------------------------
def open_revision(emu, s, ds: str, permission: str | None = None, action: str = "replace") -> dict:
    body = {"action": {"type": action, **({"permission": permission} if permission else {})}}
    r = s.post(f"{emu.url}{API}/revision/{ds}", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def upload(emu, s, rev: dict, body: bytes) -> dict:
    """One-shot upload; returns the source answer (in strict mode finished_at is already set)."""
    r = s.post(
        emu.url + rev["links"]["create_source"],
        json={"source_type": {"type": "upload", "filename": "addresses.csv"}, "parse_options": {"parse_source": True}},
    )
    assert r.status_code == 201, r.text
    r = s.post(emu.url + r.json()["links"]["bytes"], data=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    return r.json()


def parsed(emu, s, source_id: int, timeout: float = 30) -> dict:
    """The source once its input schema shows."""
    deadline = time.monotonic() + timeout
    while True:
        res = s.get(f"{emu.url}{API}/source/{source_id}").json()["resource"]
        if res["schemas"] or res["failed_at"]:
            return res
        assert time.monotonic() < deadline, "the source was never parsed"
        time.sleep(0.05)


def completed(emu, s, source: dict, output: dict, timeout: float = 30) -> dict:
    """Poll an output schema (as socrata-py does) until completed_at is set."""
    base = f"{emu.url}{API}/source/{source['id']}/schema/{output['input_schema_id']}/output/{output['id']}"
    deadline = time.monotonic() + timeout
    while True:
        res = s.get(base).json()["resource"]
        if res["completed_at"]:
            return res
        assert time.monotonic() < deadline, "the output schema never completed"
        time.sleep(0.05)


def apply(emu, s, rev: dict, output_schema_id: int) -> requests.Response:
    return s.put(emu.url + rev["links"]["apply"], json={"output_schema_id": output_schema_id})


def wait_job(emu, s, ds: str, seq: int, task_set_id: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        res = s.get(f"{emu.url}{API}/revision/{ds}/{seq}/apply/{task_set_id}").json()["resource"]
        if res["status"] in ("successful", "failure"):
            return res
        assert time.monotonic() < deadline, f"job stuck at {res['status']}"
        time.sleep(0.05)


def review_cli(emu, *args: str) -> subprocess.CompletedProcess:
    """``python -m portal_emulator review`` as the reviewer (password from the environment)."""
    name, password = emu.auth("reviewer")
    return subprocess.run(
        [sys.executable, "-m", "portal_emulator", "review", "--url", emu.url, "--user", name, *args],
        env={**os.environ, "PORTAL_EMULATOR_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=60,
    )


def column_types(client, ds: str) -> dict[str, str]:
    return {c["fieldName"]: c["dataTypeName"] for c in client.get_metadata(ds)["columns"]}


def first_output(source: dict) -> dict:
    [input_schema] = source["schemas"]
    return max(input_schema["output_schemas"], key=lambda o: o["id"])


# -- 1a: drafts are not public, in both modes ----------------------------------------------------------
def anonymous_reads(emu, ds: str) -> dict[str, int]:
    anon = requests.Session()
    return {
        "rows": anon.get(f"{emu.url}/resource/{ds}.json").status_code,
        "row": anon.get(f"{emu.url}/resource/{ds}/A1.json").status_code,
        "view": anon.get(f"{emu.url}/api/views/{ds}.json").status_code,
        "export": anon.get(f"{emu.url}/api/views/{ds}/rows.csv").status_code,
        "metadata": anon.get(f"{emu.url}/api/views/metadata/v1/{ds}").status_code,
        "page": anon.get(f"{emu.url}/d/{ds}").status_code,
    }


def anonymous_lists(emu, ds: str) -> dict[str, bool]:
    anon = requests.Session()
    return {
        "catalog": ds in {e["resource"]["id"] for e in anon.get(f"{emu.url}/api/catalog/v1").json()["results"]},
        "metadata_list": ds in {m["id"] for m in anon.get(f"{emu.url}/api/views/metadata/v1").json()},
        "data_json": any(d["identifier"].endswith(ds) for d in anon.get(f"{emu.url}/data.json").json()["dataset"]),
    }


@pytest.mark.parametrize("mode", ["lenient", "strict"])
def test_a_draft_is_invisible_to_anonymous_callers_whatever_its_audience(mode, request):
    emu = request.getfixturevalue("emu" if mode == "lenient" else "strict")
    with sodapy_client(emu) as client:
        ds = new_dataset(client, f"Draft {mode}", row_identifier="address_id", columns=ADDRESSES)
        client.upsert(ds, [{"address_id": "A1", "street": "Main St", "zip_code": "02134"}])
        client.set_permission(ds, "public")
        emu.review(ds, "approved")
        view = client.get_metadata(ds)  # the owner reads the draft
        assert view["publicationStage"] == "unpublished" and view["grants"][0]["flags"] == ["public"]
        assert len(client.get(ds)) == 1

        # Public and approved, but unpublished: every anonymous path refuses it, as for a private one.
        assert set(anonymous_reads(emu, ds).values()) <= {401, 403}
        refused = requests.get(f"{emu.url}/resource/{ds}.json")
        assert refused.json() == {
            "code": "authentication_required",
            "error": True,
            "message": "You must be logged in to access this resource",
            "data": {},
        }
        assert not any(anonymous_lists(emu, ds).values())
        assert requests.get(f"{emu.url}/d/{ds}", auth=emu.auth("publisher")).status_code == 200

        client.publish(ds)
        assert set(anonymous_reads(emu, ds).values()) == {200}
        assert all(anonymous_lists(emu, ds).values())

        # Hidden from the catalog: not visible to anonymous callers either (the fourth factor).
        client.update_metadata(ds, {"hideFromCatalog": True})
        assert set(anonymous_reads(emu, ds).values()) <= {401, 403}
        assert not any(anonymous_lists(emu, ds).values())


def test_a_published_dataset_still_needs_approval(emu, client):
    ds = new_dataset(client, "Published, waiting", row_identifier="address_id", columns=ADDRESSES)
    client.upsert(ds, [{"address_id": "A1"}])
    client.publish(ds)
    client.set_permission(ds, "public")  # a pending public audience request: still private
    assert set(anonymous_reads(emu, ds).values()) <= {401, 403}
    emu.review(ds, "rejected")
    assert set(anonymous_reads(emu, ds).values()) <= {401, 403}
    client.set_permission(ds, "public")
    emu.review(ds, "approved")
    assert set(anonymous_reads(emu, ds).values()) == {200}


def test_publishing_a_private_draft_keeps_it_private(emu, client):
    ds = new_dataset(client, "Private draft")
    view = client.publish(ds)
    assert view["publicationStage"] == "published" and view["grants"] == []
    assert http(emu).get(f"{emu.url}/api/views/{ds}/permissions").json()["scope"] == "private"
    assert requests.get(f"{emu.url}/resource/{ds}.json").status_code == 403


# -- 1b: approval records carry exactly the recorded keys ----------------------------------------------
def test_no_api_answer_carries_a_reviewer_or_notes(emu, client):
    ds = new_dataset(client, "Recorded keys")
    client.publish(ds)
    s = http(emu)
    submitted = s.post(
        f"{emu.url}/api/views/{ds}/approvals",
        params={"method": "startWorkflowSubmission"},
        json={"object": "public_audience_request", "outcome": "change_audience"},
    ).json()
    pending = client.get_metadata(ds)["approvals"][-1]
    assert set(pending) == APPROVAL_KEYS and pending["state"] == "pending"
    assert pending["reviewedAt"] is None and pending["submissionOutcomeApplication"] is None
    assert set(submitted) == APPROVAL_KEYS | {"id"}

    reviewed = emu.review(ds, "approved", notes="A distinctive note from the CDO")
    assert set(reviewed) == APPROVAL_KEYS | {"id"}
    approved = client.get_metadata(ds)["approvals"][-1]
    assert set(approved) == APPROVAL_KEYS
    assert isinstance(approved["reviewedAt"], int)
    assert set(approved["submissionOutcomeApplication"]) == {"endedAt", "failureCount", "startedAt", "status"}
    for path in (f"/api/views/{ds}.json", f"/api/views/{ds}/approvals?method=guidance_v2&assetId={ds}"):
        text = s.get(emu.url + path).text
        assert "A distinctive note" not in text and '"reviewer"' not in text and '"notes"' not in text
    # The emulator's own review page still shows who decided and why.
    page = http(emu, "reviewer").get(f"{emu.url}/review").text
    assert "A distinctive note from the CDO" in page


# -- transforms, in both modes -----------------------------------------------------------------------
def test_transform_endpoint_creates_and_evaluates_output_schemas(emu, client):
    ds = new_dataset(client, "Transforms", row_identifier="address_id", columns=ADDRESSES)
    s = http(emu)
    rev = open_revision(emu, s, ds)
    source = parsed(emu, s, upload(emu, s, rev, ADDRESS_CSV)["resource"]["id"])
    output = first_output(source)
    # Without --strict the first output schema mirrors the dataset's columns and types.
    assert [c["transform"]["transform_expr"] for c in output["output_columns"]] == [
        "to_text(`address_id`)",
        "to_text(`street`)",
        "to_text(`zip_code`)",
    ]
    assert output["completed_at"] and output["sort_bys"] == []
    links = s.get(f"{emu.url}{API}/source/{source['id']}").json()["links"]
    assert {"show", "bytes", "add_to_revision", "input_schema_links"} <= set(links)
    schema_links = links["input_schema_links"]
    assert {"transform", "latest_output", "output_schema_links"} <= set(schema_links)
    transform_url = emu.url + schema_links["transform"].format(input_schema_id=output["input_schema_id"])

    columns = [
        {
            "field_name": "address_id",
            "display_name": "Address ID",
            "position": 0,
            "is_primary_key": True,
            "transform": {"transform_expr": "`address_id`"},
        },
        {
            "field_name": "zip",
            "display_name": "ZIP as a number",
            "position": 1,
            "description": "renamed",
            "transform": {"transform_expr": "to_number(zip_code)"},
        },
        {
            "field_name": "street",
            "display_name": "Street",
            "position": 2,
            "transform": {"transform_expr": "to_number(`street`)"},
        },
    ]
    r = s.post(transform_url, json={"output_columns": columns})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["resource"]["id"] != output["id"] and set(made["links"]) >= {"show", "schema_errors", "rows"}
    done = completed(emu, s, source, made["resource"])
    errors = {c["field_name"]: c["transform"]["error_count"] for c in done["output_columns"]}
    assert errors == {"address_id": 0, "zip": 0, "street": 2} and done["error_count"] == 2
    assert [c["transform"]["output_soql_type"] for c in done["output_columns"]] == ["text", "number", "number"]
    latest = s.get(emu.url + schema_links["latest_output"].format(input_schema_id=output["input_schema_id"]))
    assert latest.json()["resource"]["id"] == done["id"]
    assert s.get(emu.url + rev["links"]["show"]).json()["resource"]["output_schema_id"] == done["id"]
    bad_rows = s.get(emu.url + made["links"]["schema_errors"]).json()[1:]
    assert [row["row"][2]["error"]["input"] for row in bad_rows] == ["Main St", "Elm St"]
    as_csv = s.get(emu.url + made["links"]["schema_errors"], headers={"Accept": "text/csv"}).text
    assert "Unable to convert" in as_csv

    # Unsupported expressions are refused with a Socrata error naming them; nothing is created.
    for expr in ("upper(`street`)", "`street` || 'x'", "to_text(`nope`)"):
        bad = s.post(transform_url, json={"output_columns": [{**columns[0], "transform": {"transform_expr": expr}}]})
        assert bad.status_code == 400 and bad.json()["error"] is True and expr in bad.json()["message"]

    # Without incrementing the revision: its output schema stays the previous one.
    keep = [{**columns[0]}, {**columns[1], "transform": {"transform_expr": "to_text(`zip_code`)"}}]
    other = s.post(transform_url, params={"increment_revision": "false"}, json={"output_columns": keep}).json()
    assert s.get(emu.url + rev["links"]["show"]).json()["resource"]["output_schema_id"] == done["id"]
    kept = completed(emu, s, source, other["resource"])

    # Applying it makes it the dataset's schema: the zip column becomes a number column named zip;
    # the street column, left out, is dropped.
    [source_now] = s.get(emu.url + rev["links"]["list_sources"]).json()
    assert source_now["resource"]["id"] == source["id"]
    other_number = s.post(transform_url, json={"output_columns": columns[:2]}).json()["resource"]
    other_number = completed(emu, s, source, other_number)
    r = apply(emu, s, rev, other_number["id"])
    assert r.status_code == 200, r.text
    job = wait_job(emu, s, ds, rev["resource"]["revision_seq"], r.json()["resource"]["id"])
    assert job["status"] == "successful", job["log"]
    stage = next(e for e in job["log"] if e["stage"] == "apply_schema")["details"]
    assert stage["columns_dropped"] == ["street", "zip_code"] and stage["columns_added"] == ["zip"]
    assert column_types(client, ds) == {"address_id": "text", "zip": "number"}
    assert sorted(client.get(ds), key=lambda r: r["address_id"]) == [
        {"address_id": "A1", "zip": "2134"},
        {"address_id": "A2", "zip": "10001"},
    ]
    assert kept["id"] != other_number["id"]


# -- 2a: guessed column types (strict) -------------------------------------------------------------------
def test_strict_guesses_a_zip_code_is_a_number_and_applying_changes_the_column(strict, strict_client):
    ds = new_dataset(strict_client, "Guessed ZIP", row_identifier="address_id", columns=ADDRESSES)
    s = http(strict)
    rev = open_revision(strict, s, ds)
    source = parsed(strict, s, upload(strict, s, rev, ADDRESS_CSV)["resource"]["id"])
    [input_schema] = source["schemas"]
    assert {c["field_name"]: c["soql_type"] for c in input_schema["input_columns"]} == {
        "address_id": "text",
        "street": "text",
        "zip_code": "number",
    }
    output = completed(strict, s, source, first_output(source))
    zip_column = next(c for c in output["output_columns"] if c["field_name"] == "zip_code")
    assert zip_column["transform"]["transform_expr"] == "to_number(`zip_code`)"
    assert zip_column["transform"]["output_soql_type"] == "number"

    r = apply(strict, s, rev, output["id"])
    assert r.status_code == 200, r.text
    job = wait_job(strict, s, ds, rev["resource"]["revision_seq"], r.json()["resource"]["id"])
    assert job["status"] == "successful", job["log"]
    assert column_types(strict_client, ds)["zip_code"] == "number"
    rows = {row["address_id"]: row for row in strict_client.get(ds)}
    assert rows["A1"]["zip_code"] == "2134"  # the leading zero is gone, as on Socrata


def test_strict_a_to_text_transform_keeps_the_zip_code(strict, strict_client):
    ds = new_dataset(strict_client, "ZIP kept as text", row_identifier="address_id", columns=ADDRESSES)
    strict_client.upsert(ds, [{"address_id": "OLD", "street": "Old Rd", "zip_code": "00501"}])
    s = http(strict)
    rev = open_revision(strict, s, ds, action="update")
    source = parsed(strict, s, upload(strict, s, rev, ADDRESS_CSV)["resource"]["id"])
    guessed = completed(strict, s, source, first_output(source))
    # What a careful client does (socrata-py change_column_transform(...).to(...).run()).
    columns = []
    for col in guessed["output_columns"]:
        col = {**col, "transform": dict(col["transform"])}
        if col["field_name"] == "zip_code":
            col["transform"]["transform_expr"] = "to_text(`zip_code`)"
            col["initial_output_column_id"] = col["id"]
        columns.append(col)
    made = s.post(
        f"{strict.url}{API}/source/{source['id']}/schema/{guessed['input_schema_id']}", json={"output_columns": columns}
    )
    assert made.status_code == 201, made.text
    typed = completed(strict, s, source, made.json()["resource"])
    r = apply(strict, s, rev, typed["id"])
    job = wait_job(strict, s, ds, rev["resource"]["revision_seq"], r.json()["resource"]["id"])
    assert job["status"] == "successful", job["log"]
    assert not any(e["stage"] == "apply_schema" for e in job["log"])  # the schema did not change
    assert column_types(strict_client, ds) == {"address_id": "text", "street": "text", "zip_code": "text"}
    rows = {row["address_id"]: row["zip_code"] for row in strict_client.get(ds)}
    assert rows == {"OLD": "00501", "A1": "02134", "A2": "10001"}


def test_strict_applying_a_retyped_update_converts_the_existing_rows(strict, strict_client):
    ds = new_dataset(strict_client, "Converted", row_identifier="address_id", columns=ADDRESSES)
    strict_client.upsert(ds, [{"address_id": "OLD", "street": "Old Rd", "zip_code": "00501"}])
    s = http(strict)
    rev = open_revision(strict, s, ds, action="update")
    source = parsed(strict, s, upload(strict, s, rev, ADDRESS_CSV)["resource"]["id"])
    output = completed(strict, s, source, first_output(source))
    r = apply(strict, s, rev, output["id"])
    job = wait_job(strict, s, ds, rev["resource"]["revision_seq"], r.json()["resource"]["id"])
    stage = next(e for e in job["log"] if e["stage"] == "apply_schema")["details"]
    assert stage["types_changed"] == {"zip_code": "text -> number"} and stage["values_not_converted"] == 0
    rows = {row["address_id"]: row["zip_code"] for row in strict_client.get(ds)}
    assert rows == {"OLD": "501", "A1": "2134", "A2": "10001"}


# -- 2c: parsing completes after the bytes stop (strict) -------------------------------------------------
def test_strict_apply_before_completed_at_is_refused(strict, strict_client):
    ds = new_dataset(strict_client, "Applied too soon", row_identifier="address_id", columns=ADDRESSES)
    s = http(strict)
    rev = open_revision(strict, s, ds)
    answer = upload(strict, s, rev, ADDRESS_CSV)["resource"]
    assert answer["finished_at"]  # the bytes stopped...
    source = parsed(strict, s, answer["id"])
    output = first_output(source)
    assert output["completed_at"] is None and output["finished_at"] is None  # ...parsing is not complete
    assert output["error_count"] is None
    assert {c["transform"]["error_count"] for c in output["output_columns"]} == {None}

    refused = apply(strict, s, rev, output["id"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "output_schema.not_ready" and refused.json()["error"] is True
    assert s.get(strict.url + rev["links"]["show"]).json()["resource"]["task_sets"] == []

    done = completed(strict, s, source, output)
    assert done["error_count"] == 0 and done["completed_at"] >= answer["finished_at"]
    assert apply(strict, s, rev, done["id"]).status_code == 200


def test_lenient_source_finishes_with_its_output_schema_complete(emu, client):
    ds = new_dataset(client, "Complete at once", row_identifier="address_id", columns=ADDRESSES)
    s = http(emu)
    rev = open_revision(emu, s, ds)
    source = upload(emu, s, rev, ADDRESS_CSV)["resource"]
    assert source["finished_at"] and first_output(source)["completed_at"]


# -- 2d: applies held for approval (strict) ---------------------------------------------------------------
def test_strict_apply_to_a_public_dataset_waits_for_approval(strict, strict_client):
    ds = new_dataset(strict_client, "Held revision", row_identifier="address_id", columns=ADDRESSES)
    strict_client.upsert(ds, [{"address_id": "OLD", "street": "Old Rd", "zip_code": "00501"}])
    make_public(strict, strict_client, ds)
    before = requests.get(f"{strict.url}/resource/{ds}.json").json()
    s = http(strict)

    def held_apply(rev: dict) -> dict:
        source = parsed(strict, s, upload(strict, s, rev, ADDRESS_CSV)["resource"]["id"])
        output = completed(strict, s, source, first_output(source))
        r = apply(strict, s, rev, output["id"])
        assert r.status_code == 200, r.text
        return r.json()

    rev = open_revision(strict, s, ds, permission="public")
    seq = rev["resource"]["revision_seq"]
    held = held_apply(rev)
    assert held["resource"]["key"] == "approval_submitted" and "links" in held
    record = strict_client.get_metadata(ds)["approvals"][-1]
    assert set(record) == APPROVAL_KEYS
    assert (record["submissionObject"], record["submissionOutcome"], record["state"]) == (
        "revision",
        "update_published_asset",
        "pending",
    )
    assert record["submissionDetails"] == {"id": str(seq)}
    assert held["resource"]["submission_id"] == record["submissionId"]
    # Nothing changes until a reviewer decides; the revision is frozen, applying again is the same.
    assert requests.get(f"{strict.url}/resource/{ds}.json").json() == before
    assert s.get(strict.url + rev["links"]["show"]).json()["resource"]["task_sets"] == []
    again = apply(strict, s, rev, held["resource"]["output_schema_id"]).json()
    assert again["resource"]["submission_id"] == held["resource"]["submission_id"]
    frozen = s.put(strict.url + rev["links"]["show"], json={"notes": "changed my mind"})
    assert frozen.status_code == 409 and frozen.json()["code"] == "revision.submitted_for_approval"
    # The dataset itself stays public and approved; the draft (assetId 4x4:seq) is pending.
    guidance = s.get(
        f"{strict.url}/api/views/{ds}/approvals", params={"method": "guidance_v2", "assetId": f"{ds}:{seq}"}
    ).json()["public"]
    assert guidance["currentState"] == "pending" and guidance["currentOutcome"] == "update_published_asset"
    plain = s.get(f"{strict.url}/api/views/{ds}/approvals", params={"method": "guidance_v2", "assetId": ds})
    assert plain.json()["public"]["currentState"] == "approved"
    assert requests.get(f"{strict.url}/resource/{ds}.json").status_code == 200
    page = http(strict, "reviewer").get(f"{strict.url}/review").text
    assert f'href="/d/{ds}"' in page

    # The reviewer's command line lists the draft as 4x4:seq and decides it by that name.
    listed = review_cli(strict, "list")
    assert listed.returncode == 0 and f"{ds}:{seq}" in listed.stdout, listed.stdout + listed.stderr

    # Rejected: the revision stays open, nothing is applied.
    rejected = review_cli(strict, "reject", f"{ds}:{seq}", "--notes", "not yet")
    assert rejected.returncode == 0, rejected.stderr
    shown = s.get(strict.url + rev["links"]["show"]).json()["resource"]
    assert shown["closed_at"] is None and shown["task_sets"] == []
    assert requests.get(f"{strict.url}/resource/{ds}.json").json() == before

    # Applying again submits again; approval runs the apply job.
    resubmitted = apply(strict, s, rev, held["resource"]["output_schema_id"]).json()
    assert resubmitted["resource"]["key"] == "approval_submitted"
    assert resubmitted["resource"]["submission_id"] != held["resource"]["submission_id"]
    strict.review(ds, "approved", revision_seq=seq)
    deadline = time.monotonic() + 30
    while not s.get(strict.url + rev["links"]["show"]).json()["resource"]["task_sets"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [task_set] = s.get(strict.url + rev["links"]["show"]).json()["resource"]["task_sets"]
    job = wait_job(strict, s, ds, seq, task_set["id"])
    assert job["status"] == "successful", job["log"]
    after = {row["address_id"] for row in requests.get(f"{strict.url}/resource/{ds}.json").json()}
    assert after == {"A1", "A2"}
    outcome = strict_client.get_metadata(ds)["approvals"][-1]["submissionOutcomeApplication"]
    assert outcome["status"] == "success"


def test_strict_apply_to_a_private_dataset_is_not_held(strict, strict_client):
    ds = new_dataset(strict_client, "Private, applied at once", row_identifier="address_id", columns=ADDRESSES)
    s = http(strict)
    rev = open_revision(strict, s, ds, permission="private")
    source = parsed(strict, s, upload(strict, s, rev, ADDRESS_CSV)["resource"]["id"])
    output = completed(strict, s, source, first_output(source))
    answer = apply(strict, s, rev, output["id"]).json()
    assert "key" not in answer["resource"] and answer["resource"]["status"] == "initializing"


# -- 2e: lost answers (strict) ----------------------------------------------------------------------------
def test_strict_lost_answers_happen_at_the_rate_and_the_writes_are_applied(tmp_path):
    with run_emulator(tmp_path, strict=True, lost_answer_rate=0.4, lost_answer_seed=11) as emu:
        with emu.session() as s:
            created = s.post(f"{emu.url}/api/views.json", json={"name": "Lost answers", "columns": ADDRESSES[:1]})
            while created.status_code != 200:  # the create may itself lose its answer: find it
                found = s.get(f"{emu.url}/api/catalog/v1", params={"q": "Lost answers"}).json()["results"]
                if found:
                    break
                created = s.post(f"{emu.url}/api/views.json", json={"name": "Lost answers", "columns": ADDRESSES[:1]})
            ds = s.get(f"{emu.url}/api/catalog/v1", params={"q": "Lost answers"}).json()["results"][0]["resource"]["id"]
            emu.reset_stats()
            codes = [
                s.post(f"{emu.url}/resource/{ds}.json", json=[{"address_id": f"R{i:03d}"}]).status_code
                for i in range(60)
            ]
            reads = [s.get(f"{emu.url}/resource/{ds}.json").status_code for _ in range(20)]
            stored = s.get(f"{emu.url}/resource/{ds}.json", params={"$limit": 1000}).json()
            stats = emu.stats()
    lost = [c for c in codes if c != 200]
    assert set(lost) <= {500, 502} and 12 <= len(lost) <= 36, codes
    assert set(reads) == {200}  # reads never lose their answer
    assert len(stored) == 60  # every write was applied, answered or not
    by_kind = stats["faults"]["by_kind"]
    assert by_kind.get("lost_answer_500", 0) + by_kind.get("lost_answer_502", 0) == len(lost)
    assert stats["faults"]["after_apply"] == len(lost)


def test_strict_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_EMULATOR_STRICT", "1")
    with run_emulator(tmp_path / "env", lost_answer_rate=0) as emu:
        assert re.search(r"strict mode on: output schemas complete 1\.0s", emu.log_tail(80))
    with run_emulator(tmp_path / "off", strict=False) as emu:
        assert "strict mode off" in emu.log_tail(80)


def test_lost_answers_can_be_set_at_run_time_and_survive_clearing_the_faults(emu, client):
    ds = new_dataset(client, "Lost at run time", row_identifier=None)
    s = http(emu)
    try:
        emu.set_faults(rate=0, lost_answer_rate=1.0, lost_answer_seed=3)
        assert s.post(f"{emu.url}/resource/{ds}.json", json=[{"permit_id": "A"}]).status_code in (500, 502)
        emu.clear_faults()  # the configured faults go; lost answers stay
        assert s.post(f"{emu.url}/resource/{ds}.json", json=[{"permit_id": "B"}]).status_code in (500, 502)
        assert s.get(f"{emu.url}/resource/{ds}.json").status_code == 200
    finally:
        emu.set_faults(rate=0, lost_answer_rate=0)
    assert s.post(f"{emu.url}/resource/{ds}.json", json=[{"permit_id": "C"}]).status_code == 200
    assert sorted(r["permit_id"] for r in client.get(ds)) == ["A", "B", "C"]  # all three applied
