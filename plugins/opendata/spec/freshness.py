"""The dataset file's optional ``freshness:`` section: how the freshness monitor judges this
dataset when the defaults for its ``update_frequency`` do not fit.

    freshness:
      due_after: {count: 3, period: day}        # default from update_frequency (daily: 2 days)
      overdue_after: {count: 7, period: day}    # default from update_frequency (daily: 4 days)
      no_updates_on: [weekends, 2026-11-26, 12-25]
      newest_date_column: created_date

* ``due_after`` / ``overdue_after``: dbt's ``{count, period}`` shape (period: minute, hour or
  day). Past ``due_after`` the steward and coordinators get a reminder; past ``overdue_after``
  the dataset is in the Chief Data Officer's digest. Both compare strictly: exactly at the
  threshold is still the earlier state.
* ``no_updates_on``: days on which nobody is expected to update the data. They do not count
  towards the dataset's age. Weekday names (``saturday`` or ``sat``), ``weekends``, dates
  (``2026-11-26``, a one-off holiday) and yearly dates (``12-25``, month-day).
* ``newest_date_column``: a date column of the data dictionary holding each record's own date
  (created, inspected, issued). The monitor compares the newest value recorded at the last
  refresh with the portal's update time, so a dataset that is reloaded with old data does not
  pass for fresh.

The thresholds and the date column are checked against the update frequency and the data
dictionary by the loader, with "did you mean" hints.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, field_validator, model_validator

from opendata.spec.base import StrictModel
from opendata.spec.vocab import UpdateFrequency

if TYPE_CHECKING:
    from opendata.spec.errors import Problem


class Period(StrEnum):
    """dbt's freshness periods."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


class Threshold(StrictModel):
    """``{count: 3, period: day}``: a span of time, as dbt writes ``warn_after``/``error_after``."""

    count: Annotated[int, Field(gt=0, le=100_000)]
    period: Period

    @property
    def timedelta(self) -> dt.timedelta:
        return dt.timedelta(**{f"{self.period.value}s": self.count})

    def __str__(self) -> str:
        return f"{self.count} {self.period.value}{'' if self.count == 1 else 's'}"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ABBREVIATIONS = {name[:3]: i for i, name in enumerate(WEEKDAYS)}
_WORDS = {**{name: (i,) for i, name in enumerate(WEEKDAYS)}, **{k: (i,) for k, i in _ABBREVIATIONS.items()},
          "weekends": (5, 6)}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class NoUpdateDays:
    """Parsed ``no_updates_on``: weekdays (Monday = 0), single dates and yearly (month, day)."""

    weekdays: frozenset[int] = frozenset()
    dates: frozenset[dt.date] = frozenset()
    yearly: frozenset[tuple[int, int]] = frozenset()

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, dt.date):
            return False
        return day.weekday() in self.weekdays or day in self.dates or (day.month, day.day) in self.yearly

    def __bool__(self) -> bool:
        return bool(self.weekdays or self.dates or self.yearly)

    def __or__(self, other: NoUpdateDays) -> NoUpdateDays:
        return NoUpdateDays(self.weekdays | other.weekdays, self.dates | other.dates, self.yearly | other.yearly)


WEEKENDS = NoUpdateDays(weekdays=frozenset({5, 6}))


def parse_no_update_day(value: str) -> NoUpdateDays:
    """One ``no_updates_on`` entry; raises ValueError with the accepted forms (and a hint)."""
    text = value.strip().lower()
    if text in _WORDS:
        return NoUpdateDays(weekdays=frozenset(_WORDS[text]))
    if _DATE.fullmatch(text):
        try:
            return NoUpdateDays(dates=frozenset({dt.date.fromisoformat(text)}))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid date: {exc}") from None
    yearly = _YEARLY.fullmatch(text)
    if yearly:
        month, day = int(yearly[1]), int(yearly[2])
        try:
            dt.date(2000, month, day)  # a leap year, so 02-29 is accepted
        except ValueError:
            raise ValueError(f"{value!r} is not a valid month-day") from None
        return NoUpdateDays(yearly=frozenset({(month, day)}))
    message = (f"{value!r} is not a weekday (saturday or sat), 'weekends', a date (2026-11-26) "
               f"or a yearly date (12-25)")
    close = difflib.get_close_matches(text, list(_WORDS), n=1, cutoff=0.6)
    # The loader prints hints as " (did you mean 'x'?)"; a validator can only give a message.
    raise ValueError(message + (f" (did you mean '{close[0]}'?)" if close else ""))


