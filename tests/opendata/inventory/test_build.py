"""The rows from the three reads (pure): stage, freshness, last run, what waits on whom, plans."""

from __future__ import annotations

import datetime as dt

from opendata.catalog.dcat import PortalUrls
from opendata.catalog.quarterly import NO_FILE_DEPARTMENT, PlannedEntry
from opendata.freshness.policy import FreshnessPolicy
from opendata.inventory.build import build_rows, freshness_of, last_run_of, waiting_on
from opendata.inventory.links import Links
from opendata.inventory.model import (
    AirflowFacts,
    CommentWait,
    DagFacts,
    DagRunFacts,
    Freshness,
    HumanTask,
    RegistryFacts,
    RegistryState,
    RunSummary,
    WaitKind,
)
from tests.opendata.inventory.support import NOW, D, H, files, summary

LINKS = Links(root="/", portal=PortalUrls("data.lacity.org"))


def test_freshness_is_judged_for_public_datasets_only():
    daily = FreshnessPolicy.for_frequency("daily")
    assert freshness_of("stage-1", daily, NOW - 10 * D, NOW).state is Freshness.NOT_PUBLIC
    assert freshness_of("retired", daily, NOW - 10 * D, NOW).state is Freshness.NOT_PUBLIC
    fresh = freshness_of("refreshing", daily, NOW - 12 * H, NOW)
    assert fresh.state is Freshness.FRESH and fresh.days_late == 0
    due = freshness_of("refreshing", daily, NOW - 3 * D, NOW)
    assert due.state is Freshness.DUE and due.days_late == 2.0 and due.cycles_late == 2.0
    overdue = freshness_of("stage-2", daily, NOW - 5 * D, NOW)
    assert overdue.state is Freshness.OVERDUE and overdue.days_late == 4.0
    # Public but never updated: overdue without an age (the monitor's rule).
    never = freshness_of("stage-2", daily, None, NOW)
    assert never.state is Freshness.OVERDUE and never.days_late is None
    assert freshness_of("refreshing", FreshnessPolicy.for_frequency("irregular"), NOW - 90 * D, NOW).state \
        is Freshness.UNSCHEDULED
    assert freshness_of("refreshing", None, NOW, NOW).state is Freshness.UNSCHEDULED


def test_last_run_is_airflows_with_the_registrys_counts_of_the_same_run():
    registry_run = RunSummary("run-2", "refresh", "success", NOW - H, NOW, 100, 3, 2, 1)
    same = last_run_of(DagRunFacts("run-2", "success", start_date=NOW - H, end_date=NOW), registry_run)
    assert same is not None and (same.state, same.rows_created, same.rows_updated, same.rows_deleted) == \
        ("success", 3, 2, 1)
    # Airflow is running a newer run the registry has not recorded yet: no counts from another run.
    newer = last_run_of(DagRunFacts("run-3", "running", start_date=NOW), registry_run)
    assert newer is not None and newer.state == "running" and newer.rows_created is None
    # Airflow's database cleaned up: the registry's run and outcome.
    only = last_run_of(None, registry_run)
    assert only is not None and only.run_id == "run-2" and only.state == "success"
    assert last_run_of(None, None) is None


