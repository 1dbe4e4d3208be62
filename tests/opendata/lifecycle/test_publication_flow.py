"""Dataset DAG runs through the publication lifecycle with real Airflow (``dag.test()``), the
portal emulator as a real server, a real SMTP server, and the sample sources."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time

import requests

from opendata.registry import Stage
from opendata.samples.api_server import serve_in_thread
from portal_emulator.testing import run_emulator
from tests.conftest import SAMPLE_SOURCES

DATASET = "restaurant-inspections"   # Step 1 recorded in its file: no human task in dag.test()


def run_date(days: int) -> dt.datetime:
    return dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(days=days)


def wait_until(check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    return check()


def asset_events(uri: str) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [e.extra for e in session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == uri)
            .order_by(AssetEvent.id))]


def addresses(message, *headers: str) -> set[str]:
    found = set()
    for header in headers:
        for part in (message.get(header) or "").split(","):
            if "<" in part:
                found.add(part.split("<")[1].rstrip(">").strip())
    return found


def test_first_publication_then_refresh_of_changed_rows_only(world, tmp_path):
    observed = {}
    # The Airflow metadata database is shared by the session: count only this test's events.
    earlier = len(asset_events("x-opendata://environmental-health/restaurant-inspections"))

    def while_waiting(portal_id):
        observed["anonymous_status"] = world.anonymous_status(portal_id)
        # The e-mail follows the submission by a moment.
        observed["cdo_mail"] = wait_until(lambda: world.mail("Stage 1"))

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
    cdo_text = cdo_mail.get_body(("plain",)).get_content()
    assert f"{world.emu.url}/d/{portal_id}" in cdo_text
    # The checklist report travels with the e-mail, with the warnings named; no worker file path.
    (report,) = [part for part in cdo_mail.iter_attachments()]
    assert report.get_filename() == "data-submission-checklist.html"
    assert report.get_content().startswith("<!DOCTYPE html>")
    assert "Data Submission Checklist report: " in report.get_content()
    assert "Validation warnings:\n  - not_null(facility_name): 3 of 3,000 rows" in cdo_text
    assert "staging" not in cdo_text and str(world.state) not in cdo_text

    # Stage 2: public, recorded, the department and policy team told, the Asset event emitted.
    rows = requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"$limit": 5000}, timeout=10)
    assert rows.status_code == 200 and len(rows.json()) == 3000
    state = world.registry().get_state(DATASET)
    # The portal's API names no reviewer and gives no notes: the registry says so, with the link.
    assert (state.stage, state.reviewed_by) == (Stage.STAGE_2, "a reviewer on the portal")
    assert state.review_notes.startswith("Approved on the portal at ") and "Looks good" not in state.review_notes
    assert state.review_notes.endswith(f"{world.emu.url}/d/{portal_id}")
    assert state.department_approval_source == "dataset file"
    (public_mail,) = world.mail("public")
    assert {"kevin.nguyen@ehd.lacity.example", "omar.haddad@ehd.lacity.example", "rachel.levy@ehd.lacity.example",
            "daniel.kim@mayor.lacity.example", "priya.shah@mayor.lacity.example"} <= addresses(public_mail, "To", "Cc")
    events = asset_events("x-opendata://environmental-health/restaurant-inspections")[earlier:]
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
    assert [e["event"] for e in asset_events("x-opendata://environmental-health/restaurant-inspections")[earlier:]] == [
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


def test_a_failed_refresh_is_called_a_refresh(world):
    reviewer = world.review_when_pending(DATASET, "approved")
    assert world.dag(DATASET).test(logical_date=run_date(0)).state == "success"
    reviewer.join(5)
    # The source goes away: the next (refresh) run fails at extract, once (no retries).
    world.set_in_dataset(DATASET, "dag.retries", 0)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    world.monkeypatch.setenv("AIRFLOW_CONN_INSPECTIONS_API", f"http://127.0.0.1:{port}")
    assert world.dag(DATASET).test(logical_date=run_date(7)).state == "failed"
    (failed,) = world.mail("failed")
    assert failed["Subject"].startswith("[Open Data] Refresh failed: ")
    assert "The refresh of " in failed.get_body(("plain",)).get_content()


def test_rejection_goes_back_to_the_department_then_resubmission(world):
    dataset = "service-requests-311"
    reviewer = world.review_when_pending(dataset, "rejected", notes="Explain the <request_source> codes")
    # Step 1 is a human task; here it is marked approved, as dag.test() cannot answer it.
    run = world.dag(dataset).test(logical_date=run_date(0), mark_success_pattern="department_approval")
    reviewer.join(5)
    assert reviewer.failures == []
    assert run.state == "failed"
    portal_id = world.portal_id(dataset)
    state = world.registry().get_state(dataset)
    assert (state.stage, state.review_state, state.reviewed_by) == (Stage.REJECTED, "rejected",
                                                                    "a reviewer on the portal")
    assert world.anonymous_status(portal_id) == 403
    (rejected,) = world.mail("was rejected")
    assert addresses(rejected, "To") == {"samuel.okafor@lasan.lacity.example", "grace.park@lasan.lacity.example"}
    text = rejected.get_body(("plain",)).get_content()
    # The notes stay on the portal (its API does not return them): the e-mail says where to read them.
    assert "request_source" not in text and "None" not in text
    assert "The reviewer's notes are on the dataset's page on the portal" in text
    assert f"{world.emu.url}/d/{portal_id}" in text and '{"resubmit": true}' in text
    assert f'href="{world.emu.url}/d/{portal_id}"' in rejected.get_body(("html",)).get_content()
    assert world.mail("failed") == []   # the rejection e-mail says it all
    assert world.registry().runs(dataset)[-1].outcome == "failed"

    # A scheduled run stops at once (every task skips, saying why); nothing is sent again, and
    # nothing failed: the rejection was a decision, announced when it was made.
    world.emu.reset_stats()
    again = world.dag(dataset).test(logical_date=run_date(1))
    assert again.state == "success"
    skipped = {ti.task_id for ti in again.get_task_instances() if ti.state == "skipped"}
    assert {"extract", "validate", "push_private", "await_public_approval", "go_public"} <= skipped
    assert world.emu.stats()["rows"].get(portal_id, {}).get("received", 0) == 0
    assert len(world.mail("was rejected")) == 1

    # Fixed and resubmitted: reviewed again, approved, public.
    reviewer = world.review_when_pending(dataset, "approved", notes="Thanks")
    resubmitted = world.dag(dataset).test(logical_date=run_date(2), run_conf={"resubmit": True},
                                          mark_success_pattern="department_approval")
    reviewer.join(5)
    assert reviewer.failures == []
    assert resubmitted.state == "success"
    assert world.anonymous_status(portal_id) == 200
    assert world.registry().get_state(dataset).stage is Stage.STAGE_2
    changes = [c.stage_to for c in world.registry().history(dataset) if c.stage_from != c.stage_to]
    assert changes == [Stage.NOT_READY, Stage.STAGE_1, Stage.REJECTED, Stage.STAGE_1, Stage.STAGE_2]


def test_not_before_holds_the_submission_until_the_go_live(world):
    """On a portal where approval makes a dataset public at once (Socrata's behaviour), the
    request for the public audience is only sent at the planned go-live."""
    not_before = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=40)
    world.set_in_dataset(DATASET, "publication.not_before", not_before.isoformat())
    checked = {}

    def before_go_live():
        try:
            deadline = not_before - dt.timedelta(seconds=5)
            while dt.datetime.now(dt.UTC) < deadline:
                portal_id = world.portal_id(DATASET)
                if portal_id and world.mail("Stage 1"):
                    checked["approval_before"] = world.approval_state(portal_id)
                    checked["anonymous_before"] = world.anonymous_status(portal_id)
                    return
                time.sleep(0.5)
            checked["timed_out"] = dt.datetime.now(dt.UTC).isoformat()
        except Exception as exc:  # reported through the assertion below
            checked["error"] = repr(exc)

    watcher = threading.Thread(target=before_go_live, daemon=True)
    watcher.start()
    reviewer = world.review_when_pending(DATASET, "approved", notes="Go live with the press release", timeout=180)
    run = world.dag(DATASET).test(logical_date=run_date(0))
    reviewer.join(5)
    watcher.join(5)
    assert reviewer.failures == []
    assert run.state == "success"
    assert checked == {"approval_before": "submittable", "anonymous_before": 403}
    state = world.registry().get_state(DATASET)
    assert state.public_at >= not_before
    assert state.reviewed_at >= not_before
    (went_live,) = world.mail("is now public")
    assert "press@mayor.lacity.example" in went_live["To"]


def test_not_before_on_a_portal_whose_approval_leaves_the_audience_alone(world, tmp_path):
    """Approval before the go-live; the pipeline itself makes it public at the planned time."""
    with run_emulator(tmp_path / "portal-b", extra_args=["--no-approval-applies-audience"]) as emu:
        user, password = emu.auth("publisher")
        world.monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
            "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
            "extra": {"approval_changes_audience": False}}))
        world.emu = emu
        not_before = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=30)
        world.set_in_dataset(DATASET, "publication.not_before", not_before.isoformat())
        reviewer = world.review_when_pending(DATASET, "approved", notes="Approved; launch at the event")
        run = world.dag(DATASET).test(logical_date=run_date(0))
        reviewer.join(5)
        assert reviewer.failures == []
        assert run.state == "success"
        state = world.registry().get_state(DATASET)
        assert state.reviewed_at < not_before <= state.public_at
        assert world.anonymous_status(state.portal_id) == 200
        (scheduled,) = world.mail("goes public")
        assert "press@mayor.lacity.example" in scheduled["To"]
        assert len(world.mail("is now public")) == 1


def test_a_review_that_waits_too_long_reminds_the_cdo_gives_up_and_is_recorded_later(world):
    world.set_in_dataset(DATASET, "publication.review_reminder_days", 0.0001)   # ~9 seconds
    world.set_in_dataset(DATASET, "publication.review_timeout_days", 0.0003)    # ~26 seconds
    world.set_in_dataset(DATASET, "dag.retries", 0)
    run = world.dag(DATASET).test(logical_date=run_date(0))
    assert run.state == "failed"
    reminders = world.mail("Reminder")
    assert len(reminders) == 2
    assert addresses(reminders[0], "To") == {"cdo@opendata.lacity.example"}
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.review_state) == (Stage.STAGE_1, "pending")
    assert world.registry().runs(DATASET)[-1].error.startswith(
        "await_public_approval: restaurant-inspections is still waiting for its review after 0.0003 days")
    # The coordinator hears that the run failed, with the reason; a first publication is not a refresh.
    (failed,) = world.mail("failed")
    assert failed["Subject"].startswith("[Open Data] Publication failed: ")
    assert "still waiting for its review" in failed.get_body(("plain",)).get_content()

    # The CDO approves after the run gave up; the next run finds it public and records it.
    portal_id = world.portal_id(DATASET)
    world.emu.review(portal_id, "approved", notes="Sorry for the wait")
    later = world.dag(DATASET).test(logical_date=run_date(1))
    assert later.state == "success"
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.review_state, state.reviewed_by) == (Stage.STAGE_2, "approved",
                                                                    "a reviewer on the portal")
    assert state.reviewed_at is not None and "Sorry for the wait" not in state.review_notes
    assert len(world.mail("approved and public")) == 1
