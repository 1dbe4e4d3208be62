"""The status of one dataset: a pure function of (last update, now, policy), in the manner of
dbt's source freshness (error checked before warn, thresholds compared strictly).

    status(last_update, now, policy) -> FreshnessStatus

* ``fresh``: counted age <= due_after (exactly at the threshold is still fresh);
* ``due``: due_after < age <= overdue_after (the steward and coordinators are reminded);
* ``overdue``: age > overdue_after (the Chief Data Officer's digest);
* ``unscheduled``: irregular or historical data: listed with its age, never alerted.

The age is *counted* time: days named in ``no_updates_on`` do not count. A public dataset
whose data the portal has never updated is overdue (there is nothing to be fresh), without
an age. "Cycles late" is continuous: (age - one promised cycle) / cycle, so a daily dataset
last updated five days ago is 4.0 cycles late; "days late" is the same excess in days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from opendata.freshness.calendar import add_counted_time, counted_time
from opendata.freshness.policy import FreshnessPolicy

_DAY = dt.timedelta(days=1)


class FreshnessState(StrEnum):
    FRESH = "fresh"
    DUE = "due"
    OVERDUE = "overdue"
    UNSCHEDULED = "unscheduled"

    @property
    def alerting(self) -> bool:
        return self in (FreshnessState.DUE, FreshnessState.OVERDUE)


@dataclass(frozen=True)
class FreshnessStatus:
    state: FreshnessState
    last_update: dt.datetime | None
    #: Counted time since the last update (None: never updated).
    age: dt.timedelta | None
    #: When the dataset becomes (or became) due and overdue; None when unscheduled or never updated.
    due_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None
    #: Counted days past one promised cycle (0 while within it); None when unscheduled or never updated.
    days_late: float | None = None
    cycles_late: float | None = None

    @property
    def never_updated(self) -> bool:
        return self.last_update is None

    @property
    def age_days(self) -> float | None:
        return None if self.age is None else self.age / _DAY


def status(last_update: dt.datetime | None, now: dt.datetime, policy: FreshnessPolicy) -> FreshnessStatus:
    """The freshness of data last updated at ``last_update`` (the portal's ``dataUpdatedAt``)."""
    if now.tzinfo is None or (last_update is not None and last_update.tzinfo is None):
        raise ValueError("give time-zone-aware datetimes")
    if last_update is None:
        state = FreshnessState.OVERDUE if policy.monitored else FreshnessState.UNSCHEDULED
        return FreshnessStatus(state, None, None)
    # A portal clock ahead of ours must not make an age negative.
    age = counted_time(min(last_update, now), now, policy.no_updates_on, policy.timezone)
    if not policy.monitored:
        return FreshnessStatus(FreshnessState.UNSCHEDULED, last_update, age)
    assert policy.period is not None and policy.due_after is not None and policy.overdue_after is not None
    if age > policy.overdue_after:
        state = FreshnessState.OVERDUE
    elif age > policy.due_after:
        state = FreshnessState.DUE
    else:
        state = FreshnessState.FRESH
    late = max(age - policy.period, dt.timedelta(0))
    return FreshnessStatus(
        state=state,
        last_update=last_update,
        age=age,
        due_at=add_counted_time(last_update, policy.due_after, policy.no_updates_on, policy.timezone),
        overdue_at=add_counted_time(last_update, policy.overdue_after, policy.no_updates_on, policy.timezone),
        days_late=late / _DAY,
        cycles_late=late / policy.period,
    )