class FreshnessSection(StrictModel):
    """Per-dataset overrides of the freshness policy (see the module docstring)."""

    due_after: Threshold | None = None
    overdue_after: Threshold | None = None
    no_updates_on: list[str] = Field(default_factory=list)
    newest_date_column: str | None = None

    @field_validator("no_updates_on")
    @classmethod
    def _known_days(cls, values: list[str]) -> list[str]:
        for value in values:
            parse_no_update_day(str(value))
        return [str(value).strip().lower() for value in values]

    @model_validator(mode="after")
    def _in_order(self) -> FreshnessSection:
        if self.due_after and self.overdue_after and self.overdue_after.timedelta <= self.due_after.timedelta:
            raise ValueError(f"overdue_after ({self.overdue_after}) must be longer than due_after ({self.due_after})")
        return self

    @property
    def no_update_days(self) -> NoUpdateDays:
        days = NoUpdateDays()
        for value in self.no_updates_on:
            days = days | parse_no_update_day(value)
        return days


# The freshness policy table: what each promised update frequency means, in dbt's shape
# (``due_after`` warns the department, ``overdue_after`` reaches the CDO's digest). It is data
# of the schema: the loader checks a file's overrides against it, and the monitor's policy
# (``freshness/policy.py``, which explains the values) is built from it.
_H = dt.timedelta(hours=1)
_D = dt.timedelta(days=1)


@dataclass(frozen=True)
class PolicyDefaults:
    period: dt.timedelta
    due_after: dt.timedelta
    overdue_after: dt.timedelta


#: frequency -> (nominal cycle, due after, overdue after). Irregular and historical: none.
POLICY_TABLE: dict[UpdateFrequency, PolicyDefaults] = {
    UpdateFrequency.HOURLY: PolicyDefaults(1 * _H, 6 * _H, 24 * _H),
    UpdateFrequency.DAILY: PolicyDefaults(1 * _D, 2 * _D, 4 * _D),
    UpdateFrequency.WEEKLY: PolicyDefaults(7 * _D, 7 * _D, 21 * _D),
    UpdateFrequency.BIWEEKLY: PolicyDefaults(14 * _D, 15 * _D, 42 * _D),
    UpdateFrequency.MONTHLY: PolicyDefaults(30 * _D, 32 * _D, 90 * _D),
    UpdateFrequency.QUARTERLY: PolicyDefaults(90 * _D, 90 * _D, 270 * _D),
    UpdateFrequency.SEMIANNUALLY: PolicyDefaults(182 * _D, 183 * _D, 365 * _D),
    UpdateFrequency.ANNUALLY: PolicyDefaults(365 * _D, 365 * _D, 500 * _D),
}


def default_thresholds(frequency: UpdateFrequency) -> tuple[dt.timedelta, dt.timedelta] | None:
    """``(due_after, overdue_after)`` for a frequency; None for irregular and historical data."""
    row = POLICY_TABLE.get(UpdateFrequency(frequency))
    return (row.due_after, row.overdue_after) if row else None


def freshness_problems(section: FreshnessSection, frequency: UpdateFrequency) -> list[Problem]:
    """The section's thresholds against the promised update frequency (for the loader; its
    newest_date_column is checked with the other column names, in spec/file_checks.py)."""
    problems: list[Problem] = []
    defaults = default_thresholds(frequency)
    due, overdue = section.due_after, section.overdue_after
    given = [key for key, value in (("due_after", due), ("overdue_after", overdue)) if value is not None]
    if defaults is None:
        for key in given:
            problems.append((("freshness", key), f"update_frequency is {frequency.value}: the monitor "
                             f"lists this dataset but never alerts, so thresholds do not apply; remove {key} or "
                             f"promise an update frequency", None))
    elif due is not None and overdue is None and due.timedelta >= defaults[1]:
        problems.append((("freshness", "due_after"), f"must be shorter than overdue_after ({_days(defaults[1])}, the "
                         f"{frequency.value} default); give overdue_after too", None))
    elif overdue is not None and due is None and overdue.timedelta <= defaults[0]:
        problems.append((("freshness", "overdue_after"), f"must be longer than due_after ({_days(defaults[0])}, the "
                         f"{frequency.value} default); give due_after too", None))
    return problems


def _days(value: dt.timedelta) -> str:
    days = value.total_seconds() / 86400
    shown = f"{days:.2f}".rstrip("0").rstrip(".")
    return f"{shown} day" if shown == "1" else f"{shown} days"
