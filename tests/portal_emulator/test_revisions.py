"""DSMAPI revisions on the emulator, over real HTTP: lifecycle, uploads, apply jobs, permissions,
failures, faults, and the atomicity of a replace seen by concurrent readers."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests

from portal_emulator.testing import run_emulator

from .conftest import make_public, new_dataset, sodapy_client

API = "/api/publishing/v1"
PERMITS_HEADER = ["permit_id", "amount", "issued", "active"]


@pytest.fixture(autouse=True)
def _no_faults_left(emu):
    yield
    emu.clear_faults()


@pytest.fixture(scope="module")
def s(emu):
    with emu.session() as session:
        yield session


def csv_body(header: list[str], rows) -> bytes:
    lines = [",".join(header)]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def permit_rows(n: int):
    return [[f"P{i:06d}", f"{i}.5", "2024-01-02T03:04:05.678", "true" if i % 2 else "false"] for i in range(n)]


def open_revision(emu, s, ds: str, action: str = "replace", permission: str | None = "private") -> dict:
    body: dict = {"action": {"type": action}}
    if permission is not None:
        body["action"]["permission"] = permission
    r = s.post(f"{emu.url}{API}/revision/{ds}", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def new_source(emu, s, rev: dict, filename: str = "permits.csv") -> dict:
    r = s.post(
        emu.url + rev["links"]["create_source"],
        json={"source_type": {"type": "upload", "filename": filename}, "parse_options": {"parse_source": True}},
    )
    assert r.status_code == 201, r.text
    return r.json()


def upload(emu, s, rev: dict, body) -> dict:
    """One-shot upload, then wait until the source is parsed; returns the source resource."""
    src = new_source(emu, s, rev)
    r = s.post(emu.url + src["links"]["bytes"], data=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    return wait_source(emu, s, src["resource"]["id"])


def wait_source(emu, s, source_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        res = s.get(f"{emu.url}{API}/source/{source_id}").json()["resource"]
        if res["finished_at"] or res["failed_at"]:
            return res
        assert time.monotonic() < deadline, "source never finished parsing"
        time.sleep(0.05)


def apply(emu, s, rev: dict, **body) -> dict:
    r = s.put(emu.url + rev["links"]["apply"], json=body or {"resource": {"id": rev["resource"]["revision_seq"]}})
    assert r.status_code == 200, r.text
    return r.json()


def wait_job(emu, s, job: dict, timeout: float = 60) -> tuple[dict, list[str]]:
    """Poll the job as the reference says (GET .../apply/{id}); returns it and the statuses seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        r = s.get(emu.url + job["links"]["show"])
        assert r.status_code == 202, r.text  # the publishing API documents 202 for this read
        res = r.json()["resource"]
        if not seen or seen[-1] != res["status"]:
            seen.append(res["status"])
        if res["status"] in ("successful", "failure"):
            return res, seen
        assert time.monotonic() < deadline, f"job stuck at {seen}"
        time.sleep(0.02)


def replace_via_revision(emu, s, ds: str, body: bytes, permission: str | None = "private") -> dict:
    rev = open_revision(emu, s, ds, permission=permission)
    src = upload(emu, s, rev, body)
    assert src["finished_at"], src["failure_details"]
    job, _ = wait_job(emu, s, apply(emu, s, rev))
    assert job["status"] == "successful", job["log"]
    return job


