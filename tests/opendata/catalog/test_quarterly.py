"""The quarterly report's figures on hand-built inputs with known answers (pure: no registry)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opendata.catalog.quarterly import (
    CommentEpisode,
    DatasetRecord,
    PlannedEntry,
    Quarter,
    QuarterInputs,
    RunEvent,
    Share,
    StageEvent,
    dataset_figures,
    parse_quarter,
    previous_quarter,
    quarter_of,
    quarterly_report,
    report_file_stem,
    report_recipients,
    report_title,
)
from opendata.freshness.policy import FreshnessPolicy
from opendata.freshness.status import FreshnessState, status
from opendata.registry.stages import Stage
from opendata.spec.freshness import WEEKENDS
from opendata.spec.loader import load_governance
from tests.conftest import REPO_ROOT

LA = ZoneInfo("America/Los_Angeles")
Q3 = Quarter(2026, 3)
DAILY = FreshnessPolicy.for_frequency("daily")          # due after 2 days, overdue after 4
IRREGULAR = FreshnessPolicy.for_frequency("irregular")
D = dt.timedelta(days=1)
S = dt.timedelta(seconds=1)


def la(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A Los Angeles wall-clock time, as the registry stores it (UTC)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=LA).astimezone(dt.UTC)


AFTER_Q3 = la(2026, 10, 5)
LONG_AGO = la(2026, 3, 1)


def step1(at: dt.datetime) -> StageEvent:
    return StageEvent(at, None, Stage.NOT_READY, "Step 1 approved by Alicia Grant (airflow)")


def went_public(approved: dt.datetime, public: dt.datetime) -> list[StageEvent]:
    """Step 1, Stage 1 an hour later, public at ``public``."""
    return [step1(approved), StageEvent(approved + dt.timedelta(hours=1), Stage.NOT_READY, Stage.STAGE_1),
            StageEvent(public, Stage.STAGE_1, Stage.STAGE_2)]


def public_dataset(dataset_id: str, department: str = "a", *, approved: dt.datetime | None = None,
                   public: dt.datetime = LONG_AGO, **kwargs: object) -> DatasetRecord:
    history = went_public(approved or public - 10 * D, public)
    return DatasetRecord(dataset_id, department, dataset_id.title(), stage=Stage.STAGE_2, history=history,
                         department_approved_at=approved, public_at=public, **kwargs)


def report(*datasets: DatasetRecord, as_of: dt.datetime = AFTER_Q3, departments: dict[str, str] | None = None,
           planned: tuple[PlannedEntry, ...] = (), quarter: Quarter = Q3):
    return quarterly_report(QuarterInputs(quarter, as_of, departments or {"a": "Alpha", "b": "Beta"},
                                          list(datasets), planned))


def row(result, department: str):
    return next(r for r in result.rows if r.department == department)


# --- quarters --------------------------------------------------------------------------------


def test_quarters_in_the_city_s_time_zone():
    assert quarter_of(dt.date(2026, 7, 1)) == Q3
    assert quarter_of(dt.date(2026, 9, 30)) == Q3
    # 05:00 UTC on 1 July is still 30 June in Los Angeles.
    assert quarter_of(dt.datetime(2026, 7, 1, 5, tzinfo=dt.UTC)) == Quarter(2026, 2)
    assert quarter_of(dt.datetime(2026, 7, 1, 7, tzinfo=dt.UTC)) == Q3
    assert (Q3.first_day, Q3.last_day) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert (Q3.starts_at, Q3.ends_at) == (la(2026, 7, 1, 0), la(2026, 10, 1, 0))
    # Standard time in January, daylight time in April: local midnight either way.
    q1 = Quarter(2026, 1)
    assert (q1.starts_at, q1.ends_at) == (dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC),
                                          dt.datetime(2026, 4, 1, 7, tzinfo=dt.UTC))
    assert Q3.contains(la(2026, 7, 1, 0)) and not Q3.contains(la(2026, 10, 1, 0))
    with pytest.raises(ValueError):
        quarter_of(dt.datetime(2026, 7, 1))  # naive


def test_previous_next_labels_and_parsing():
    assert previous_quarter(dt.date(2026, 1, 15)) == Quarter(2025, 4)
    assert previous_quarter(la(2026, 10, 1, 0)) == Q3
    assert Quarter(2025, 4).next() == Quarter(2026, 1)
    assert Q3.previous().previous().previous() == Quarter(2025, 4)
    assert (Q3.label, str(Q3), Q3.slug, report_file_stem(Q3)) == ("2026 Q3", "2026 Q3", "2026-q3",
                                                                   "opendata-quarterly-2026-q3")
    for text in ("2026 Q3", "2026-q3", "2026Q3", " q3 2026 ", "Q3-2026"):
        assert parse_quarter(text) == Q3
    for text in ("2026 Q5", "Q3", "2026", "26 Q3", "2026 Q3; drop"):
        with pytest.raises(ValueError):
            parse_quarter(text)
    with pytest.raises(ValueError):
        Quarter(2026, 0)
    with pytest.raises(Exception):  # noqa: B017 - an unknown zone fails at once
        Quarter(2026, 3, "Mars/Olympus_Mons")


def test_a_quarter_under_way_counts_to_as_of_and_one_not_started_is_refused():
    mid = la(2026, 8, 15)
    result = report(public_dataset("x", public=la(2026, 8, 20)), as_of=mid)
    assert result.cutoff == mid and not result.complete
    assert report_title(result) == "Open data quarterly report, 2026 Q3 (to date)"
    assert row(result, "a").published == 0  # public after as_of
    done = report(public_dataset("x", public=la(2026, 8, 20)))
    assert done.complete and done.cutoff == Q3.ends_at and row(done, "a").published == 1
    assert report_title(done) == "Open data quarterly report, 2026 Q3"
    with pytest.raises(ValueError, match="starts at"):
        report(as_of=la(2026, 6, 30))


# --- published, in review, rejected, planned -------------------------------------------------------


def test_stage_at_the_end_of_the_quarter_not_today():
    waiting = DatasetRecord("w", "a", "Waiting", stage=Stage.STAGE_2, history=[
        step1(la(2026, 8, 30)), StageEvent(la(2026, 9, 1), Stage.NOT_READY, Stage.STAGE_1),
        StageEvent(la(2026, 10, 2), Stage.STAGE_1, Stage.STAGE_2)])
    q3 = report(waiting)
    assert (row(q3, "a").in_review, row(q3, "a").published) == (1, 0)
    q4 = report(waiting, quarter=Quarter(2026, 4))
    assert (row(q4, "a").in_review, row(q4, "a").published, row(q4, "a").newly_public) == (0, 1, 1)


def test_published_counts_refreshing_and_retired_after_public_and_new_ones():
    old = public_dataset("old", public=la(2026, 3, 1))
    new = public_dataset("new", public=la(2026, 7, 2))
    refreshing = DatasetRecord("ref", "a", "Ref", stage=Stage.REFRESHING, history=[
        *went_public(la(2026, 1, 1), la(2026, 2, 1)), StageEvent(la(2026, 2, 2), Stage.STAGE_2, Stage.REFRESHING)])
    retired = DatasetRecord("ret", "a", "Ret", stage=Stage.RETIRED, history=[
        *went_public(la(2026, 1, 1), la(2026, 2, 1)), StageEvent(la(2026, 8, 1), Stage.STAGE_2, Stage.RETIRED)])
    never_public_retired = DatasetRecord("npr", "a", "Npr", stage=Stage.RETIRED, history=[
        step1(la(2026, 1, 1)), StageEvent(la(2026, 8, 1), Stage.NOT_READY, Stage.RETIRED)])
    not_ready = DatasetRecord("nr", "a", "Not ready", history=[step1(la(2026, 8, 1))], stage=Stage.NOT_READY)
    only_file = DatasetRecord("file", "a", "Only a file")
    result = report(old, new, refreshing, retired, never_public_retired, not_ready, only_file)
    a = row(result, "a")
    assert (a.datasets, a.published, a.newly_public, a.in_review) == (7, 4, 1, 0)


def test_without_stage_history_the_current_stage_and_public_at_decide():
    before = DatasetRecord("b", "a", "B", stage=Stage.REFRESHING, public_at=la(2026, 5, 1))
    during = DatasetRecord("d", "a", "D", stage=Stage.STAGE_2, public_at=la(2026, 8, 1),
                           department_approved_at=la(2026, 7, 31))
    unknown = DatasetRecord("u", "a", "U", stage=Stage.STAGE_2)  # public, since when unknown
    a = row(report(before, during, unknown), "a")
    assert (a.published, a.newly_public, a.days_to_public) == (3, 1, (1.0,))


def test_a_dataset_rejected_at_step_1_and_in_review_then_resubmitted_and_published():
    history = [
        StageEvent(la(2026, 7, 5), None, Stage.REJECTED, "Step 1 rejected by Alicia Grant: no address column"),
        StageEvent(la(2026, 7, 10), Stage.REJECTED, Stage.NOT_READY, "Step 1 approved by Alicia Grant (airflow)"),
        StageEvent(la(2026, 7, 11), Stage.NOT_READY, Stage.STAGE_1),
        StageEvent(la(2026, 7, 20), Stage.STAGE_1, Stage.REJECTED, "Addresses must be generalised"),
        StageEvent(la(2026, 8, 1), Stage.REJECTED, Stage.STAGE_1),
        StageEvent(la(2026, 8, 5), Stage.STAGE_1, Stage.STAGE_1, "approved by the CDO"),
        StageEvent(la(2026, 8, 6, 18), Stage.STAGE_1, Stage.STAGE_2),
    ]
    record = DatasetRecord("permits", "a", "Permits", stage=Stage.STAGE_2, history=history,
                           department_approved_at=la(2026, 7, 10))  # the approval after the refusal
    figures = dataset_figures(record, Q3, AFTER_Q3)
    assert (figures.rejected_step1, figures.rejected_review) == (True, True)
    assert (figures.published, figures.newly_public, figures.in_review) == (True, True, False)
    assert figures.days_to_public == pytest.approx(27.25)  # 10 July noon to 6 August 18:00
    a = row(report(record), "a")
    assert (a.rejected, a.rejected_step1, a.rejected_review) == (1, 1, 1)  # one dataset, refused twice


def test_a_second_step_1_refusal_counts_a_note_on_a_rejected_dataset_does_not():
    first = StageEvent(la(2026, 6, 1), Stage.NOT_READY, Stage.REJECTED, "Step 1 rejected by Alicia Grant: x")
    again = DatasetRecord("again", "a", "Again", stage=Stage.REJECTED, history=[
        first, StageEvent(la(2026, 7, 2), Stage.REJECTED, Stage.REJECTED, "Step 1 rejected by Alicia Grant: y")])
    note = DatasetRecord("note", "a", "Note", stage=Stage.REJECTED, history=[
        first, StageEvent(la(2026, 7, 2), Stage.REJECTED, Stage.REJECTED, "revision 3 held for approval")])
    in_q2 = DatasetRecord("q2", "a", "Q2", stage=Stage.REJECTED, history=[first])
    a = row(report(again, note, in_q2), "a")
    assert (a.rejected, a.rejected_step1, a.rejected_review) == (1, 1, 0)


def test_planned_entries_not_yet_public_and_past_their_target():
    published = public_dataset("a1", public=la(2026, 8, 1))
    planned = (PlannedEntry("a", "p1", "Planned One", dt.date(2026, 9, 30)),   # the last day: past at the end
               PlannedEntry("a", "p2", "Planned Two", dt.date(2026, 10, 1)),
               PlannedEntry("a", "a1", "Already public", dt.date(2026, 7, 1)),
               PlannedEntry("zeta", "z1", "Elsewhere", dt.date(2027, 1, 1)))
    result = report(published, planned=planned)
    a = row(result, "a")
    assert (a.planned, a.planned_past_target) == (2, 1)
    assert (row(result, "zeta").name, row(result, "zeta").planned) == ("zeta", 1)
    assert [p.dataset_id for p in result.planned] == ["p1", "p2", "z1"]
    assert (result.total.planned, result.total.planned_past_target) == (3, 1)


def test_a_department_with_nothing_has_a_row_of_zeros():
    result = report(public_dataset("x", public=la(2026, 8, 1)),
                    departments={"a": "Alpha", "empty": "Department of Nothing"})
    empty = row(result, "empty")
    assert (empty.name, empty.datasets, empty.published, empty.in_review, empty.rejected, empty.planned) == \
        ("Department of Nothing", 0, 0, 0, 0, 0)
    assert (empty.median_days_to_public, empty.refreshes.value, empty.comments.value, empty.overdue_now) == \
        (None, None, None, 0)
    assert [r.department for r in result.rows] == ["a", "empty"]  # by name
    nothing = report(departments={"a": "Alpha"})
    assert nothing.total.datasets == 0 and nothing.total.median_days_to_public is None


def test_datasets_of_a_department_governance_does_not_name_get_their_own_row():
    result = report(public_dataset("x", "unlisted", public=la(2026, 8, 1)), departments={"a": "Alpha"})
    assert [(r.department, r.name, r.published) for r in result.rows] == [("a", "Alpha", 0),
                                                                          ("unlisted", "unlisted", 1)]


# --- median days from Step 1 to public ---------------------------------------------------------


def test_median_days_per_department_and_for_the_city_over_all_values():
    a = [public_dataset(f"a{days}", approved=la(2026, 7, 1) - days * D + D, public=la(2026, 7, 2))
         for days in (1, 2, 3)]
    b = [public_dataset("b100", "b", approved=la(2026, 5, 1), public=la(2026, 5, 1) + 100 * D)]
    earlier = public_dataset("old", approved=la(2026, 1, 1), public=la(2026, 6, 1))      # public in Q2
    no_step1 = public_dataset("nos", public=la(2026, 8, 1))                               # approval not recorded
    odd = dataclasses.replace(public_dataset("odd", public=la(2026, 8, 1)),                # approved after public:
                              department_approved_at=la(2026, 8, 2))                      # not counted
    result = report(*a, *b, earlier, no_step1, odd)
    assert row(result, "a").days_to_public == (1.0, 2.0, 3.0)
    assert row(result, "a").median_days_to_public == 2.0
    assert row(result, "b").median_days_to_public == 100.0
    # The city's median is over the four values (2.5), not the median of the medians (51).
    assert result.total.median_days_to_public == 2.5
    assert row(result, "a").newly_public == 5


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    datasets = [public_dataset(f"d{days}", approved=la(2026, 7, 5), public=la(2026, 7, 5) + days * D)
                for days in (4, 10)]
    assert row(report(*datasets), "a").median_days_to_public == 7.0


# --- refreshes on time -------------------------------------------------------------------------


def refreshing(runs: list[RunEvent], policy: FreshnessPolicy | None = DAILY, **kwargs: object) -> DatasetRecord:
    return public_dataset("r", public=la(2026, 6, 1), policy=policy, runs=runs, **kwargs)


def success(at: dt.datetime, kind: str = "refresh") -> RunEvent:
    return RunEvent(at, kind, "success")


def test_on_time_at_exactly_due_after_and_late_one_second_later():
    runs = [success(la(2026, 6, 29), "publication"),            # before the quarter: the previous update
            success(la(2026, 7, 1)),                            # exactly 2 days later: on time
            RunEvent(la(2026, 7, 2), "refresh", "failed"),      # a failure is no update
            success(la(2026, 7, 3) + S),                        # 2 days and a second: late
            success(la(2026, 7, 4)),                            # on time
            success(la(2026, 10, 1, 1))]                        # after the quarter: not this quarter's
    assert dataset_figures(refreshing(runs), Q3, AFTER_Q3).refreshes == Share(2, 3)
    # The same rule as the freshness status: fresh at exactly due_after, due a second later.
    assert status(la(2026, 6, 29), la(2026, 7, 1), DAILY).state is FreshnessState.FRESH
    assert status(la(2026, 7, 1), la(2026, 7, 3) + S, DAILY).state is FreshnessState.DUE


def test_no_update_days_do_not_count_towards_the_gap():
    friday, tuesday = la(2026, 7, 10), la(2026, 7, 14)  # four calendar days, two of them a weekend
    runs = [success(friday, "publication"), success(tuesday)]
    assert dataset_figures(refreshing(runs), Q3, AFTER_Q3).refreshes == Share(0, 1)
    weekdays_only = FreshnessPolicy.for_frequency("daily", no_updates_on=WEEKENDS)
    assert dataset_figures(refreshing(runs, weekdays_only), Q3, AFTER_Q3).refreshes == Share(1, 1)


def test_refreshes_not_judged_without_a_previous_update_or_a_promise():
    first_ever = [success(la(2026, 7, 2))]
    assert dataset_figures(refreshing(first_ever), Q3, AFTER_Q3).refreshes == Share(0, 0)
    runs = [success(la(2026, 7, 1), "publication"), success(la(2026, 9, 1))]
    assert dataset_figures(refreshing(runs, IRREGULAR), Q3, AFTER_Q3).refreshes == Share(0, 0)
    assert dataset_figures(refreshing(runs, None), Q3, AFTER_Q3).refreshes == Share(0, 0)
    # Publication runs are previous updates, never judged themselves.
    assert dataset_figures(refreshing(runs), Q3, AFTER_Q3).refreshes == Share(0, 1)


def test_runs_given_out_of_order_are_sorted():
    runs = [success(la(2026, 7, 4)), success(la(2026, 7, 3)), success(la(2026, 7, 2), "publication")]
    assert dataset_figures(refreshing(runs), Q3, AFTER_Q3).refreshes == Share(2, 2)


def test_the_city_share_adds_the_counts():
    a = refreshing([success(la(2026, 7, 1), "publication"), success(la(2026, 7, 2)), success(la(2026, 7, 9))])
    b = DatasetRecord("b", "b", "B", policy=DAILY, runs=[success(la(2026, 7, 1), "publication"),
                                                          success(la(2026, 7, 2)), success(la(2026, 7, 3))])
    result = report(a, b)
    assert (row(result, "a").refreshes, row(result, "b").refreshes, result.total.refreshes) == \
        (Share(1, 2), Share(2, 2), Share(3, 4))
    assert result.total.refreshes.value == 0.75


# --- overdue now -------------------------------------------------------------------------------


def test_overdue_now_from_the_last_confirmed_update_at_the_report_time():
    as_of = AFTER_Q3

    def public(dataset_id: str, policy: FreshnessPolicy, last: dt.datetime | None, **kwargs: object):
        runs = [success(last)] if last else []
        return public_dataset(dataset_id, public=la(2026, 1, 5), policy=policy, runs=runs, **kwargs)

    overdue = public("late", DAILY, as_of - 5 * D)
    due = public("due", DAILY, as_of - 3 * D)
    edge = public("edge", DAILY, as_of - 4 * D)  # exactly overdue_after: still due
    never = public("never", DAILY, None)
    irregular = public("irr", IRREGULAR, as_of - 400 * D)
    refreshed = public("refreshed", DAILY, as_of - 30 * D, last_refresh_at=as_of - D)
    retired = DatasetRecord("retired", "a", "Retired", policy=DAILY, stage=Stage.RETIRED, runs=[
        success(la(2026, 1, 5))], history=[*went_public(la(2026, 1, 1), la(2026, 1, 2)),
                                           StageEvent(la(2026, 2, 1), Stage.STAGE_2, Stage.RETIRED)])
    stage1 = DatasetRecord("private", "a", "Private", policy=DAILY, stage=Stage.STAGE_1, runs=[
        success(la(2026, 1, 5))], history=[step1(la(2026, 1, 1))])
    result = report(overdue, due, edge, never, irregular, refreshed, retired, stage1, as_of=as_of)
    assert row(result, "a").overdue_now == 2
    assert [(d.dataset_id, d.last_update) for d in result.overdue] == [("never", None), ("late", as_of - 5 * D)]
    assert result.overdue[1].days_late == pytest.approx(4.0)


def test_overdue_is_judged_at_as_of_even_for_a_past_quarter():
    late_now = public_dataset("x", public=la(2026, 7, 2), policy=DAILY, runs=[success(la(2026, 9, 29))])
    assert report(late_now, as_of=la(2026, 9, 30)).total.overdue_now == 0
    assert report(late_now, as_of=la(2026, 12, 1)).total.overdue_now == 1


# --- public comments answered within 48 business hours -----------------------------------------------


def commented(*episodes: CommentEpisode, dataset_id: str = "c") -> DatasetRecord:
    return public_dataset(dataset_id, public=la(2026, 1, 5), comments=episodes)


def test_business_hours_over_a_weekend():
    friday = la(2026, 7, 10, 15)
    exactly = CommentEpisode(friday, la(2026, 7, 14, 15))                  # Fri 15:00 -> Tue 15:00: 48 h
    a_minute_late = CommentEpisode(friday, la(2026, 7, 14, 15, 1))
    weekend = CommentEpisode(la(2026, 7, 11, 10), la(2026, 7, 13, 23))     # Sat -> Mon 23:00: 23 business h
    result = report(commented(exactly, dataset_id="c1"), commented(a_minute_late, dataset_id="c2"),
                    commented(weekend, dataset_id="c3"))
    assert row(result, "a").comments == Share(2, 3)


def test_unanswered_comments_wait_then_count_late_and_earlier_clocks_are_not_this_quarter_s():
    friday = la(2026, 9, 25, 15)
    unanswered = commented(CommentEpisode(friday), dataset_id="u")
    before = commented(CommentEpisode(la(2026, 6, 30, 9), la(2026, 7, 10)), dataset_id="b")
    answered_after_as_of = commented(CommentEpisode(friday, la(2026, 9, 28, 16)), dataset_id="later")
    monday = la(2026, 9, 28, 15)  # 24 business hours after Friday 15:00
    under_way = report(unanswered, before, answered_after_as_of, as_of=monday)
    assert (row(under_way, "a").comments, row(under_way, "a").comments_waiting) == (Share(0, 0), 2)
    done = report(unanswered, before, answered_after_as_of)
    assert (row(done, "a").comments, row(done, "a").comments_waiting) == (Share(1, 2), 0)


# --- for the e-mail ------------------------------------------------------------------------------


def test_recipients_are_the_cdo_and_every_coordinator_once():
    governance, errors = load_governance(REPO_ROOT / "include" / "governance.yaml")
    assert governance is not None, errors
    recipients = report_recipients(governance)
    assert recipients[0] == str(governance.cdo.email)
    coordinators = {str(governance.people[key].email) for d in governance.departments.values()
                    for key in d.coordinators}
    assert set(recipients[1:]) == coordinators and len(recipients) == len(set(recipients))
