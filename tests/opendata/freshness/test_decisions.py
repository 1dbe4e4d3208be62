"""Pure decisions: cross-checks, who is alerted this run, and the comment watch."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from opendata.freshness.alerts import AlertRecord, Channel, plan_alerts, reported
from opendata.freshness.comments import (
    CommentActionKind,
    CommentWatch,
    choose_to_read,
    mark_answered,
    plan_comments,
    read_budget,
    sweep_runs,
)
from opendata.freshness.crosscheck import FindingKind, cross_check
from opendata.freshness.evaluate import MonitoredDataset, Observation, evaluate, evaluate_all
from opendata.freshness.policy import FreshnessPolicy
from opendata.freshness.report import build_digest, reminder_details
from opendata.freshness.status import FreshnessState, status

LA = ZoneInfo("America/Los_Angeles")
D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
NOW = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)  # Monday 10:00 in Los Angeles
DAILY = FreshnessPolicy.for_frequency("daily")


def dataset(dataset_id: str, frequency: str = "daily", column: str | None = None) -> MonitoredDataset:
    return MonitoredDataset(dataset_id, dataset_id.title(), "sanitation", "LA Sanitation and Environment",
                            "Grace Park", "grace.park@lasan.lacity.example", frequency, "abcd-1234",
                            FreshnessPolicy.for_frequency(frequency), newest_date_column=column)


def ev(dataset_id: str, age: dt.timedelta | None, frequency: str = "daily", **observed):
    last = NOW - age if age is not None else None
    return evaluate(dataset(dataset_id, frequency), Observation(last, **observed), NOW)


# --- cross-checks -----------------------------------------------------------------------------

def kinds(findings) -> list[FindingKind]:
    return [f.kind for f in findings]


def test_late_and_the_pipeline_has_not_succeeded_since():
    result = status(NOW - 5 * D, NOW, DAILY)
    findings = cross_check(result, DAILY, NOW, last_success_at=NOW - 6 * D)
    assert kinds(findings) == [FindingKind.PIPELINE_NOT_SUCCEEDING]
    assert "No successful pipeline run since 2026-11-17" in findings[0].message
    assert kinds(cross_check(result, DAILY, NOW, last_success_at=None)) == [
        FindingKind.PIPELINE_NOT_SUCCEEDING, FindingKind.UPDATED_OUTSIDE_PIPELINE]


def test_late_although_the_pipeline_succeeds_means_the_source_is_unchanged():
    result = status(NOW - 5 * D, NOW, DAILY)
    findings = cross_check(result, DAILY, NOW, last_success_at=NOW - 2 * H)
    assert kinds(findings) == [FindingKind.SOURCE_UNCHANGED]
    assert "no new or changed records since 2026-11-18" in findings[0].message


def test_fresh_data_the_pipeline_did_not_write():
    result = status(NOW - 2 * H, NOW, DAILY)
    assert cross_check(result, DAILY, NOW, last_success_at=NOW - 3 * H) == ()
    findings = cross_check(result, DAILY, NOW, last_success_at=NOW - 9 * D)
    assert kinds(findings) == [FindingKind.UPDATED_OUTSIDE_PIPELINE]


def test_reloaded_data_with_nothing_recent_in_it():
    result = status(NOW - 2 * H, NOW, DAILY)
    stale = cross_check(result, DAILY, NOW, last_success_at=NOW - H, newest_data_at=NOW - 30 * D,
                        newest_date_column="created_date")
    assert kinds(stale) == [FindingKind.CONTENT_STALE]
    assert stale[0].message.startswith("The newest created_date in the data is 2026-10-24")
    assert cross_check(result, DAILY, NOW, last_success_at=NOW - H, newest_data_at=NOW - 3 * D) == ()
    unscheduled = FreshnessPolicy.for_frequency("historical")
    assert cross_check(status(NOW - H, NOW, unscheduled), unscheduled, NOW, last_success_at=NOW - H,
                       newest_data_at=NOW - 900 * D) == ()


# --- alert planning ------------------------------------------------------------------------------

def test_first_pass_reminds_departments_and_reports_overdue_to_the_cdo():
    def ok(age):  # the pipeline's run wrote the portal's last update
        return {"last_success_at": NOW - age + H}

    evaluations = [ev("fresh", 1 * D, **ok(D)), ev("due", 3 * D, **ok(3 * D)), ev("late", 9 * D, **ok(9 * D)),
                   ev("never", None, last_success_at=NOW - D),
                   ev("old-archive", 900 * D, "historical"), ev("odd", 2 * H, last_success_at=NOW - 30 * D)]
    plan = plan_alerts(evaluations, {}, NOW)
    ids = lambda evs: [e.dataset.dataset_id for e in evs]  # noqa: E731
    assert ids(plan.reminders) == ["due", "late", "never"]
    assert ids(plan.digest) == ["late", "never"] and plan.send_digest
    assert ids(plan.still_overdue) == [] and ids(plan.unscheduled) == ["old-archive"]
    assert ids(plan.disagreements) == ["odd"]
    assert plan.cleared == ()


def records_for(plan, now=NOW):
    out = {}
    for e in plan.reminders:
        out[(e.dataset.dataset_id, Channel.DEPARTMENT)] = reported(e, Channel.DEPARTMENT, {}, now)
    for e in plan.digest:
        out[(e.dataset.dataset_id, Channel.CDO)] = reported(e, Channel.CDO, {}, now)
    return out


def test_nothing_is_reported_twice_until_the_status_changes_or_the_interval_passes():
    evaluations = [ev("due", 3 * D), ev("late", 9 * D)]
    records = records_for(plan_alerts(evaluations, {}, NOW))
    later = NOW + 6 * H
    again = plan_alerts([ev("due", 3 * D + 6 * H), ev("late", 9 * D + 6 * H)], records, later)
    assert again.reminders == () and again.digest == () and not again.send_digest
    assert [e.dataset.dataset_id for e in again.still_overdue] == ["late"]
    # "due" turned overdue: news for both channels.
    changed = plan_alerts([ev("due", 5 * D), ev("late", 10 * D)], records, NOW + D)
    assert [e.dataset.dataset_id for e in changed.reminders] == ["due"]
    assert [e.dataset.dataset_id for e in changed.digest] == ["due"]
    # A week later "late" is reported again, keeping when it was first reported.
    week = NOW + 7 * D
    realert = plan_alerts([ev("late", 16 * D)], records, week)
    assert [e.dataset.dataset_id for e in realert.digest] == ["late"]
    record = reported(realert.digest[0], Channel.CDO, records, week)
    assert (record.first_alerted_at, record.last_alerted_at) == (NOW, week)
    shorter = plan_alerts([ev("late", 16 * D)], records, NOW + 2 * D, realert=D)
    assert [e.dataset.dataset_id for e in shorter.digest] == ["late"]


def test_fresh_again_clears_the_records_so_the_next_lapse_is_news():
    records = {("late", Channel.DEPARTMENT): AlertRecord("late", Channel.DEPARTMENT, FreshnessState.OVERDUE, NOW, NOW),
               ("late", Channel.CDO): AlertRecord("late", Channel.CDO, FreshnessState.OVERDUE, NOW, NOW),
               ("due", Channel.DEPARTMENT): AlertRecord("due", Channel.DEPARTMENT, FreshnessState.DUE, NOW, NOW)}
    plan = plan_alerts([ev("late", H), ev("due", 3 * D)], records, NOW + H)
    assert set(plan.cleared) == {("late", Channel.DEPARTMENT), ("late", Channel.CDO)}
    assert plan.reminders == () and not plan.send_digest


def test_irregular_data_is_listed_and_never_alerted_even_when_never_updated():
    plan = plan_alerts([ev("odd", None, "irregular"), ev("old", 5000 * D, "historical")], {}, NOW)
    assert plan.reminders == () and plan.digest == () and len(plan.unscheduled) == 2


def test_a_portal_id_missing_from_the_catalog_is_never_updated_and_says_so():
    (missing,) = evaluate_all([dataset("gone")], {}, NOW)
    assert missing.state is FreshnessState.OVERDUE and missing.status.never_updated
    assert missing.findings[0].kind is FindingKind.NOT_ON_PORTAL
    assert "no dataset abcd-1234" in missing.findings[0].message


def test_digest_rows_and_reminder_details():
    evaluations = evaluate_all([dataset("b-late"), dataset("a-never"), dataset("c-later")], {
        "b-late": Observation(NOW - 9 * D, last_success_at=NOW - 10 * D),
        "c-later": Observation(NOW - 20 * D, last_success_at=NOW - H)}, NOW)
    plan = plan_alerts(evaluations, {}, NOW)
    digest = build_digest(plan, {}, monitored=3, now=NOW, airflow_base_url="http://airflow.example/",
                          portal_base_url="http://portal.example")
    assert [r.dataset_id for r in digest.overdue] == ["a-never", "c-later", "b-late"]  # most late first
    row = digest.overdue[2]
    assert row.dag_url == "http://airflow.example/dags/b-late" and row.portal_url == "http://portal.example/d/abcd-1234"
    assert (row.days_late, row.steward) == (8.0, "Grace Park <grace.park@lasan.lacity.example>")
    assert row.notes == ("No successful pipeline run since 2026-11-13: check the DAG's failed or missing runs.",)
    details = reminder_details(ev("due", 3 * D, last_success_at=NOW - H), airflow_base_url="http://a.example")
    assert details["freshness_state"] == "due" and details["days_late"] == 2.0
    assert details["overdue_at"] == NOW + D and details["airflow_url"] == "http://a.example/dags/due"
    assert reminder_details(ev("never", None))["last_update"] == "never"


# --- the comment watch ---------------------------------------------------------------------------

FRIDAY = dt.datetime(2026, 11, 20, 15, 0, tzinfo=LA).astimezone(dt.UTC)


def test_first_reading_is_a_baseline_then_a_rise_is_news():
    plan = plan_comments({}, {"a": 3}, FRIDAY)
    assert plan.actions == () and plan.quiet == (CommentWatch("a", 3, FRIDAY),)
    state = plan.quiet[0]
    rise = plan_comments({"a": state}, {"a": 5}, FRIDAY + H)
    (action,) = rise.actions
    assert (action.kind, action.count, action.new_comments, action.pending_since) == (
        CommentActionKind.RECEIVED, 5, 2, FRIDAY + H)
    assert action.after.count == 5 and action.after.pending_since == FRIDAY + H


def test_a_fall_is_recorded_not_reported():
    plan = plan_comments({"a": CommentWatch("a", 4, FRIDAY)}, {"a": 2}, FRIDAY + H)
    assert plan.actions == () and plan.quiet[0].count == 2


def test_reminder_after_48_business_hours_then_every_48_more_until_answered():
    pending = CommentWatch("a", 1, FRIDAY, pending_since=FRIDAY, notified_at=FRIDAY)
    tuesday = dt.datetime(2026, 11, 24, 15, 0, tzinfo=LA).astimezone(dt.UTC)
    assert plan_comments({"a": pending}, {}, tuesday - dt.timedelta(minutes=1)).actions == ()
    (reminder,) = plan_comments({"a": pending}, {}, tuesday).actions
    assert reminder.kind is CommentActionKind.REMINDER and reminder.waited == 48 * H
    reminded = reminder.after
    assert plan_comments({"a": reminded}, {"a": 1}, tuesday + D).actions == ()
    thursday = dt.datetime(2026, 11, 26, 15, 0, tzinfo=LA).astimezone(dt.UTC)
    (again,) = plan_comments({"a": reminded}, {}, thursday).actions
    assert again.waited == 96 * H
    answered = mark_answered(reminded, tuesday + H, "jorge-ramos")
    assert not answered.waiting and answered.answered_by == "jorge-ramos"
    assert plan_comments({"a": answered}, {"a": 1}, thursday).actions == ()


def test_more_comments_while_waiting_keep_the_oldest_clock():
    pending = CommentWatch("a", 1, FRIDAY, pending_since=FRIDAY, notified_at=FRIDAY)
    (action,) = plan_comments({"a": pending}, {"a": 2}, FRIDAY + D).actions
    assert action.kind is CommentActionKind.RECEIVED and action.after.pending_since == FRIDAY
    answered = mark_answered(pending, FRIDAY + H, None)
    (fresh,) = plan_comments({"a": answered}, {"a": 2}, FRIDAY + D).actions
    assert fresh.after.pending_since == FRIDAY + D and fresh.after.answered_at is None


def test_reads_rotate_never_read_first_then_the_longest_unread():
    states = {"b": CommentWatch("b", 0, NOW - 2 * H), "c": CommentWatch("c", 0, NOW - 5 * H)}
    assert choose_to_read(["a", "b", "c", "d"], states, 3) == ["a", "d", "c"]
    assert read_budget(1000, 24, 200) == 42 and read_budget(200, 24, 5) == 5 and read_budget(0, 24, 5) == 0


def test_the_sweep_bounds_the_runs_a_dataset_waits_to_be_read():
    assert [sweep_runs(1000, 14), sweep_runs(960, 14), sweep_runs(1008, 14), sweep_runs(1009, 14)] == [72, 69, 72, 73]
    assert sweep_runs(0, 0) == 0 and sweep_runs(5, 0) is None
    # The bound holds for the rotation itself, from the first run (everything never read): a
    # thousand datasets at 14 reads a run, hourly, over two sweeps and a half.
    ids = [f"ds-{i:04d}" for i in range(1000)]
    states: dict[str, CommentWatch] = {}
    last_read: dict[str, int] = {}
    longest = 0
    for run in range(180):
        for dataset_id in choose_to_read(ids, states, read_budget(len(ids), 24, 14)):
            longest = max(longest, run - last_read.get(dataset_id, -1))
            last_read[dataset_id] = run
            states[dataset_id] = CommentWatch(dataset_id, 0, NOW + run * H)
    assert longest == sweep_runs(1000, 14) == 72 and len(last_read) == 1000


def test_a_comment_is_noticed_at_the_first_reading_after_it_however_late():
    # Read on Monday, a comment on Tuesday, the next reading 72 hours after the first: one notice,
    # and the answer clock starts at that notice (48 business hours later: the reminder).
    read = CommentWatch("a", 3, NOW)
    (notice,) = plan_comments({"a": read}, {"a": 4}, NOW + 72 * H).actions
    assert notice.kind is CommentActionKind.RECEIVED and notice.new_comments == 1
    assert notice.after.pending_since == NOW + 72 * H


def test_default_settings_keep_an_hourly_run_under_20_portal_requests_for_1000_datasets():
    import math

    from opendata.freshness.monitor import NOTICE_RUNS_PROMISED, MonitorSettings

    settings = MonitorSettings()
    catalog = math.ceil(1000 / settings.catalog_batch)
    comments = read_budget(1000, settings.comment_sweep_runs, settings.comment_reads_max)
    assert catalog + comments < 20
    assert sweep_runs(1000, comments) <= NOTICE_RUNS_PROMISED
