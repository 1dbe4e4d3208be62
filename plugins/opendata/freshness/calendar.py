"""Time that counts: the span between two instants without the days on which nothing is
expected to happen (weekends, holidays), in the city's calendar.

Days are whole local calendar days (midnight to midnight in the given time zone, so daylight
saving changes give 23- and 25-hour days). Everything is computed in UTC internally:
aware datetimes sharing one ``ZoneInfo`` would otherwise subtract as wall-clock times.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

from opendata.spec.freshness import WEEKENDS, NoUpdateDays

_UTC = dt.UTC
_DAY = dt.timedelta(days=1)


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give a time zone")
    return value.astimezone(_UTC)


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tz).astimezone(_UTC)


def counted_time(start: dt.datetime, end: dt.datetime, skip: NoUpdateDays, timezone: str) -> dt.timedelta:
    """The part of ``[start, end)`` that does not fall on a skipped local day (0 if end <= start)."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return dt.timedelta(0)
    if not skip:
        return end - start
    tz = zone(timezone)
    total = dt.timedelta(0)
    day = start.astimezone(tz).date()
    while True:
        day_start, day_end = _midnight(day, tz), _midnight(day + _DAY, tz)
        if day not in skip:
            total += min(end, day_end) - max(start, day_start)
        if day_end >= end:
            return total
        day += _DAY


def add_counted_time(start: dt.datetime, duration: dt.timedelta, skip: NoUpdateDays, timezone: str) -> dt.datetime:
    """The instant at which ``duration`` of counted time has passed since ``start``."""
    start = _utc(start)
    if not skip or duration <= dt.timedelta(0):
        return start + max(duration, dt.timedelta(0))
    tz = zone(timezone)
    remaining = duration
    day = start.astimezone(tz).date()
    cursor = start
    # A rule that skips every day would never finish; seven weekdays cover every other rule.
    if len(skip.weekdays) >= 7:
        raise ValueError("every day is a no-update day")
    while True:
        day_end = _midnight(day + _DAY, tz)
        if day not in skip:
            available = day_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        day += _DAY
        cursor = day_end


def business_time(start: dt.datetime, end: dt.datetime, timezone: str) -> dt.timedelta:
    """Weekday time between two instants: every hour of Monday to Friday counts, weekends do not."""
    return counted_time(start, end, WEEKENDS, timezone)


def add_business_time(start: dt.datetime, duration: dt.timedelta, timezone: str) -> dt.datetime:
    """When ``duration`` of weekday time has passed since ``start`` (48 h from Friday noon: Tuesday noon)."""
    return add_counted_time(start, duration, WEEKENDS, timezone)
