"""The publication lifecycle against a portal that behaves like the recorded one (the emulator's
strict mode), and against one that also fails 30 % of the time and loses answers after applying
writes. Done means what the public sees: the dataset published, public, approved, not hidden,
every source row readable anonymously, exactly once, in exactly one portal dataset per file."""

from __future__ import annotations

import csv
import json
import os
import threading

import pytest
import requests

from opendata.registry import Stage
from opendata.samples.api_server import serve_in_thread
from tests.conftest import SAMPLE_SOURCES
from tests.opendata.lifecycle.test_publication_flow import run_date

SAMPLES = {
    # dataset id: (row identifier, the source's identifiers read independently of the pipeline)
    "building-permits": ("permit_nbr", lambda: _csv_ids("building_permits.csv", "permit_nbr")),
    "service-requests-311": ("sr_number", lambda: _csv_ids("service_requests_311.csv", "sr_number")),
    "restaurant-inspections": ("inspection_id", lambda: [
        r["inspection_id"] for r in json.loads((SAMPLE_SOURCES / "restaurant_inspections.json").read_text())["data"]]),
}
MARKER_PARAM = "Dataset-Information_Pipeline-Dataset-ID"


def _csv_ids(name: str, column: str) -> list[str]:
    with (SAMPLE_SOURCES / name).open(newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def anonymous_ids(world, portal_id: str, row_id: str) -> list[str]:
    """Every row identifier an anonymous visitor reads, paging in a stable order."""
    ids, offset = [], 0
    while True:
        page = requests.get(f"{world.emu.url}/resource/{portal_id}.json", timeout=30, params={
            "$select": row_id, "$order": ":id", "$limit": 2000, "$offset": offset})
        assert page.status_code == 200, page.text
        rows = page.json()
        ids += [row[row_id] for row in rows]
        if len(rows) < 2000:
            return ids
        offset += 2000


def marked_assets(world, dataset_id: str) -> list[str]:
    """Every portal asset (private drafts included) marked as this dataset file's."""
    session = world.emu.session("admin")
    found = session.get(f"{world.emu.url}/api/catalog/v1", timeout=30,
                        params={MARKER_PARAM: dataset_id, "domains": world.emu.host, "limit": 100}).json()
    return [r["resource"]["id"] for r in found["results"]]


def assert_visible_to_the_public(world, dataset_id: str) -> str:
    row_id, source_ids = SAMPLES[dataset_id]
    (portal_id,) = marked_assets(world, dataset_id)
    assert world.portal_id(dataset_id) == portal_id
    view = world.emu.session("publisher").get(f"{world.emu.url}/api/views/{portal_id}.json", timeout=30).json()
    assert view["publicationStage"] == "published"
    assert any("public" in (g.get("flags") or []) for g in view["grants"])
    assert not view.get("hideFromCatalog")
    ids = anonymous_ids(world, portal_id, row_id)
    expected = source_ids()
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == set(expected)
    return portal_id


def approve_when_pending(world, dataset_id: str) -> threading.Thread:
    return world.review_when_pending(dataset_id, "approved", timeout=300)


@pytest.mark.parametrize("portal_mode", ["strict"])
@pytest.mark.parametrize("dataset_id", sorted(SAMPLES))
def test_each_sample_goes_from_step1_to_public_on_a_strict_portal(world, dataset_id, portal_mode):
    reviewer = approve_when_pending(world, dataset_id)
    # Step 1 is a human task that dag.test() cannot answer: it is marked approved here (the
    # scheduler test answers it through Airflow's HITL API).
    run = world.dag(dataset_id).test(logical_date=run_date(0), mark_success_pattern="department_approval")
    reviewer.join(10)
    assert reviewer.failures == []
    assert run.state == "success"
    assert_visible_to_the_public(world, dataset_id)
    assert world.registry().get_state(dataset_id).stage is Stage.STAGE_2


@pytest.mark.parametrize("portal_mode", ["strict"])
def test_the_whole_lifecycle_survives_30_percent_faults_and_lost_answers(world, portal_mode, tmp_path):
    """Every request has a 30 % chance to fail: throttled, a 5xx, or a read timeout; half of the
    failures strike after the portal applied the write (the answer is lost). Task retries are
    Airflow's own; nobody reruns anything by hand."""
    user, password = world.emu.auth("publisher")
    world.monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
        "conn_type": "socrata", "host": world.emu.url, "login": user, "password": password,
        "extra": {"app_token": "test-app-token", "max_retries": 8, "backoff_base": 0.05, "backoff_max": 0.5,
                  "read_timeout": 3, "connect_timeout": 3, "catalog_lag_seconds": 5, "create_lookup_seconds": 5,
                  "publish_wait_seconds": 10, "visibility_wait_seconds": 10}}))
    for dataset_id in SAMPLES:
        world.set_in_dataset(dataset_id, "dag.retries", 10)
        world.set_in_dataset(dataset_id, "dag.retry_delay_minutes", 0.01)
        world.set_in_dataset(dataset_id, "dag.max_retry_delay_minutes", 0.05)
    # OPENDATA_FAULT_SEED replays another sequence of faults (the default is fixed for CI).
    world.emu.set_faults(rate=0.3, kinds=["429", "500", "502", "503", "504", "timeout"], timeout_seconds=4,
                         after_ratio=0.5, seed=int(os.environ.get("OPENDATA_FAULT_SEED", "20261128")))
    try:
        for dataset_id in sorted(SAMPLES):
            reviewer = approve_when_pending(world, dataset_id)
            run = world.dag(dataset_id).test(logical_date=run_date(0), mark_success_pattern="department_approval")
            reviewer.join(30)
            assert reviewer.failures == []
            assert run.state == "success", dataset_id

        # A refresh under the same faults: 7 changed, 3 new and 2 gone rows reach the public exactly.
        records = json.loads((SAMPLE_SOURCES / "restaurant_inspections.json").read_text())["data"]
        for record in records[100:107]:
            record["score"] = 71
        del records[2500], records[2000]
        records += [{**records[0], "inspection_id": f"NEW{n:08d}"} for n in range(3)]
        source = tmp_path / "inspections.json"
        source.write_text(json.dumps({"data": records}))
        server = serve_in_thread(source)
        world.monkeypatch.setenv("AIRFLOW_CONN_INSPECTIONS_API", f"http://127.0.0.1:{server.server_address[1]}")
        try:
            refresh = world.dag("restaurant-inspections").test(logical_date=run_date(7))
        finally:
            server.shutdown()
        assert refresh.state == "success"
        stats = world.emu.stats()
        faults, requests_seen = stats["faults"], stats["requests_total"]
    finally:
        world.emu.clear_faults()

    # The faults struck (about 30 % of requests), before and after writes were applied.
    assert faults["total"] >= 0.2 * requests_seen and faults["after_apply"] >= 5
    for dataset_id in ("building-permits", "service-requests-311"):
        assert_visible_to_the_public(world, dataset_id)
    marked = marked_assets(world, "restaurant-inspections")
    if len(marked) != 1:
        # Seen under load (two xdist workers and a CPU burner), not yet explained: keep the evidence.
        creates = [line for line in world.emu.log_path.read_text(errors="replace").splitlines()
                   if "/api/views.json" in line or "/api/catalog/v1" in line]
        pytest.fail(f"{len(marked)} portal assets marked restaurant-inspections: {marked}\n" + "\n".join(creates))
    (portal_id,) = marked
    ids = anonymous_ids(world, portal_id, "inspection_id")
    assert len(ids) == len(set(ids)) and set(ids) == {r["inspection_id"] for r in records}
    changed = requests.get(f"{world.emu.url}/resource/{portal_id}.json", timeout=30,
                           params={"inspection_id": records[100]["inspection_id"]}).json()
    assert changed[0]["score"] in ("71", 71)
    # Exactly one portal dataset per file, nothing left over from a lost answer.
    catalog = world.emu.session("admin").get(f"{world.emu.url}/api/catalog/v1", timeout=30,
                                             params={"domains": world.emu.host, "limit": 100}).json()
    assert catalog["resultSetSize"] == len(SAMPLES)