def read_all(emu, s, ds: str) -> list[dict]:
    r = s.get(
        f"{emu.url}/resource/{ds}.json",
        params={"$order": ":id", "$limit": 50000, "$select": ":id,:updated_at,:created_at,permit_id,amount,active"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def log_stage(job: dict, stage: str) -> dict:
    return next(e for e in job["log"] if e["stage"] == stage)


# -- lifecycle --------------------------------------------------------------------------------------
def test_replace_revision_lifecycle(emu, client, s):
    ds = new_dataset(client, "Revision lifecycle")
    client.upsert(ds, [{"permit_id": f"OLD{i}", "amount": i} for i in range(5)])
    old = read_all(emu, s, ds)
    emu.set_timestamps(ds, data_updated_at=datetime(2020, 1, 1, tzinfo=UTC))

    rev = open_revision(emu, s, ds)
    res = rev["resource"]
    assert res["fourfour"] == ds and res["revision_seq"] == 1 and res["closed_at"] is None
    assert res["action"] == {"type": "replace", "permission": "private"}
    assert set(rev["links"]) >= {"show", "apply", "create_source"}
    assert s.get(emu.url + rev["links"]["show"]).json()["resource"]["id"] == res["id"]
    listed = s.get(f"{emu.url}{API}/revision/{ds}", params={"open": "true"}).json()
    assert [r["resource"]["revision_seq"] for r in listed] == [1]

    src = upload(emu, s, rev, csv_body(PERMITS_HEADER, permit_rows(300)))
    [input_schema] = src["schemas"]
    [output] = input_schema["output_schemas"]
    assert input_schema["total_rows"] == 300 and output["error_count"] == 0
    assert [c["field_name"] for c in output["output_columns"]] == ["permit_id", "amount", "issued", "active", "site"]
    assert s.get(emu.url + rev["links"]["show"]).json()["resource"]["output_schema_id"] == output["id"]
    assert read_all(emu, s, ds) == old  # staged, not visible

    job, statuses = wait_job(emu, s, apply(emu, s, rev, output_schema_id=output["id"]))
    assert job["status"] == "successful"
    assert statuses[-1] == "successful" and len(statuses) >= 3  # initializing … finishing, successful
    assert set(statuses) <= {"initializing", "creating_columns", "upserting", "finishing", "successful"}
    report = log_stage(job, "upsert_complete")["details"]
    assert report == {"Rows Created": 300, "Rows Updated": 0, "Rows Deleted": 5, "Errors": 0}

    new = read_all(emu, s, ds)
    assert [r["permit_id"] for r in new] == [f"P{i:06d}" for i in range(300)]
    assert new[1]["amount"] == "1.5" and new[1]["active"] is True
    assert not {r[":id"] for r in new} & {r[":id"] for r in old}  # every row replaced
    assert min(r[":updated_at"] for r in new) > max(r[":updated_at"] for r in old)
    meta = s.get(f"{emu.url}/api/views/metadata/v1/{ds}").json()
    assert meta["dataUpdatedAt"] > "2021"  # moved from the back-dated 2020
    shown = s.get(emu.url + rev["links"]["show"]).json()["resource"]
    assert shown["closed_at"] and [t["status"] for t in shown["task_sets"]] == ["successful"]
    assert s.get(f"{emu.url}{API}/revision/{ds}", params={"open": "true"}).json() == []

    again = s.put(emu.url + rev["links"]["apply"], json={})
    assert again.status_code == 409 and again.json()["code"] == "revision.closed"
    no_discard = s.delete(emu.url + rev["links"]["show"])
    assert no_discard.status_code == 409 and no_discard.json()["error"] is True
    assert open_revision(emu, s, ds)["resource"]["revision_seq"] == 2


def test_chunked_upload_is_retry_safe(emu, client, s):
    ds = new_dataset(client, "Chunked upload")
    rev = open_revision(emu, s, ds)
    src = new_source(emu, s, rev)
    links = src["links"]
    init = s.post(emu.url + links["initiate"], json={"content_type": "text/csv"}).json()
    assert init["preferred_chunk_size"] > 0 and init["preferred_upload_parallelism"] >= 1
    body = csv_body(PERMITS_HEADER, permit_rows(2000))
    size = 4096
    chunks = [(i, off, body[off : off + size]) for i, off in enumerate(range(0, len(body), size))]
    url = emu.url + links["chunk"]
    for i, off, data in reversed(chunks):  # any order
        assert s.post(url.format(seq_num=i, byte_offset=off), data=data).status_code == 200
    i, off, data = chunks[1]
    assert s.post(url.format(seq_num=i, byte_offset=off), data=data).status_code == 200  # a retried chunk
    commit = emu.url + links["commit"]
    short = s.post(commit.format(seq_num=len(chunks) - 1, byte_offset=len(body) - 1))
    assert short.status_code == 400 and short.json()["code"] == "upload.incomplete"
    r = s.post(commit.format(seq_num=len(chunks) - 1, byte_offset=len(body)))
    assert r.status_code == 200
    r = s.post(commit.format(seq_num=len(chunks) - 1, byte_offset=len(body)))  # a retried commit
    assert r.status_code == 200
    res = wait_source(emu, s, src["resource"]["id"])
    assert res["filesize"] == len(body) and res["schemas"][0]["total_rows"] == 2000
    late = s.post(url.format(seq_num=0, byte_offset=0), data=b"x")
    assert late.status_code == 409 and late.json()["code"] == "source.state"
    too_big = s.post(url.format(seq_num=0, byte_offset=0), data=b"x" * (init["preferred_chunk_size"] + 1))
    assert too_big.status_code == 400
    job, _ = wait_job(emu, s, apply(emu, s, rev))
    assert job["status"] == "successful" and len(read_all(emu, s, ds)) == 2000
    stats = emu.stats()
    assert stats["revisions"][ds]["chunks"] == len(chunks) + 1
    assert stats["revisions"][ds]["bytes_uploaded"] == len(body) + len(chunks[1][2])
    chunk_key = f"POST {API}/source/{{source_id}}/chunk/{{seq_num}}/{{byte_offset}}"
    assert stats["request_body_bytes"][chunk_key] >= len(body)


def test_discard_leaves_the_dataset_unchanged(emu, client, s):
    ds = new_dataset(client, "Discarded revision")
    client.upsert(ds, [{"permit_id": "KEEP1"}, {"permit_id": "KEEP2"}])
    before = read_all(emu, s, ds)
    view_before = client.get_metadata(ds)
    rev = open_revision(emu, s, ds, permission="public")
    upload(emu, s, rev, csv_body(PERMITS_HEADER, permit_rows(50)))
    r = s.delete(emu.url + rev["links"]["show"])
    assert r.status_code == 201 and r.json()["resource"]["closed_at"]
    assert r.json()["resource"]["task_sets"] == []
    assert s.delete(emu.url + rev["links"]["show"]).status_code == 201  # discarding twice is harmless
    refused = s.put(emu.url + rev["links"]["apply"], json={})
    assert refused.status_code == 409 and refused.json()["code"] == "revision.closed"
    assert read_all(emu, s, ds) == before
    view_after = client.get_metadata(ds)
    for key in ("rowsUpdatedAt", "grants", "publicationStage", "viewLastModified"):
        assert view_after.get(key) == view_before.get(key), key
    assert emu.stats()["revisions"][ds]["discarded"] == 1


def test_update_revision_upserts(emu, client, s):
    ds = new_dataset(client, "Update revision")
    client.upsert(
        ds, [{"permit_id": "A", "amount": 1, "active": True}, {"permit_id": "B", "amount": 2, "active": True}]
    )
    rev = open_revision(emu, s, ds, action="update", permission=None)
    body = csv_body(["permit_id", "amount", "active"], [["B", "20", ""], ["C", "3", "true"]])
    upload(emu, s, rev, body)
    job, _ = wait_job(emu, s, apply(emu, s, rev))
    report = log_stage(job, "upsert_complete")["details"]
    assert (report["Rows Created"], report["Rows Updated"], report["Rows Deleted"]) == (1, 1, 0)
    rows = {r["permit_id"]: r for r in read_all(emu, s, ds)}
    assert set(rows) == {"A", "B", "C"}
    assert rows["B"]["amount"] == "20" and "active" not in rows["B"]  # an empty cell clears
    assert rows["A"]["amount"] == "1"


# -- permissions: the socrata-py gotcha (reference §3.3) ----------------------------------------------
def audience(client, ds: str) -> str:
    grants = client.get_metadata(ds).get("grants") or []
    return "public" if any("public" in g.get("flags", []) for g in grants) else "private"


def test_permission_decides_the_audience(emu, client, s):
    body = csv_body(PERMITS_HEADER, permit_rows(3))
    private = new_dataset(client, "Private stays private")
    replace_via_revision(emu, s, private, body, permission="private")
    assert audience(client, private) == "private"
    replace_via_revision(emu, s, private, body, permission=None)  # no permission: kept
    assert audience(client, private) == "private"

    public = new_dataset(client, "Public stays public")
    make_public(emu, client, public)
    job = replace_via_revision(emu, s, public, body, permission="public")
    assert audience(client, public) == "public"
    assert not any(e["stage"] == "set_permission" for e in job["log"])

    # The gotcha, the other way round: a revision opened with "private" (the old socrata-py
    # default was "public") changes a public dataset's audience when applied.
    job = replace_via_revision(emu, s, public, body, permission="private")
    assert audience(client, public) == "private"
    assert log_stage(job, "set_permission")["details"]["audience_after"] == "private"

    # "public" on a private dataset, on a portal with approvals: a public audience request is
    # filed for it and the dataset goes public when the reviewer approves.
    widened = new_dataset(client, "Widened by a revision")
    job = replace_via_revision(emu, s, widened, body, permission="public")
    assert log_stage(job, "set_permission")["details"]["outcome"] == "pending"
    assert audience(client, widened) == "private"
    emu.review(widened, "approved", notes="approved without noticing it came from a data refresh")
    assert audience(client, widened) == "public"


def test_public_permission_makes_a_private_dataset_public_without_approvals(tmp_path):
    with run_emulator(tmp_path, extra_args=["--no-approvals", "--apply-stage-seconds", "0"]) as other:
        with sodapy_client(other) as client, other.session() as s:
            ds = new_dataset(client, "Private, then a revision with permission public")
            assert audience(client, ds) == "private"
            job = replace_via_revision(other, s, ds, csv_body(PERMITS_HEADER, permit_rows(3)), permission="public")
            # The gotcha the reference warns about: the data refresh also published the dataset.
            assert audience(client, ds) == "public"
            assert log_stage(job, "set_permission")["details"] == {
                "permission": "public",
                "audience_before": "private",
                "audience_after": "public",
                "outcome": "changed",
            }
            anonymous = requests.get(f"{other.url}/resource/{ds}.json", timeout=10)
            assert anonymous.status_code == 200 and len(anonymous.json()) == 3


# -- failures -------------------------------------------------------------------------------------
def test_failed_job_changes_nothing(emu, client, s):
    ds = new_dataset(client, "Duplicate identifiers")
    client.upsert(ds, [{"permit_id": "X"}])
    before = read_all(emu, s, ds)
    rev = open_revision(emu, s, ds)
    upload(emu, s, rev, csv_body(PERMITS_HEADER, [["D1", "1", "", ""], ["D1", "2", "", ""]]))
    job, statuses = wait_job(emu, s, apply(emu, s, rev))
    assert job["status"] == "failure" and statuses[-1] == "failure" and job["finished_at"]
    failure = log_stage(job, "failure")["details"]
    assert failure["type"] == "duplicate_row_identifier" and "more than once" in failure["message"]
    assert read_all(emu, s, ds) == before
    shown = s.get(emu.url + rev["links"]["show"]).json()["resource"]
    assert shown["closed_at"] is None  # still open: fix and apply again, or discard
    assert s.delete(emu.url + rev["links"]["show"]).status_code == 201
    assert emu.stats()["revisions"][ds]["failed"] == 1


def test_bad_uploads_are_reported_on_the_source(emu, client, s):
    ds = new_dataset(client, "Bad uploads")
    rev = open_revision(emu, s, ds)
    unknown = upload(emu, s, rev, b"permit_id,amount,color\nA,1,red\n")
    assert unknown["failed_at"] and unknown["failure_details"]["type"] == "unknown_columns"
    assert unknown["failure_details"]["columns"] == ["color"]
    not_utf8 = upload(emu, s, rev, b"permit_id\n\xff\xfe\n")
    assert not_utf8["failure_details"]["type"] == "encoding"

    rows = [["A", "1", "2024-01-01", "true"], ["B", "lots", "2024-01-01", "true"], ["", "3", "", ""]]
    rows += [["C", "4", "not a date", "maybe"], ["D", "5"]]
    src = upload(emu, s, rev, csv_body(PERMITS_HEADER, rows))
    [schema] = src["schemas"]
    output = schema["output_schemas"][0]
    assert schema["total_rows"] == 5 and schema["num_row_errors"] == 1
    assert output["error_count"] == 3
    errors = {c["field_name"]: c["transform"]["error_count"] for c in output["output_columns"]}
    assert errors == {"permit_id": 1, "amount": 1, "issued": 1, "active": 1, "site": 0}
    job, _ = wait_job(emu, s, apply(emu, s, rev))
    report = log_stage(job, "upsert_complete")["details"]
    assert report["Rows Created"] == 1 and report["Errors"] == 4  # error rows are never applied
    assert [r["permit_id"] for r in read_all(emu, s, ds)] == ["A"]


def test_auth_and_unknown_things(emu, client, s):
    ds = new_dataset(client, "Auth")
    anon = requests.post(f"{emu.url}{API}/revision/{ds}", json={"action": {"type": "replace"}}, timeout=10)
    assert anon.status_code == 403 and anon.json()["code"] == "authentication_required"
    wrong = requests.post(
        f"{emu.url}{API}/revision/{ds}", json={"action": {"type": "replace"}}, auth=("publisher", "nope"), timeout=10
    )
    assert wrong.status_code == 401
    assert requests.get(f"{emu.url}{API}/revision/{ds}", timeout=10).status_code == 403
    missing = s.post(f"{emu.url}{API}/revision/zzzz-9999", json={"action": {"type": "replace"}})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert s.get(f"{emu.url}{API}/revision/{ds}/99").status_code == 404
    bad = s.post(f"{emu.url}{API}/revision/{ds}", json={"action": {"type": "replace", "permission": "site"}})
    assert bad.status_code == 400 and bad.json()["code"] == "permission.invalid"
    assert s.post(f"{emu.url}{API}/revision/{ds}", json={"action": {"type": "delete"}}).status_code == 400
    assert s.post(f"{emu.url}{API}/revision", json={"action": {"type": "update"}}).status_code == 501


# -- faults ---------------------------------------------------------------------------------------
def test_faults_strike_revision_endpoints(emu, client, s):
    ds = new_dataset(client, "Faulted revisions")
    rev = open_revision(emu, s, ds)
    upload(emu, s, rev, csv_body(PERMITS_HEADER, permit_rows(10)))
    apply_url = emu.url + rev["links"]["apply"]

    emu.set_faults(kinds=["500"], count=1, after_ratio=0, path_prefixes=[f"{API}/revision"], methods=["PUT"])
    assert s.put(apply_url, json={}).status_code == 500
    assert s.get(emu.url + rev["links"]["show"]).json()["resource"]["task_sets"] == []  # not applied

    # Struck after it was applied: the answer is lost but the job runs; applying again is refused,
    # so a client that checks the revision before re-applying never applies twice.
    emu.set_faults(kinds=["503"], count=1, after_ratio=1.0, path_prefixes=[f"{API}/revision"], methods=["PUT"])
    assert s.put(apply_url, json={}).status_code == 503
    [task_set] = s.get(emu.url + rev["links"]["show"]).json()["resource"]["task_sets"]
    again = s.put(apply_url, json={})
    assert again.status_code == 409 and again.json()["code"] in ("revision.apply_in_progress", "revision.closed")
    job, _ = wait_job(emu, s, {"links": {"show": f"{API}/revision/{ds}/1/apply/{task_set['id']}"}})
    assert job["status"] == "successful" and len(read_all(emu, s, ds)) == 10

    emu.set_faults(kinds=["timeout"], count=1, after_ratio=0, timeout_seconds=1.5, path_prefixes=[f"{API}/source"])
    rev2 = open_revision(emu, s, ds)
    src = new_source(emu, s, rev2)
    with pytest.raises(requests.Timeout):
        s.post(emu.url + src["links"]["initiate"], json={"content_type": "text/csv"}, timeout=0.5)
    assert s.post(emu.url + src["links"]["initiate"], json={}).status_code == 200  # and again
    stats = emu.stats()
    assert stats["faults"]["by_kind"]["500"] >= 1 and stats["faults"]["by_kind"]["timeout"] >= 1
    assert stats["statuses"]["503"] >= 1


def test_restart_mid_apply_resumes_the_job(tmp_path):
    with run_emulator(tmp_path, extra_args=["--apply-stage-seconds", "0.6"]) as other:
        with sodapy_client(other) as client, other.session() as s:
            ds = new_dataset(client, "Restarted while applying")
            client.upsert(ds, [{"permit_id": "OLD"}])
            rev = open_revision(other, s, ds)
            upload(other, s, rev, csv_body(PERMITS_HEADER, permit_rows(20)))
            job = apply(other, s, rev)
            other.restart()
            done, _ = wait_job(other, s, job)
            assert done["status"] == "successful"
            assert [r["permit_id"] for r in read_all(other, s, ds)] == [f"P{i:06d}" for i in range(20)]


# -- atomicity ------------------------------------------------------------------------------------
VERSION_COLUMNS = [
    {"fieldName": "row_key", "name": "Row key", "dataTypeName": "text"},
    {"fieldName": "version", "name": "Version", "dataTypeName": "text"},
    {"fieldName": "amount", "name": "Amount", "dataTypeName": "number"},
    {"fieldName": "note", "name": "Note", "dataTypeName": "text"},
]
OLD_ROWS, NEW_ROWS, PAGE = 80_000, 100_000, 10_000


def version_csv(version: str, n: int):
    """The CSV of one version, generated while it is sent (a streamed request body)."""
    yield b"row_key,version,amount,note\n"
    for start in range(0, n, 5000):
        yield "".join(
            f"{version}-{i:06d},{version},{i}.25,row {i} of {version}\n" for i in range(start, min(n, start + 5000))
        ).encode()


class Reader(threading.Thread):
    """Pages the whole dataset with $order=:id over and over, and counts it, recording every answer."""

    def __init__(self, url: str, auth, ds: str):
        super().__init__(daemon=True)
        self.url, self.auth, self.ds = url, auth, ds
        self.stop = threading.Event()
        self.pages: list[tuple[float, str, Counter, int]] = []  # (time, etag, versions, rows)
        self.passes: list[dict] = []
        self.counts: list[tuple[float, str, int]] = []
        self.error: BaseException | None = None

    def run(self):
        try:
            with requests.Session() as session:
                session.auth = self.auth
                while not self.stop.is_set():
                    self.one_pass(session)
                    r = session.get(f"{self.url}/resource/{self.ds}.json", params={"$select": "count(*)"}, timeout=30)
                    self.counts.append((time.monotonic(), r.headers["ETag"], int(r.json()[0]["count"])))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def one_pass(self, session):
        etags, versions, keys, offset = [], Counter(), set(), 0
        started = time.monotonic()
        while True:
            r = session.get(
                f"{self.url}/resource/{self.ds}.json",
                params={"$order": ":id", "$limit": PAGE, "$offset": offset},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            rows = r.json()
            page_versions = Counter(row["version"] for row in rows)
            self.pages.append((time.monotonic(), r.headers["ETag"], page_versions, len(rows)))
            etags.append(r.headers["ETag"])
            versions.update(page_versions)
            keys.update(row["row_key"] for row in rows)
            if len(rows) < PAGE:
                break
            offset += PAGE
        self.passes.append(
            {
                "started": started,
                "ended": time.monotonic(),
                "etags": set(etags),
                "versions": versions,
                "rows": sum(versions.values()),
                "unique": len(keys),
            }
        )


@pytest.mark.slow
def test_replace_is_never_observed_half_done(emu, s):
    """A reader paging with $order=:id while a 100,000-row replace is uploaded and applied sees the
    complete old version or the complete new one: every answer is one version (its rows, count
    and ETag agree), every pass under one ETag is a whole version, and a pass that straddles the
    switch is told apart by its ETag changing."""
    with sodapy_client(emu) as client:
        ds = new_dataset(client, "Atomic replace", row_identifier="row_key", columns=VERSION_COLUMNS)
    job = replace_via_revision(emu, s, ds, b"".join(version_csv("v1", OLD_ROWS)))
    assert log_stage(job, "upsert_complete")["details"]["Rows Created"] == OLD_ROWS

    readers = [Reader(emu.url, emu.auth("publisher"), ds) for _ in range(2)]
    for reader in readers:
        reader.start()
    time.sleep(0.5)
    rev = open_revision(emu, s, ds)
    src = upload(emu, s, rev, version_csv("v2", NEW_ROWS))  # streamed, parsed into staging
    assert src["schemas"][0]["total_rows"] == NEW_ROWS
    applied_at = time.monotonic()
    job, statuses = wait_job(emu, s, apply(emu, s, rev))
    switched = time.monotonic()
    assert job["status"] == "successful"
    report = log_stage(job, "upsert_complete")["details"]
    assert report == {"Rows Created": NEW_ROWS, "Rows Updated": 0, "Rows Deleted": OLD_ROWS, "Errors": 0}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        sum(1 for p in r.passes if p["started"] > switched) >= 2 for r in readers
    ):
        time.sleep(0.1)
    for reader in readers:
        reader.stop.set()
    for reader in readers:
        reader.join(60)
        assert reader.error is None, reader.error

    sizes = {"v1": OLD_ROWS, "v2": NEW_ROWS}
    etag_version: dict[str, str] = {}
    pages = [p for r in readers for p in r.pages]
    passes = [p for r in readers for p in r.passes]
    counts = [c for r in readers for c in r.counts]
    for _, etag, versions, n in pages:
        if n == 0:
            continue  # the empty page after the last full one
        assert len(versions) == 1, f"a page mixes versions: {versions}"
        [version] = versions
        assert etag_version.setdefault(etag, version) == version, "one ETag, two versions"
    assert len(etag_version) == 2  # exactly two versions were ever served
    for _, etag, n in counts:
        assert n == sizes[etag_version[etag]], f"count {n} under the ETag of {etag_version[etag]}"
    whole = [p for p in passes if len(p["etags"]) == 1]
    straddling = [p for p in passes if len(p["etags"]) > 1]
    for p in whole:
        [version] = p["versions"]
        assert p["rows"] == p["unique"] == sizes[version], f"partial {version}: {p['rows']} rows"
    assert len(straddling) <= len(readers)  # at most one per reader: the switch happens once
    old_during_job = [pg for pg in pages if applied_at <= pg[0] <= switched and pg[2].get("v1")]
    whole_old = [p for p in whole if p["versions"].get("v1")]
    whole_new = [p for p in whole if p["versions"].get("v2")]
    assert whole_old and whole_new and old_during_job
    print(
        f"\natomicity: {OLD_ROWS} -> {NEW_ROWS} rows; {len(pages)} pages, {len(passes)} passes "
        f"({len(whole_old)} whole old, {len(whole_new)} whole new, {len(straddling)} straddling the switch, "
        f"detected by ETag), {len(counts)} counts, {len(old_during_job)} old pages served while the job ran "
        f"({switched - applied_at:.1f}s, statuses {statuses})",
        file=sys.__stdout__,
    )
