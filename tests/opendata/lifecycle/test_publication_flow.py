"""Dataset DAG runs through the publication lifecycle with real Airflow (``dag.test()``), the
portal emulator as a real server, a real SMTP server, and the sample sources."""

from __future__ import annotations

import datetime as dt
import json

import requests

from opendata.registry import Stage
from opendata.samples.api_server import serve_in_thread
from tests.conftest import SAMPLE_SOURCES

DATASET = "restaurant-inspections"   # Step 1 recorded in its file: no human task in dag.test()


def run_date(days: int) -> dt.datetime:
    return dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(days=days)


def asset_events(uri: str) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [e.extra for e in session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == uri))]


def addresses(message, *headers: str) -> set[str]:
    found = set()
    for header in headers:
        for part in (message.get(header) or "").split(","):
            if "<" in part:
                found.add(part.split("<")[1].rstrip(">").strip())
    return found


def test_first_publication_then_refresh_of_changed_rows_only(world, tmp_path):
    observed = {}

    def while_waiting(portal_id):
        observed["anonymous_status"] = world.anonymous_status(portal_id)
        observed["cdo_mail"] = world.mail("Stage 1")

    reviewer = world.review_when_pending(DATASET, "approved", notes="Looks good", before=while_waiting)
    run = world.dag(DATASET).test(logical_date=run_date(0))
    reviewer.join(5)
    assert reviewer.failures == []
    assert run.state == "success"

    # Stage 1: private (anonymous read refused) and the CDO told, while the review was pending.
    assert observed["anonymous_status"] == 403
    (cdo_mail,) = observed["cdo_mail"]
    assert addresses(cdo_mail, "To") == {"cdo@opendata.lacity.example"}
    portal_id = world.portal_id(DATASET)
    assert f"{world.emu.url}/d/{portal_id}" in cdo_mail.get_body(("plain",)).get_content()

    # Stage 2: public, recorded, the department and policy team told, the Asset event emitted.
    rows = requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"$limit": 5000}, timeout=10)
    assert rows.status_code == 200 and len(rows.json()) == 3000
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.reviewed_by, state.review_notes) == (Stage.STAGE_2, "cdo", "Looks good")
    assert state.department_approval_source == "dataset file"
    (public_mail,) = world.mail("public")
    assert {"kevin.nguyen@ehd.lacity.example", "omar.haddad@ehd.lacity.example", "rachel.levy@ehd.lacity.example",
            "daniel.kim@mayor.lacity.example", "priya.shah@mayor.lacity.example"} <= addresses(public_mail, "To", "Cc")
    events = asset_events("opendata://environmental-health/restaurant-inspections")
    assert [e["event"] for e in events] == ["published"]
    assert events[0]["portal_id"] == portal_id

    # The next run refreshes: 7 rows changed, 3 added, 2 gone in the source.
    records = json.loads((SAMPLE_SOURCES / "restaurant_inspections.json").read_text())["data"]
    for record in records[100:107]:
        record["score"] = 71
    gone = [records.pop(2000)["inspection_id"], records.pop(2500)["inspection_id"]]
    for n in range(3):
        records.append({**records[0], "inspection_id": f"NEW{n:08d}"})
    changed_source = tmp_path / "inspections.json"
    changed_source.write_text(json.dumps({"data": records}))
    server = serve_in_thread(changed_source)
    world.monkeypatch.setenv("AIRFLOW_CONN_INSPECTIONS_API", f"http://127.0.0.1:{server.server_address[1]}")
    world.emu.reset_stats()
    try:
        refresh = world.dag(DATASET).test(logical_date=run_date(7))
    finally:
        server.shutdown()
    assert refresh.state == "success"

    counted = world.emu.stats()["rows"][portal_id]
    assert (counted["created"], counted["updated"], counted["deleted"]) == (3, 7, 2)
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.published_rows) == (Stage.REFRESHING, 3001)
    for row_id in gone:
        assert requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"inspection_id": row_id},
                            timeout=10).json() == []
    refresh_run = world.registry().runs(DATASET)[-1]
    assert (refresh_run.kind, refresh_run.outcome, refresh_run.rows_created, refresh_run.rows_updated,
            refresh_run.rows_deleted) == ("refresh", "success", 3, 7, 2)
    assert [e["event"] for e in asset_events("opendata://environmental-health/restaurant-inspections")] == [
        "published", "refreshed"]
    # A refresh is not a publication: nobody is e-mailed again.
    assert len(world.mail("public")) == 1


def test_a_refresh_with_no_changes_sends_no_rows(world):
    reviewer = world.review_when_pending(DATASET, "approved")
    assert world.dag(DATASET).test(logical_date=run_date(0)).state == "success"
    reviewer.join(5)
    world.emu.reset_stats()
    assert world.dag(DATASET).test(logical_date=run_date(7)).state == "success"
    portal_id = world.portal_id(DATASET)
    counted = world.emu.stats()["rows"].get(portal_id, {})
    assert [counted.get(key, 0) for key in ("received", "created", "updated", "deleted")] == [0, 0, 0, 0]
