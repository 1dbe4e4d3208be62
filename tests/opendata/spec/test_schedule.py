"""A dataset's schedule: its update frequency at a start time of its own, stable and spread."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from collections import Counter

import pytest
from croniter import croniter

from opendata.spec.schedule import dataset_offset, dataset_schedule
from opendata.spec.vocab import UpdateFrequency

IDS = [f"dataset-{n:04d}" for n in range(1000)]
SCHEDULED = [f for f in UpdateFrequency if f not in (UpdateFrequency.IRREGULAR, UpdateFrequency.HISTORICAL)]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def runs(cron: str, count: int, start: dt.datetime = START) -> list[dt.datetime]:
    it = croniter(cron, start)
    return [it.get_next(dt.datetime) for _ in range(count)]


def chi_square(counts: Counter, buckets: int, total: int) -> float:
    expected = total / buckets
    return sum((counts.get(b, 0) - expected) ** 2 / expected for b in range(buckets))


@pytest.mark.parametrize("frequency", list(UpdateFrequency))
def test_a_pinned_schedule_is_used_as_written(frequency):
    for pinned in ("@daily", "0 0 * * *", "*/5 3 * * 1-5", "@once"):
        assert dataset_schedule("building-permits", frequency, pinned) == pinned


@pytest.mark.parametrize("frequency", ["irregular", "historical"])
def test_no_promised_cycle_means_no_schedule(frequency):
    assert dataset_schedule("building-permits", frequency) is None


@pytest.mark.parametrize("frequency", SCHEDULED)
def test_every_schedule_is_a_valid_cron_string_whatever_the_id(frequency):
    for dataset_id in IDS[:200] + ["a", "x" * 100, "permits-2026", "caf\u00e9-inspections"]:
        cron = dataset_schedule(dataset_id, frequency)
        assert cron is not None and croniter.is_valid(cron), (dataset_id, cron)
        assert not cron.startswith("@")


def test_the_same_id_gets_the_same_schedule_in_every_process():
    """Python's hash() of a string changes with each process (PYTHONHASHSEED); the offset must not."""
    here = [dataset_schedule(dataset_id, frequency) for dataset_id in IDS[:50] for frequency in SCHEDULED]
    code = ("import sys; from opendata.spec.schedule import dataset_schedule; from opendata.spec.vocab import "
            "UpdateFrequency as F; ids = [f'dataset-{n:04d}' for n in range(50)]; "
            "print('|'.join(str(dataset_schedule(i, f)) for i in ids for f in F "
            "if f not in (F.IRREGULAR, F.HISTORICAL)))")
    for seed in ("1", "2", "random"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout.strip()
        assert out.split("|") == [str(s) for s in here]
    # And it is the documented derivation: the first 8 bytes of the id's SHA-256.
    digest = int.from_bytes(hashlib.sha256(b"building-permits").digest()[:8], "big")
    assert dataset_offset("building-permits", 1440) == digest % 1440
    assert dataset_schedule("building-permits", "daily") == f"{digest % 60} {digest % 1440 // 60} * * *"


def test_daily_start_times_spread_over_the_day():
    minutes = [croniter(dataset_schedule(i, "daily"), START).get_next(dt.datetime) for i in IDS]
    hours = Counter(m.hour for m in minutes)
    assert len(hours) == 24
    # Uniform: chi-square of 24 hourly buckets under the 0.1 % critical value (23 degrees: 49.7).
    assert chi_square(hours, 24, len(IDS)) < 49.7
    assert max(hours.values()) < 3 * len(IDS) / 24    # no hour takes a crowd (midnight used to take all)
    assert len({(m.hour, m.minute) for m in minutes}) > 600   # 1,000 ids over 1,440 minutes: few share one


def test_hourly_start_minutes_spread_over_the_hour():
    counts = Counter(int(dataset_schedule(i, "hourly").split()[0]) for i in IDS)
    assert set(counts) == set(range(60))
    assert chi_square(counts, 60, len(IDS)) < 95.8   # 59 degrees, 0.1 %


def test_weekly_days_and_monthly_days_spread():
    weekdays = Counter(runs(dataset_schedule(i, "weekly"), 1)[0].weekday() for i in IDS)
    assert chi_square(weekdays, 7, len(IDS)) < 22.5   # 6 degrees, 0.1 %
    days = Counter(runs(dataset_schedule(i, "monthly"), 1, dt.datetime(2026, 1, 31, tzinfo=dt.UTC))[0].day - 1
                   for i in IDS)
    assert set(days) == set(range(28))
    assert chi_square(days, 28, len(IDS)) < 55.5    # 27 degrees, 0.1 %
    months = Counter((runs(dataset_schedule(i, "annually"), 1)[0].month - 1) for i in IDS)
    assert chi_square(months, 12, len(IDS)) < 31.3   # 11 degrees, 0.1 %
    quarter_month = Counter((runs(dataset_schedule(i, "quarterly"), 1)[0].month - 1) % 3 for i in IDS)
    assert chi_square(quarter_month, 3, len(IDS)) < 13.8   # 2 degrees, 0.1 %


# The cycle each frequency promises: consecutive runs of an offset schedule keep it.
CYCLE = {
    UpdateFrequency.HOURLY: {dt.timedelta(hours=1)},
    UpdateFrequency.DAILY: {dt.timedelta(days=1)},
    UpdateFrequency.WEEKLY: {dt.timedelta(days=7)},
    UpdateFrequency.BIWEEKLY: {dt.timedelta(days=d) for d in range(13, 18)},   # the 1st..14th and 14 days later
    UpdateFrequency.MONTHLY: {dt.timedelta(days=d) for d in (28, 29, 30, 31)},
    UpdateFrequency.QUARTERLY: {dt.timedelta(days=d) for d in (89, 90, 91, 92)},
    UpdateFrequency.SEMIANNUALLY: {dt.timedelta(days=d) for d in range(181, 185)},
    UpdateFrequency.ANNUALLY: {dt.timedelta(days=d) for d in (365, 366)},
}


@pytest.mark.parametrize("frequency", SCHEDULED)
def test_consecutive_runs_are_one_promised_cycle_apart(frequency):
    count = 60 if frequency in (UpdateFrequency.HOURLY, UpdateFrequency.DAILY, UpdateFrequency.WEEKLY) else 12
    for dataset_id in IDS[:100]:
        times = runs(dataset_schedule(dataset_id, frequency), count)
        gaps = {b - a for a, b in zip(times, times[1:], strict=False)}
        assert gaps <= CYCLE[frequency], (dataset_id, frequency, sorted(gaps))
    if frequency is UpdateFrequency.BIWEEKLY:   # twice a month, 14 days apart within the month
        days = sorted({t.day for t in runs(dataset_schedule("building-permits", frequency), 6)})
        assert len(days) == 2 and days[1] - days[0] == 14 and 1 <= days[0] <= 14
