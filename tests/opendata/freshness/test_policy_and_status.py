"""The policy table and the pure status function: thresholds, edge cases, no-update days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opendata.freshness.calendar import add_business_time, add_counted_time, business_time, counted_time
from opendata.freshness.policy import FreshnessPolicy, policy_for
from opendata.freshness.status import FreshnessState, status
from opendata.spec.freshness import POLICY_TABLE, WEEKENDS, FreshnessSection, NoUpdateDays, default_thresholds
from opendata.spec.vocab import UpdateFrequency as F

LA = ZoneInfo("America/Los_Angeles")
D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
S = dt.timedelta(seconds=1)
# A Monday. In UTC: datetimes sharing a ZoneInfo subtract as wall-clock times, so ``NOW - 90 * D``
# in Los Angeles time would not be 90 * 24 hours ago across a daylight saving change.
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=LA).astimezone(dt.UTC)


def la(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA).astimezone(dt.UTC)


# --- the table ---------------------------------------------------------------------------------

# The table as the issue states it, keyed by frequency.
# The policy table as the issue states it (independent of the code under test):
#: frequency -> (cycle, due after, overdue after).
WORLD_TABLE = {
    "hourly": (1 * H, 6 * H, 24 * H),
    "daily": (1 * D, 2 * D, 4 * D),
    "weekly": (7 * D, 7 * D, 21 * D),
    "biweekly": (14 * D, 15 * D, 42 * D),
    "monthly": (30 * D, 32 * D, 90 * D),
    "quarterly": (90 * D, 90 * D, 270 * D),
    "semiannually": (182 * D, 183 * D, 365 * D),
    "annually": (365 * D, 365 * D, 500 * D),
}

TABLE = {F(frequency): row for frequency, row in WORLD_TABLE.items()}


def test_every_promise_has_a_row_except_irregular_and_historical():
    assert set(POLICY_TABLE) | {F.IRREGULAR, F.HISTORICAL} == set(F)
    assert {f: (r.period, r.due_after, r.overdue_after) for f, r in POLICY_TABLE.items()} == TABLE
    assert default_thresholds(F.IRREGULAR) is None and default_thresholds(F.HISTORICAL) is None
    for frequency, (_, due, overdue) in TABLE.items():
        assert default_thresholds(frequency) == (due, overdue)


@pytest.mark.parametrize("frequency", list(TABLE), ids=str)
def test_exactly_at_a_threshold_is_still_the_earlier_state(frequency):
    policy = FreshnessPolicy.for_frequency(frequency)
    _, due, overdue = TABLE[frequency]
    assert status(NOW - due, NOW, policy).state is FreshnessState.FRESH
    assert status(NOW - due - S, NOW, policy).state is FreshnessState.DUE
    assert status(NOW - overdue, NOW, policy).state is FreshnessState.DUE
    assert status(NOW - overdue - S, NOW, policy).state is FreshnessState.OVERDUE
    assert status(NOW, NOW, policy).state is FreshnessState.FRESH


@pytest.mark.parametrize("frequency", list(TABLE), ids=str)
def test_never_updated_is_overdue_without_an_age(frequency):
    result = status(None, NOW, FreshnessPolicy.for_frequency(frequency))
    assert result.state is FreshnessState.OVERDUE
    assert result.never_updated and result.age is None and result.days_late is None and result.cycles_late is None


@pytest.mark.parametrize("frequency", [F.IRREGULAR, F.HISTORICAL], ids=str)
def test_irregular_and_historical_are_listed_never_alerted(frequency):
    policy = FreshnessPolicy.for_frequency(frequency)
    assert not policy.monitored
    old = status(la(2016, 1, 1), NOW, policy)
    assert old.state is FreshnessState.UNSCHEDULED and not old.state.alerting
    assert old.age > 3650 * D and old.days_late is None and old.due_at is None
    assert status(None, NOW, policy).state is FreshnessState.UNSCHEDULED


def test_days_and_cycles_late_count_past_one_promised_cycle():
    daily = status(NOW - 5 * D, NOW, FreshnessPolicy.for_frequency(F.DAILY))
    assert (daily.state, daily.days_late, daily.cycles_late) == (FreshnessState.OVERDUE, 4.0, 4.0)
    weekly = status(NOW - 22 * D, NOW, FreshnessPolicy.for_frequency(F.WEEKLY))
    assert weekly.state is FreshnessState.OVERDUE
    assert weekly.days_late == 15.0 and weekly.cycles_late == pytest.approx(15 / 7)
    fresh = status(NOW - 12 * H, NOW, FreshnessPolicy.for_frequency(F.DAILY))
    assert (fresh.days_late, fresh.cycles_late) == (0.0, 0.0)
    assert fresh.due_at == NOW + 36 * H and fresh.overdue_at == NOW + 84 * H


def test_a_portal_clock_ahead_of_ours_is_fresh():
    result = status(NOW + 2 * H, NOW, FreshnessPolicy.for_frequency(F.HOURLY))
    assert result.state is FreshnessState.FRESH and result.age == dt.timedelta(0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        status(dt.datetime(2026, 11, 1), NOW, FreshnessPolicy.for_frequency(F.DAILY))


def test_overrides_replace_the_defaults():
    policy = FreshnessPolicy.for_frequency(F.DAILY, due_after=36 * H)
    assert (policy.due_after, policy.overdue_after, policy.period) == (36 * H, 4 * D, 1 * D)
    assert status(NOW - 37 * H, NOW, policy).state is FreshnessState.DUE
    with pytest.raises(ValueError):
        FreshnessPolicy.for_frequency(F.DAILY, due_after=5 * D)  # past the default overdue


def test_policy_for_a_dataset_file_reads_its_section():
    from opendata.lifecycle.context import load_spec

    spec = load_spec("service-requests-311")  # daily
    spec = spec.model_copy(update={"freshness": FreshnessSection.model_validate(
        {"due_after": {"count": 30, "period": "hour"}, "overdue_after": {"count": 3, "period": "day"},
         "no_updates_on": ["weekends", "2026-11-26"]})})
    policy = policy_for(spec)
    assert (policy.frequency, policy.due_after, policy.overdue_after) == (F.DAILY, 30 * H, 3 * D)
    assert la(2026, 11, 28).date() in policy.no_updates_on and la(2026, 11, 26).date() in policy.no_updates_on
    assert policy.timezone == "America/Los_Angeles"


# --- days on which no update is expected ---------------------------------------------------------

def test_weekends_do_not_count_for_a_weekday_dataset():
    weekdays_only = FreshnessPolicy.for_frequency(F.DAILY, no_updates_on=WEEKENDS)
    friday = la(2026, 11, 20, 6, 0)
    # Friday 06:00 to Monday 10:00: 18 h of Friday and 10 h of Monday count.
    result = status(friday, NOW, weekdays_only)
    assert result.age == 28 * H and result.state is FreshnessState.FRESH
    assert status(friday, NOW, FreshnessPolicy.for_frequency(F.DAILY)).state is FreshnessState.DUE
    # Due once two counted days have passed: Tuesday 06:00.
    assert result.due_at == la(2026, 11, 24, 6, 0)
    assert status(friday, la(2026, 11, 24, 6, 0), weekdays_only).state is FreshnessState.FRESH
    assert status(friday, la(2026, 11, 24, 6, 1), weekdays_only).state is FreshnessState.DUE


def test_holidays_one_off_and_yearly_do_not_count():
    thanksgiving = NoUpdateDays(dates=frozenset({dt.date(2026, 11, 26)}))
    policy = FreshnessPolicy.for_frequency(F.DAILY, no_updates_on=thanksgiving)
    # Wednesday 09:00 to Friday 10:00 is 49 h; without Thursday, 25 h.
    assert status(la(2026, 11, 25, 9), la(2026, 11, 27, 10), policy).age == 25 * H
    christmas = NoUpdateDays(yearly=frozenset({(12, 25)}))
    yearly = FreshnessPolicy.for_frequency(F.DAILY, no_updates_on=christmas)
    for year in (2026, 2031):
        assert status(la(year, 12, 24, 12), la(year, 12, 26, 12), yearly).age == 24 * H


def test_skipped_days_across_a_daylight_saving_change():
    # 2026-03-08 has 23 hours in Los Angeles; counting whole local days must not lose or add one.
    sundays = NoUpdateDays(weekdays=frozenset({6}))
    start, end = la(2026, 3, 6, 12), la(2026, 3, 10, 12)  # Friday noon to Tuesday noon
    assert end - start == 4 * D - H
    assert counted_time(start, end, sundays, "America/Los_Angeles") == 4 * D - H - 23 * H
    assert counted_time(start, end, NoUpdateDays(), "America/Los_Angeles") == 4 * D - H
    assert add_counted_time(start, 72 * H, sundays, "America/Los_Angeles") == end
    # Friday's 12 h and Saturday's 24 h, then Sunday is skipped: the 37th hour ends at Monday 01:00.
    assert add_counted_time(start, 37 * H, sundays, "America/Los_Angeles") == la(2026, 3, 9, 1)


def test_counted_time_and_its_inverse_agree():
    start = la(2026, 11, 20, 15)  # Friday 15:00
    for hours in (1, 9, 10, 48, 100, 1000):
        end = add_counted_time(start, hours * H, WEEKENDS, "America/Los_Angeles")
        assert counted_time(start, end, WEEKENDS, "America/Los_Angeles") == hours * H
    assert counted_time(NOW, NOW - H, WEEKENDS, "America/Los_Angeles") == dt.timedelta(0)


def test_forty_eight_business_hours_skip_the_weekend():
    friday = la(2026, 11, 20, 15)
    assert add_business_time(friday, 48 * H, "America/Los_Angeles") == la(2026, 11, 24, 15)
    assert business_time(friday, la(2026, 11, 23, 15), "America/Los_Angeles") == 24 * H
    monday = la(2026, 11, 23, 9)
    assert add_business_time(monday, 48 * H, "America/Los_Angeles") == la(2026, 11, 25, 9)
