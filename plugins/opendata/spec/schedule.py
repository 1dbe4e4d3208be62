"""A dataset DAG's schedule: its promised update frequency, at a start time of its own.

With ``@daily`` for every daily dataset, a thousand datasets would start at midnight together:
a thousand extracts against the city's source systems and a thousand refreshes queued for the
portal pool at once, then nothing for a day. So each dataset starts at a stable offset within
its period, derived from its id: the same id always gets the same time (a SHA-256 of the id, not
Python's ``hash()``, which is salted per process), and ids spread evenly over the period.

    hourly        minute of the hour                          "17 * * * *"
    daily         minute of the day                           "17 5 * * *"
    weekly        minute of the week                          "17 5 * * 3"
    biweekly      twice a month, 14 days apart, day 1-14      "17 5 9,23 * *"
    monthly       day 1-28 (every month has it) and time      "17 5 9 * *"
    quarterly     month of the quarter, day 1-28 and time     "17 5 9 2,5,8,11 *"
    semiannually  month of the half-year, day 1-28 and time   "17 5 9 4,10 *"
    annually      month, day 1-28 and time                    "17 5 9 4 *"
    irregular, historical: no schedule (runs are triggered)

Cron in UTC (the DAGs' start dates are UTC). A file that pins ``dag.schedule`` gets exactly that.
The cycle length is unchanged (the next run after any moment is less than one period away), so
the freshness monitor, which measures the time since the last update against the frequency's
thresholds, judges an offset dataset as it judged one on the preset.

Pure: no I/O, nothing read from the environment.
"""

from __future__ import annotations

import hashlib

from opendata.spec.vocab import UpdateFrequency

_MINUTES_A_DAY = 24 * 60
# Days every month has: a monthly run on the 29th-31st would skip February.
_DAYS_EVERY_MONTH = 28


def dataset_offset(dataset_id: str, slots: int) -> int:
    """A stable position in ``range(slots)`` for ``dataset_id``, the same in every process."""
    if slots <= 0:
        raise ValueError("slots must be positive")
    digest = hashlib.sha256(dataset_id.encode("utf-8")).digest()
    # 64 bits: the modulo bias over at most a year of minutes (~525,600 slots) is below 1e-13.
    return int.from_bytes(digest[:8], "big") % slots


def dataset_schedule(dataset_id: str, frequency: UpdateFrequency | str, pinned: str | None = None) -> str | None:
    """The DAG schedule of ``dataset_id``: ``pinned`` (the file's ``dag.schedule``) as written when
    given, else ``frequency`` at the dataset's own offset as a cron string (None: no schedule)."""
    if pinned:
        return pinned
    frequency = UpdateFrequency(frequency)
    if frequency is UpdateFrequency.HOURLY:
        return f"{dataset_offset(dataset_id, 60)} * * * *"
    if frequency is UpdateFrequency.DAILY:
        return f"{_time_of_day(dataset_offset(dataset_id, _MINUTES_A_DAY))} * * *"
    if frequency is UpdateFrequency.WEEKLY:
        weekday, minute = divmod(dataset_offset(dataset_id, 7 * _MINUTES_A_DAY), _MINUTES_A_DAY)
        return f"{_time_of_day(minute)} * * {weekday}"
    if frequency is UpdateFrequency.BIWEEKLY:
        day, minute = divmod(dataset_offset(dataset_id, 14 * _MINUTES_A_DAY), _MINUTES_A_DAY)
        return f"{_time_of_day(minute)} {day + 1},{day + 15} * *"
    months = _MONTHS_APART.get(frequency)
    if months is None:  # irregular and historical data promise no cycle
        return None
    month, rest = divmod(dataset_offset(dataset_id, months * _DAYS_EVERY_MONTH * _MINUTES_A_DAY),
                         _DAYS_EVERY_MONTH * _MINUTES_A_DAY)
    day, minute = divmod(rest, _MINUTES_A_DAY)
    month_list = ",".join(str(first) for first in range(month + 1, 13, months))
    return f"{_time_of_day(minute)} {day + 1} {'*' if months == 1 else month_list} *"


# The period in months of the frequencies scheduled on days of the month.
_MONTHS_APART: dict[UpdateFrequency, int] = {
    UpdateFrequency.MONTHLY: 1,
    UpdateFrequency.QUARTERLY: 3,
    UpdateFrequency.SEMIANNUALLY: 6,
    UpdateFrequency.ANNUALLY: 12,
}


def _time_of_day(minute_of_day: int) -> str:
    """Cron's first two fields for a minute of the day."""
    hour, minute = divmod(minute_of_day, 60)
    return f"{minute} {hour}"
