"""The freshness monitor with offset schedules (spec/schedule.py): it judges a dataset by the time
since its last update against its frequency's thresholds, never by the DAG's schedule, and a
dataset refreshed on every run of its offset schedule is never judged worse than one on the old
preset (the cycle is the same; some offsets even avoid the preset's long half-years)."""

from __future__ import annotations

import datetime as dt

import pytest
from croniter import croniter

from opendata.freshness.policy import FreshnessPolicy, policy_for
from opendata.freshness.status import FreshnessState, status
from opendata.spec.schedule import dataset_schedule
from opendata.spec.vocab import UpdateFrequency

# The schedules every dataset of a frequency had before offsets (all at the period's first minute).
PRESETS = {
    UpdateFrequency.HOURLY: "@hourly", UpdateFrequency.DAILY: "@daily", UpdateFrequency.WEEKLY: "@weekly",
    UpdateFrequency.BIWEEKLY: "0 0 1,15 * *", UpdateFrequency.MONTHLY: "@monthly",
    UpdateFrequency.QUARTERLY: "0 0 1 1,4,7,10 *", UpdateFrequency.SEMIANNUALLY: "0 0 1 1,7 *",
    UpdateFrequency.ANNUALLY: "@yearly",
}
RUN_TAKES = dt.timedelta(minutes=12)   # the portal's dataUpdatedAt lands when the refresh task ends
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
IDS = ["building-permits", "service-requests-311", "restaurant-inspections"] + [f"ds-{n}" for n in range(30)]


def worst_state(cron: str, policy: FreshnessPolicy, years: int = 3) -> FreshnessState:
    """The worst state the monitor sees over ``years`` for data refreshed at every run of ``cron``:
    judged a second before each next update lands, when the data is oldest."""
    it = croniter(cron, START)
    runs = [it.get_next(dt.datetime)]
    while runs[-1] < START + dt.timedelta(days=365 * years):
        runs.append(it.get_next(dt.datetime))
    worst = FreshnessState.FRESH
    for previous, following in zip(runs, runs[1:], strict=False):
        seen = status(previous + RUN_TAKES, following + RUN_TAKES - dt.timedelta(seconds=1), policy).state
        worst = max(worst, seen, key=ORDER.index)
    return worst


ORDER = [FreshnessState.FRESH, FreshnessState.DUE, FreshnessState.OVERDUE]
# A full cycle's length is within the due threshold for these; the others have cycles of uneven
# length (months, half-years, leap years) that pass it by a day or two, preset or offset.
ALWAYS_FRESH = {UpdateFrequency.HOURLY, UpdateFrequency.DAILY, UpdateFrequency.WEEKLY, UpdateFrequency.MONTHLY}


@pytest.mark.parametrize("frequency", list(PRESETS))
def test_a_dataset_refreshed_on_its_offset_schedule_is_never_judged_worse_than_on_the_preset(frequency):
    policy = FreshnessPolicy.for_frequency(frequency)
    years = 1 if frequency is UpdateFrequency.HOURLY else 3
    before = worst_state(PRESETS[frequency], policy, years)
    assert before is not FreshnessState.OVERDUE
    for dataset_id in IDS if frequency is not UpdateFrequency.HOURLY else IDS[:5]:
        now = worst_state(dataset_schedule(dataset_id, frequency), policy, years)
        assert ORDER.index(now) <= ORDER.index(before), dataset_id
        if frequency in ALWAYS_FRESH:
            assert now is FreshnessState.FRESH, dataset_id


def test_due_dates_come_from_the_last_update_not_the_schedule(monitor_specs):
    """The policy is the frequency's (and the file's overrides): pinning or offsetting the schedule
    changes nothing the monitor computes."""
    spec = monitor_specs["building-permits"]
    pinned = spec.model_copy(update={"dag": spec.dag.model_copy(update={"schedule": "@daily"})})
    assert spec.schedule != pinned.schedule == "@daily"
    assert policy_for(spec) == policy_for(pinned)
    updated = dt.datetime(2026, 3, 2, 6, 40, tzinfo=dt.UTC)
    now = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
    judged = status(updated, now, policy_for(spec))
    assert judged == status(updated, now, policy_for(pinned))
    assert judged.due_at == updated + dt.timedelta(days=2)
    assert judged.overdue_at == updated + dt.timedelta(days=4)


@pytest.fixture
def monitor_specs():
    from opendata.freshness.sources import load_dataset_files
    from tests.conftest import REPO_ROOT

    return load_dataset_files(REPO_ROOT / "include").specs
