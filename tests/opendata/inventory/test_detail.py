"""A dataset's page: punctuality against the promise, rows over time, approvals given (from the
registry's own records), and the checklist report the validate task wrote."""

from __future__ import annotations

import datetime as dt
import os

from opendata.freshness.policy import FreshnessPolicy
from opendata.freshness.sources import load_dataset_files
from opendata.inventory.detail import approvals, latest_report, punctuality, rows_over_time
from opendata.inventory.model import AnsweredRequest, RecordedApprovalSummary, RunSummary
from opendata.lifecycle.staging import report_work_folder as report_dir
from opendata.registry import Registry
from opendata.spec.freshness import WEEKENDS
from opendata.validation.report import write_reports
from tests.conftest import REPO_ROOT
from tests.opendata.inventory.support import files, summary

D = dt.timedelta(days=1)
FRIDAY = dt.datetime(2026, 11, 20, 20, 0, tzinfo=dt.UTC)  # noon in Los Angeles


def run(run_id: str, at: dt.datetime, kind: str = "refresh", outcome: str = "success", rows: int | None = 10):
    return RunSummary(run_id, kind, outcome, at - dt.timedelta(minutes=5), at, rows_extracted=rows)


def test_punctuality_counts_days_against_due_after_without_the_no_update_days():
    runs = [run("r0", FRIDAY - 3 * D, kind="publication"), run("r1", FRIDAY - D), run("r2", FRIDAY),
            run("r3", FRIDAY + 3 * D),  # Monday: the weekend does not count
            run("x", FRIDAY + 4 * D, outcome="failed"), run("r4", FRIDAY + 7 * D)]
    daily = FreshnessPolicy.for_frequency("daily")
    points = punctuality(runs, daily)
    assert [p.run_id for p in points] == ["r1", "r2", "r3", "r4"]
    assert [round(p.gap_days, 2) for p in points] == [2.0, 1.0, 3.0, 4.0]
    assert [p.on_time for p in points] == [True, True, False, False] and points[0].due_days == 2.0
    weekends_off = FreshnessPolicy.for_frequency("daily", no_updates_on=WEEKENDS)
    assert [round(p.gap_days, 2) for p in punctuality(runs, weekends_off)][2] == 1.0
    assert [p.on_time for p in punctuality(runs, FreshnessPolicy.for_frequency("irregular"))] == [None] * 4
    assert punctuality([run("only", FRIDAY)], daily) == []


def test_rows_over_time_are_the_successful_runs_with_a_count():
    points = rows_over_time([run("b", FRIDAY, rows=12), run("a", FRIDAY - D, rows=10),
                             run("f", FRIDAY + D, outcome="failed", rows=99), run("n", FRIDAY + 2 * D, rows=None)])
    assert [(p.run_id, p.rows) for p in points] == [("a", 10), ("b", 12)]


def test_approvals_from_the_registrys_records_the_file_and_airflow(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    try:
        at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        registry.record_department_rejection("building-permits", by="Alicia Grant", at=at,
                                             reason="<b>Document</b> the codes", run_id="r1")
        registry.record_department_approval("building-permits", by="Alicia Grant", at=at + D, source="airflow",
                                            run_id="r2")
        registry.record_portal_dataset("building-permits", "abcd-1234", run_id="r2")
        registry.record_submission("building-permits", at=at + D, run_id="r2")
        registry.record_review("building-permits", approved=True, by=None, at=at + 2 * D, notes=None, run_id="r2")
        registry.record_public("building-permits", at=at + 2 * D, run_id="r2")
        registry.record_retirement("building-permits", reason="Replaced", approved_by="Mayor's Office")
        history = registry.history("building-permits")
    finally:
        registry.close()
    file = summary(classification_approval=RecordedApprovalSummary("maria-alvarez", dt.date(2026, 10, 30)),
                   step1_on_paper=RecordedApprovalSummary("alicia-grant", dt.date(2026, 10, 29)))
    # The registry stamps its records when they are written (now); the shrink guard was answered later.
    shrink = AnsweredRequest("scheduled__x", "shrink_approval", history[-1].at + D, "Alicia Grant", "Approve",
                             "expected: the permits were archived")
    step1 = AnsweredRequest("r2", "department_approval", at + D, "Alicia Grant", "Approve")
    found = approvals(file, history, [shrink, step1], files(file))
    assert [(a.what, a.by) for a in found] == [
        ("Step 1: department approval (given on paper)", "Alicia Grant"),
        ("Level 2 classification approved for publication", "Maria Alvarez"),
        ("Step 1: rejected by department leadership", "Alicia Grant"),
        ("Step 1: department approval", "Alicia Grant"),
        ("Stage 1 review: approved for publication", "a reviewer on the portal"),
        ("Retirement (refreshes stopped)", "Mayor's Office"),
        ("Shrink guard: Approve (run scheduled__x)", "Alicia Grant"),
    ]
    assert found[2].notes == "<b>Document</b> the codes"  # kept as text: the page escapes it
    assert found[0].date_only and found[6].source == "Airflow" and found[6].notes.startswith("expected")


def test_an_adoption_is_an_approval_on_the_datasets_page(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    try:
        registry.record_adoption("bike-counts", "bike-0001", by="Maria Alvarez", at=dt.datetime(2026, 11, 28,
                                                                                                tzinfo=dt.UTC))
        history = registry.history("bike-counts")
    finally:
        registry.close()
    file = summary()
    (found,) = approvals(file, history, [], files(file))
    assert (found.what, found.by, found.notes) == ("Adopted: public on the portal before the pipeline took it over",
                                                  "Maria Alvarez", "adopted on 2026-11-28 by Maria Alvarez")


def test_the_latest_report_written_by_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    spec = load_dataset_files(REPO_ROOT / "include").specs["building-permits"]
    staged = {"rows": 3, "path": "extract.parquet", "checksum": "abc"}
    write_reports(spec, staged, [], report_dir(spec.id, "scheduled__2026-11-26T00:00:00+00:00"), False)
    found = latest_report(spec.id, ["manual__newest", "scheduled__2026-11-26T00:00:00+00:00", "older"])
    assert found is not None and found[1] == "scheduled__2026-11-26T00:00:00+00:00"
    assert found[0].read_text().startswith("<!DOCTYPE html>")
    assert latest_report(spec.id, []) is None
    # A report that is a link out of the staging folder is not served.
    outside = tmp_path / "secret.html"
    outside.write_text("secret")
    linked = report_dir(spec.id, "manual__linked")
    linked.mkdir(parents=True)
    os.symlink(outside, linked / "data-submission-checklist.html")
    assert latest_report(spec.id, ["manual__linked"]) is None