def test_what_waits_on_whom_with_links_straight_to_the_place_to_act():
    snapshot = files(summary())
    step1 = HumanTask("building-permits", "manual__2026-11-27T10:00:00+00:00", "department_approval", -1,
                      "awaiting_input", NOW - 2 * H, ("Alicia Grant",))
    shrink = HumanTask("building-permits", "scheduled__2026-11-27", "shrink_approval", -1, "awaiting_input",
                       NOW - H, ())
    items = waiting_on("building-permits", "building-and-safety", summary(), None, [step1, shrink], None, snapshot,
                       LINKS)
    assert [i.kind for i in items] == [WaitKind.STEP1, WaitKind.SHRINK]
    assert items[0].waiting_on == ("Alicia Grant",)
    assert items[0].href == ("/dags/building-permits/runs/manual__2026-11-27T10%3A00%3A00%2B00%3A00/tasks/"
                             "department_approval/required_actions?map_index=-1")
    assert not items[0].external
    # Without assignees on the request, the shrink guard names leadership and the coordinator.
    assert items[1].waiting_on == ("Alicia Grant", "Jorge Ramos")

    review = RegistryState("stage-1", portal_id="abcd-1234", submitted_at=NOW - D)
    (cdo,) = waiting_on("building-permits", "building-and-safety", summary(), review, [], None, snapshot, LINKS)
    assert (cdo.kind, cdo.waiting_on, cdo.href, cdo.external, cdo.since) == \
        (WaitKind.CDO_REVIEW, ("Maria Alvarez",), "https://data.lacity.org/d/abcd-1234", True, NOW - D)
    # No portal connection: the waiting sensor in Airflow instead.
    sensor = HumanTask("building-permits", "r1", "await_public_approval", -1, "deferred", NOW)
    (cdo,) = waiting_on("building-permits", "building-and-safety", summary(), review, [sensor], None, snapshot,
                        Links())
    assert cdo.href == "/dags/building-permits/runs/r1/tasks/await_public_approval" and not cdo.external

    rejected = RegistryState("rejected", department_rejected_by="Alicia Grant", department_rejected_at=NOW - D,
                             department_rejection_reason="Document the status codes.")
    (fix,) = waiting_on("building-permits", "building-and-safety", summary(), rejected, [], None, snapshot, LINKS)
    assert (fix.kind, fix.waiting_on, fix.href) == (WaitKind.RESUBMIT, ("Jorge Ramos",), "/dags/building-permits")
    assert fix.detail == "Step 1 rejected by Alicia Grant: Document the status codes."
    review_refused = RegistryState("rejected", review_notes="Generalise the addresses", reviewed_at=NOW - D)
    (fix,) = waiting_on("building-permits", "building-and-safety", summary(), review_refused, [], None, snapshot,
                        LINKS)
    assert fix.detail == "Rejected in the Stage 1 review: Generalise the addresses" and fix.since == NOW - D

    public = RegistryState("refreshing", portal_id="abcd-1234")
    (comments,) = waiting_on("building-permits", "building-and-safety", summary(), public, [],
                             CommentWait(NOW - 30 * H, 3), snapshot, LINKS)
    assert comments.kind is WaitKind.COMMENTS and comments.waiting_on == ("Jorge Ramos",)
    assert comments.href == "https://data.lacity.org/d/abcd-1234" and "3 on the portal" in comments.label
    assert waiting_on("building-permits", "building-and-safety", summary(), public, [], None, snapshot, LINKS) == ()


def test_a_row_per_file_registry_entry_and_plan():
    snapshot = files(summary(), summary("service-requests-311", "sanitation", coordinator="samuel-okafor"))
    registry = RegistryFacts(
        states={"building-permits": RegistryState("refreshing", portal_id="abcd-1234", last_refresh_at=NOW - 3 * D),
                "gone-dataset": RegistryState("stage-2", portal_id="efgh-5678")},
        latest_runs={"building-permits": RunSummary("r9", "refresh", "success", NOW - 3 * D, NOW - 3 * D, 10, 1, 2,
                                                    0)},
        last_updates={"building-permits": NOW - 3 * D})
    airflow = AirflowFacts(dags={"building-permits": DagFacts(False, False, NOW + H, NOW),
                                 "service-requests-311": DagFacts(True, False, NOW + H)},
                           latest_runs={"building-permits": DagRunFacts("r9", "success", end_date=NOW - 3 * D)})
    planned = [PlannedEntry("sanitation", "street-sweeping", "Street Sweeping Routes", dt.date(2026, 12, 1)),
               PlannedEntry("sanitation", "service-requests-311", "311", dt.date(2026, 10, 1))]
    rows = {row.dataset_id: row for row in build_rows(snapshot, registry, airflow, now=NOW, links=LINKS,
                                                      planned=planned)}
    assert set(rows) == {"building-permits", "service-requests-311", "gone-dataset", "street-sweeping"}
    permits = rows["building-permits"]
    assert (permits.department_name, permits.stage, permits.freshness.state, permits.next_run_at,
            permits.dag_state, permits.portal_url, permits.dag_url) == (
        "Department of Building and Safety", "refreshing", Freshness.DUE, NOW + H, "active",
        "https://data.lacity.org/d/abcd-1234", "/dags/building-permits")
    assert permits.last_run is not None and permits.last_run.rows_updated == 2
    assert (permits.coordinator_name, permits.classification) == ("Jorge Ramos", "public, level 1")
    # A file the registry has no row for: not ready; a paused DAG has no next run.
    sr = rows["service-requests-311"]
    assert (sr.stage, sr.dag_state, sr.next_run_at, sr.target_date) == ("not-ready", "paused", None,
                                                                        dt.date(2026, 10, 1))
    # A registry entry no file holds any more stays visible.
    gone = rows["gone-dataset"]
    assert (gone.department, gone.has_file, gone.dag_state, gone.freshness.state) == (
        NO_FILE_DEPARTMENT, False, "no-dag", Freshness.UNSCHEDULED)  # no file: no promise to judge
    plan = rows["street-sweeping"]
    assert (plan.stage, plan.has_file, plan.department_name, plan.target_date) == (
        "planned", False, "LA Sanitation and Environment", dt.date(2026, 12, 1))
