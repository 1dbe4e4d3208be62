"""Crash safety: the worker is killed in the middle of an upload; re-running converges on the
portal holding exactly the source rows, once each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import requests

from tests.conftest import SAMPLE_SOURCES
from tests.opendata.lifecycle.test_publication_flow import run_date

DATASET = "restaurant-inspections"

RUN_IN_A_WORKER = """
import datetime as dt, sys
from opendata.dag_factory import build_dag
from opendata.spec.loader import load_catalog
catalog = load_catalog()
dag = build_dag(catalog.get(sys.argv[1]), governance=catalog.governance)
dag.test(logical_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
"""


def portal_rows(world, portal_id: str) -> list[dict]:
    rows, offset = [], 0
    while True:
        page = requests.get(f"{world.emu.url}/resource/{portal_id}.json", auth=world.emu.auth("publisher"),
                            params={"$order": ":id", "$limit": 1000, "$offset": offset}, timeout=30).json()
        rows += page
        offset += len(page)
        if len(page) < 1000:
            return rows


def test_killed_in_the_middle_of_an_upload_then_rerun_converges(world):
    # Small requests, each slowed down at the portal, so the upload is caught half way.
    connection = json.loads(os.environ["AIRFLOW_CONN_SOCRATA_DEFAULT"])
    connection["extra"]["chunk_size"] = 250
    world.monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps(connection))
    world.emu.set_faults(rate=1.0, kinds=["slow"], slow_seconds=0.6, methods=["POST"], path_prefixes=["/resource/"])

    worker = subprocess.Popen([sys.executable, "-c", RUN_IN_A_WORKER, DATASET], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            received = [c.get("received", 0) for c in world.emu.stats()["rows"].values()]
            if received and max(received) >= 750:
                break
            assert worker.poll() is None, "the worker ended before it was killed"
            time.sleep(0.2)
        else:
            raise AssertionError("the upload never got going")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)   # no clean-up, no callbacks: a lost worker
        worker.wait()

    portal_id = world.portal_id(DATASET)
    partial = portal_rows(world, portal_id)
    assert 0 < len(partial) < 3000

    world.emu.clear_faults()
    reviewer = world.review_when_pending(DATASET, "approved")
    assert world.dag(DATASET).test(logical_date=run_date(1)).state == "success"
    reviewer.join(5)
    assert reviewer.failures == []

    rows = portal_rows(world, portal_id)
    ids = [row["inspection_id"] for row in rows]
    source = json.loads((SAMPLE_SOURCES / "restaurant_inspections.json").read_text())["data"]
    assert len(ids) == len(set(ids)) == 3000
    assert set(ids) == {record["inspection_id"] for record in source}
    assert world.portal_id(DATASET) == portal_id   # the same dataset, not a second one


def marked_assets(world, dataset_id: str) -> list[str]:
    found = world.emu.session("admin").get(f"{world.emu.url}/api/catalog/v1", timeout=30, params={
        "Dataset-Information_Pipeline-Dataset-ID": dataset_id, "domains": world.emu.host}).json()
    return [r["resource"]["id"] for r in found["results"]]


def test_killed_right_after_the_portal_created_the_dataset_then_rerun_makes_no_second_one(world):
    """The create is applied, its answer held past the moment the worker dies: the registry never
    heard of the dataset. The next run finds it by its marker instead of creating another."""
    world.emu.set_faults(rate=1.0, kinds=["timeout"], after_ratio=1.0, timeout_seconds=60, methods=["POST"],
                         path_prefixes=["/api/views.json"])
    worker = subprocess.Popen([sys.executable, "-c", RUN_IN_A_WORKER, DATASET], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marked_assets(world, DATASET):
            assert time.monotonic() < deadline, "the portal never created the dataset"
            assert worker.poll() is None, "the worker ended before it was killed"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)   # the answer never arrives anywhere
        worker.wait()
    (created,) = marked_assets(world, DATASET)
    assert world.portal_id(DATASET) is None and world.registry().get_state(DATASET).creation_started_at

    world.emu.clear_faults()
    reviewer = world.review_when_pending(DATASET, "approved")
    assert world.dag(DATASET).test(logical_date=run_date(1)).state == "success"
    reviewer.join(5)
    assert reviewer.failures == []
    assert marked_assets(world, DATASET) == [created] and world.portal_id(DATASET) == created
    assert len(portal_rows(world, created)) == 3000


def test_registry_lost_right_after_the_create_then_the_retry_adopts_the_dataset(world):
    """The portal created the dataset, then recording its id failed (the registry's database was
    unreachable): the task's own retry finds the dataset by its marker."""
    from opendata.registry import Registry

    world.set_in_dataset(DATASET, "dag.retry_delay_minutes", 0.01)
    record = Registry.record_portal_dataset
    calls = {"n": 0}

    def lost_registry(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("registry database unreachable")
        return record(self, *args, **kwargs)

    world.monkeypatch.setattr(Registry, "record_portal_dataset", lost_registry)
    reviewer = world.review_when_pending(DATASET, "approved")
    assert world.dag(DATASET).test(logical_date=run_date(0)).state == "success"
    reviewer.join(5)
    assert reviewer.failures == []
    (portal_id,) = marked_assets(world, DATASET)
    assert calls["n"] == 2 and world.portal_id(DATASET) == portal_id
    assert len(portal_rows(world, portal_id)) == 3000


def test_a_create_with_an_unknown_outcome_waits_the_catalog_lag_from_when_it_gave_up(world):
    """The create's answer is lost and the lookup finds nothing: the task fails without creating
    again, and the catalog lag counts from when that attempt stopped waiting, not from when it
    started (the portal may still be applying a request the client gave up on). Until the lag
    has passed, the next run waits instead of creating a second dataset."""
    import datetime as dt

    user, password = world.emu.auth("publisher")
    world.monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
        "conn_type": "socrata", "host": world.emu.url, "login": user, "password": password,
        "extra": {"app_token": "test-app-token", "max_retries": 1, "backoff_base": 0.05,
                  "create_lookup_seconds": 2, "catalog_lag_seconds": 600}}))
    world.set_in_dataset(DATASET, "dag.retries", 0)
    # Refused before it is applied, with an answer that says nothing certain (a 502 from the edge).
    world.emu.set_faults(rate=1.0, kinds=["502"], after_ratio=0.0, methods=["POST"], path_prefixes=["/api/views.json"])
    started = dt.datetime.now(dt.UTC)
    first = world.dag(DATASET).test(logical_date=run_date(0))
    assert first.state == "failed"
    state = world.registry().get_state(DATASET)
    assert state.portal_id is None and marked_assets(world, DATASET) == []
    intent = state.creation_started_at.replace(tzinfo=state.creation_started_at.tzinfo or dt.UTC)
    assert intent >= started + dt.timedelta(seconds=2)   # after the 2 s lookup, not before the request

    world.emu.clear_faults()
    second = world.dag(DATASET).test(logical_date=run_date(1))
    assert second.state == "failed"   # waits for the catalog: creating again could make a second dataset
    assert marked_assets(world, DATASET) == []
