"""Refreshes that scale and never lose data: incremental extraction past a watermark, history,
and a dataset that is retired (never deleted)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys

import pandas as pd
import requests
import yaml

from opendata.freshness.alert_store import AlertStore
from opendata.lifecycle.history import restore
from opendata.registry import Stage
from opendata.samples.api_server import serve_in_thread
from tests.conftest import SAMPLE_SOURCES
from tests.opendata.lifecycle.test_publication_flow import run_date, wait_until

DATASET = "building-permits"


def permits_with_updated_at(path) -> None:
    frame = pd.read_csv(SAMPLE_SOURCES / "building_permits.csv", dtype={"permit_nbr": str, "zip_code": str})
    frame["updated_at"] = "2026-01-01T00:00:00"
    with sqlite3.connect(path) as conn:
        frame.to_sql("permits", conn, index=False)


def test_incremental_refresh_sends_only_rows_past_the_watermark_and_keeps_every_version(world, tmp_path):
    database = tmp_path / "permits.sqlite"
    permits_with_updated_at(database)
    world.monkeypatch.setenv("AIRFLOW_CONN_PERMITS_DB", f"sqlite:///{database}")
    world.set_in_dataset(DATASET, "source", {"kind": "sql", "conn_id": "permits_db", "chunk_size": 1000,
                                             "query": "SELECT * FROM permits", "watermark": "updated_at"})
    world.set_in_dataset(DATASET, "freshness", {"newest_date_column": "updated_at"})
    world.set_in_dataset(DATASET, "publication.department_approval",
                         {"approved_by": "alicia-grant", "approved_at": "2026-11-20"})
    path = next((world.include / "datasets").glob(f"*/{DATASET}.yaml"))
    data = yaml.safe_load(path.read_text())
    data["columns"].append({"field_name": "updated_at", "display_name": "Last Updated", "type": "floating_timestamp",
                            "description": "When the permit record last changed in PCIS."})
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    reviewer = world.review_when_pending(DATASET, "approved")
    assert world.dag(DATASET).test(logical_date=run_date(0)).state == "success"
    reviewer.join(5)
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.published_rows, state.last_watermark) == (Stage.STAGE_2, 4000, "2026-01-01T00:00:00")
    portal_id = state.portal_id

    # Five permits change and two are new; the rest of the table is untouched.
    with sqlite3.connect(database) as conn:
        changed = [r[0] for r in conn.execute("SELECT permit_nbr FROM permits ORDER BY permit_nbr LIMIT 5")]
        conn.executemany("UPDATE permits SET status = 'Permit Finaled', updated_at = '2026-11-20T10:00:00' "
                         "WHERE permit_nbr = ?", [(n,) for n in changed])
        conn.execute("INSERT INTO permits SELECT permit_nbr || '-A', permit_type, permit_sub_type, status, issue_date, "
                     "valuation, square_footage, work_description, address, zip_code, council_district, contractor, "
                     "latitude, longitude, '2026-11-21T08:30:00' FROM permits ORDER BY permit_nbr DESC LIMIT 2")
    world.emu.reset_stats()
    assert world.dag(DATASET).test(logical_date=run_date(1)).state == "success"
    counted = world.emu.stats()["rows"][portal_id]
    assert (counted["created"], counted["updated"], counted["deleted"]) == (2, 5, 0)
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.published_rows, state.last_watermark) == (Stage.REFRESHING, 4002,
                                                                         "2026-11-21T08:30:00")
    assert world.registry().runs(DATASET)[-1].rows_extracted == 7
    assert AlertStore(world.registry()).newest_data()[DATASET] == dt.datetime(2026, 11, 21, 8, 30, tzinfo=dt.UTC)
    finaled = requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"permit_nbr": changed[0]},
                           timeout=10).json()
    assert finaled[0]["status"] == "Permit Finaled"

    # Nothing changed since: an empty increment, nothing sent, still a successful run.
    world.emu.reset_stats()
    assert world.dag(DATASET).test(logical_date=run_date(2)).state == "success"
    assert world.emu.stats()["rows"].get(portal_id, {}).get("received", 0) == 0
    assert world.registry().runs(DATASET)[-1].rows_extracted == 0

    # History: the full load and the increment are archived; each version restores exactly.
    versions = world.registry().versions(DATASET)
    assert [(v.kind, v.rows) for v in versions] == [("full", 4000), ("incremental", 7)]
    assert all(v.archive_path and v.archive_path.endswith(".parquet") for v in versions)
    first = restore(world.registry(), DATASET, versions[0].run_id, "permit_nbr")
    second = restore(world.registry(), DATASET, versions[1].run_id, "permit_nbr")
    assert (first.num_rows, second.num_rows) == (4000, 4002)
    statuses = dict(zip(second["permit_nbr"].to_pylist(), second["status"].to_pylist(), strict=True))
    assert {statuses[n] for n in changed} == {"Permit Finaled"}

    # The same through the command line a coordinator would use to restore a version.
    listing = subprocess.run([sys.executable, "-m", "opendata", "history", "list", DATASET], capture_output=True,
                             text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[2] for line in listing.stdout.splitlines()] == ["full", "incremental"]
    out = tmp_path / "restored.csv"
    exported = subprocess.run([sys.executable, "-m", "opendata", "history", "export", DATASET, "--run",
                               versions[1].run_id, "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    assert len(pd.read_csv(out)) == 4002


def test_a_retired_dataset_is_never_refreshed_again(world):
    dataset = "restaurant-inspections"
    reviewer = world.review_when_pending(dataset, "approved")
    assert world.dag(dataset).test(logical_date=run_date(0)).state == "success"
    reviewer.join(5)
    portal_id = world.portal_id(dataset)
    retired = subprocess.run([sys.executable, "-m", "opendata", "retire", dataset, "--reason",
                              "Replaced by the county's dataset", "--approved-by", "Mayor's Office (D. Kim)"],
                             capture_output=True, text=True, timeout=120)
    assert retired.returncode == 0, retired.stderr
    (mail,) = world.mail("is retired")
    assert "cdo@opendata.lacity.example" in mail["To"]
    assert "Replaced by the county's dataset" in mail.get_body(("plain",)).get_content()
    world.emu.reset_stats()
    run = world.dag(dataset).test(logical_date=run_date(7))
    assert run.state == "success"
    assert world.emu.stats()["rows"].get(portal_id, {}).get("received", 0) == 0
    # Retired is not deleted: the data stays public.
    assert world.anonymous_status(portal_id) == 200
    state = world.registry().get_state(dataset)
    assert (state.stage, state.retired_reason) == (Stage.RETIRED, "Replaced by the county's dataset")
    assert dt.datetime.now(dt.UTC) > state.updated_at


def test_replace_mode_goes_through_revisions_keeps_the_audience_and_skips_unchanged_data(world, tmp_path,
                                                                                         portal_mode):
    dataset = "restaurant-inspections"
    world.set_in_dataset(dataset, "refresh", {"mode": "replace"})
    reviewer = world.review_when_pending(dataset, "approved")
    assert world.dag(dataset).test(logical_date=run_date(0)).state == "success"
    reviewer.join(5)
    portal_id = world.portal_id(dataset)
    assert world.emu.stats()["revisions"][portal_id]["applied"] >= 1
    assert world.anonymous_status(portal_id) == 200

    # The source shrinks by 1% and changes a little: the whole dataset is swapped atomically.
    records = json.loads((SAMPLE_SOURCES / "restaurant_inspections.json").read_text())["data"][:2970]
    records[0]["score"] = 42
    source = tmp_path / "inspections.json"
    source.write_text(json.dumps({"data": records}))
    server = serve_in_thread(source)
    world.monkeypatch.setenv("AIRFLOW_CONN_INSPECTIONS_API", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        assert world.dag(dataset).test(logical_date=run_date(7)).state == "success"
        if portal_mode == "strict":
            # This portal holds changes to public datasets for its reviewer: nothing is live yet,
            # and the registry says so instead of recording the new version as published.
            state = world.registry().get_state(dataset)
            assert (state.published_rows, state.held_rows) == (3000, 2970) and state.held_revision is not None
            assert len(requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"$limit": 5000},
                                    timeout=10).json()) == 3000
            world.emu.reset_stats()
            assert world.dag(dataset).test(logical_date=run_date(8)).state == "success"   # still waiting
            assert world.emu.stats()["revisions"].get(portal_id, {}).get("opened", 0) == 0  # not sent again
            versions = len(world.registry().versions(dataset))
            world.emu.review(portal_id, "approved", revision_seq=state.held_revision)
            wait_until(lambda: len(requests.get(f"{world.emu.url}/resource/{portal_id}.json",
                                                params={"$limit": 5000}, timeout=10).json()) == 2970, timeout=30)
        rows = requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"$limit": 5000}, timeout=10).json()
        assert len(rows) == 2970
        assert world.anonymous_status(portal_id) == 200          # still public after the revision
        world.emu.reset_stats()
        assert world.dag(dataset).test(logical_date=run_date(14)).state == "success"
        assert world.emu.stats()["revisions"].get(portal_id, {}).get("applied", 0) == 0
        if portal_mode == "strict":
            # The run after the approval recorded the held version as published and archived it.
            assert world.registry().get_state(dataset).held_revision is None
            assert len(world.registry().versions(dataset)) == versions + 1
            assert world.registry().versions(dataset)[-1].rows == 2970
    finally:
        server.shutdown()
    state = world.registry().get_state(dataset)
    assert (state.stage, state.published_rows) == (Stage.REFRESHING, 2970)
