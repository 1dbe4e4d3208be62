"""The freshness policy: what each promised update frequency means in days, per dataset.

Each frequency maps to a nominal cycle (for "cycles late") and two thresholds in dbt's
shape: ``due_after`` (warn: the steward and coordinators are reminded) and ``overdue_after``
(error: the Chief Data Officer's digest). The defaults follow DataSF's portal monitor
(daily 2/4 days, weekly 7/21, monthly 32/90, quarterly 90/270, annually 365/500); the values
DataSF has no row for follow the same pattern: a grace day past one cycle, overdue after about
three cycles (biweekly, semiannually, a whole year missing), and hours for hourly data.
Irregular and historical data promise nothing: they are listed, never alerted.

The table itself is data of the dataset-file schema (``spec/freshness.py``: the loader checks a
file's overrides against it); this module turns it into a policy per dataset.

A dataset file's ``freshness:`` section overrides the thresholds and names days on which no
update is expected (they do not count towards the dataset's age).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opendata.spec.freshness import POLICY_TABLE, NoUpdateDays
from opendata.spec.vocab import UpdateFrequency

if TYPE_CHECKING:
    from opendata.spec.dataset import DatasetSpec

#: The city's time zone: calendar days (weekends, holidays) start at its midnight.
CITY_TIMEZONE = "America/Los_Angeles"

NO_SKIPPED_DAYS = NoUpdateDays()

@dataclass(frozen=True)
class FreshnessPolicy:
    """Everything the status function needs to judge one dataset; no I/O behind it."""

    frequency: UpdateFrequency
    #: The promised cycle; None when nothing is promised.
    period: dt.timedelta | None
    due_after: dt.timedelta | None
    overdue_after: dt.timedelta | None
    no_updates_on: NoUpdateDays = NO_SKIPPED_DAYS
    timezone: str = CITY_TIMEZONE

    def __post_init__(self) -> None:
        given = {self.period is None, self.due_after is None, self.overdue_after is None}
        if len(given) > 1:
            raise ValueError("period, due_after and overdue_after are given together or not at all")
        if (self.due_after is not None and self.overdue_after is not None
                and not dt.timedelta(0) < self.due_after < self.overdue_after):
            raise ValueError("need 0 < due_after < overdue_after")

    @property
    def monitored(self) -> bool:
        """False for irregular and historical data: listed, never alerted."""
        return self.due_after is not None

    @classmethod
    def for_frequency(cls, frequency: UpdateFrequency | str, *, due_after: dt.timedelta | None = None,
                      overdue_after: dt.timedelta | None = None, no_updates_on: NoUpdateDays = NO_SKIPPED_DAYS,
                      timezone: str = CITY_TIMEZONE) -> FreshnessPolicy:
        """The table's row for ``frequency``, with optional overrides."""
        frequency = UpdateFrequency(frequency)
        row = POLICY_TABLE.get(frequency)
        if row is None:
            return cls(frequency, None, None, None, no_updates_on, timezone)
        return cls(frequency, row.period, due_after or row.due_after, overdue_after or row.overdue_after,
                   no_updates_on, timezone)


def policy_for(spec: DatasetSpec, timezone: str = CITY_TIMEZONE) -> FreshnessPolicy:
    """A dataset's policy: its promised frequency, with the file's ``freshness:`` overrides."""
    section = spec.freshness
    return FreshnessPolicy.for_frequency(
        spec.update_frequency,
        due_after=section.due_after.timedelta if section.due_after else None,
        overdue_after=section.overdue_after.timedelta if section.overdue_after else None,
        no_updates_on=section.no_update_days,
        timezone=timezone,
    )
