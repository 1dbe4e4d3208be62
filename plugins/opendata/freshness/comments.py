"""The public comment watch: when a public dataset's ``numberOfComments`` rises, its
coordinator and the Chief Data Officer are told (playbook, Communications: "Whenever a
comment is posted, the relevant Open Data Coordinator and CDO will be notified"), and
reminded if nobody marks the comment answered within 48 business hours. Pure.

How business hours are counted: every hour of Monday to Friday in the city's time zone counts,
Saturdays and Sundays do not (no office hours, no holidays). The clock starts when the monitor
first sees the rise; 48 business hours from Friday 15:00 is Tuesday 15:00. Reminders repeat
every further 48 business hours until the comment is marked answered.

The first reading of a dataset only records its count: comments that predate the watch are
not news. A count that falls (a comment removed by moderation) is recorded, not reported.

The portal offers ``numberOfComments`` only per view (``GET /api/views/{id}.json``): no
documented bulk source carries it (the Discovery API's recorded ``resource`` keys, the Metadata
API's list of public assets and data.json have no comment count; dev.socrata.com lists no
comments API; docs/socrata-api.md section 5). So each run reads a slice of the public datasets:
never-read ones first, then the longest unread (:func:`choose_to_read`), at most a budget of
reads a run (:func:`read_budget`).

What that promises, exactly. With ``P`` public datasets and ``B`` reads a run, every dataset is
read at least once every ``ceil(P / B)`` runs (:func:`sweep_runs`), and a count only grows
while comments are added, so every new comment is noticed at the first reading after it,
within ``ceil(P / B)`` runs of being posted: its coordinator and the CDO are e-mailed then, and
the reminder is due 48 business hours after that notice, as before. At 14 reads a run (the
monitor's default, so an hourly run stays under 20 portal requests with the freshness pass's 5
Discovery requests for 1,000 datasets) and hourly runs: noticed within 72 hours for up to 1,008
public datasets (69 for 960), the reminder due at most 72 hours + 48 business hours after the
comment was posted (it was 24 hours + 48 business hours at 42 reads a run). A comment added
and another removed between two readings leave the count unchanged and go unnoticed (as they
did at any period; a longer period makes it likelier).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from opendata.freshness.calendar import add_business_time, business_time
from opendata.freshness.policy import CITY_TIMEZONE

DEFAULT_ANSWER_WITHIN = dt.timedelta(hours=48)


@dataclass(frozen=True)
class CommentWatch:
    """The watch's memory of one dataset (a registry row)."""

    dataset_id: str
    #: numberOfComments at the last reading.
    count: int
    checked_at: dt.datetime
    #: When the oldest unanswered rise was seen (None: nothing waits for an answer).
    pending_since: dt.datetime | None = None
    notified_at: dt.datetime | None = None
    reminded_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    answered_by: str | None = None

    @property
    def waiting(self) -> bool:
        return self.pending_since is not None


class CommentActionKind(StrEnum):
    RECEIVED = "received"
    REMINDER = "reminder"


@dataclass(frozen=True)
class CommentAction:
    kind: CommentActionKind
    dataset_id: str
    count: int
    #: New comments since the last reading (RECEIVED).
    new_comments: int
    pending_since: dt.datetime
    #: The state to store once the message is delivered.
    after: CommentWatch
    #: Business time waited so far (REMINDER).
    waited: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class CommentPlan:
    actions: tuple[CommentAction, ...]
    #: States to store whatever is sent (baselines, falls, unchanged readings).
    quiet: tuple[CommentWatch, ...]


def choose_to_read(candidates: Iterable[str], states: Mapping[str, CommentWatch], budget: int) -> list[str]:
    """At most ``budget`` dataset ids to read: never-read first (by id), then the longest unread."""
    never = sorted(c for c in candidates if c not in states)
    seen = sorted((c for c in candidates if c in states), key=lambda c: (states[c].checked_at, c))
    return (never + seen)[:max(budget, 0)]


def read_budget(public: int, sweep_runs: int, cap: int) -> int:
    """Readings per run so that every public dataset is read once every ``sweep_runs`` runs,
    but never more than ``cap`` (the portal requests a run may spend on comments)."""
    if public <= 0:
        return 0
    return min(cap, math.ceil(public / max(sweep_runs, 1)))


def sweep_runs(public: int, budget: int) -> int | None:
    """Runs within which every public dataset is read at least once, reading ``budget`` a run
    (the longest unread first): the bound on the runs a new comment waits to be noticed. None:
    some are never read (no budget)."""
    if public <= 0:
        return 0
    if budget <= 0:
        return None
    return math.ceil(public / budget)


def plan_comments(states: Mapping[str, CommentWatch], observed: Mapping[str, int], now: dt.datetime, *,
                  answer_within: dt.timedelta = DEFAULT_ANSWER_WITHIN,
                  timezone: str = CITY_TIMEZONE) -> CommentPlan:
    """Messages to send and states to store, from the previous states and this run's readings."""
    actions: list[CommentAction] = []
    quiet: list[CommentWatch] = []
    for dataset_id in sorted(set(states) | set(observed)):
        state = states.get(dataset_id)
        count = observed.get(dataset_id)
        if state is None:
            # Never watched, so read this run: a baseline, not news.
            quiet.append(CommentWatch(dataset_id, observed[dataset_id], now))
            continue
        if count is not None and count > state.count:
            pending_since = state.pending_since or now
            after = dataclasses.replace(state, count=count, checked_at=now, pending_since=pending_since,
                                        notified_at=now, answered_at=None, answered_by=None,
                                        reminded_at=state.reminded_at if state.pending_since else None)
            actions.append(CommentAction(CommentActionKind.RECEIVED, dataset_id, count, count - state.count,
                                         pending_since, after=after))
            continue
        read = dataclasses.replace(state, count=count, checked_at=now) if count is not None else state
        reminder = _reminder(read, now, answer_within, timezone)
        if reminder is not None:
            actions.append(reminder)
        elif count is not None:
            quiet.append(read)
    return CommentPlan(tuple(actions), tuple(quiet))


def _reminder(state: CommentWatch, now: dt.datetime, answer_within: dt.timedelta,
              timezone: str) -> CommentAction | None:
    if state.pending_since is None:
        return None
    clock_from = max(state.pending_since, state.reminded_at or state.pending_since)
    if now < add_business_time(clock_from, answer_within, timezone):
        return None
    return CommentAction(CommentActionKind.REMINDER, state.dataset_id, state.count, 0, state.pending_since,
                         waited=business_time(state.pending_since, now, timezone),
                         after=dataclasses.replace(state, reminded_at=now))


def answer_deadline(state: CommentWatch, answer_within: dt.timedelta = DEFAULT_ANSWER_WITHIN,
                    timezone: str = CITY_TIMEZONE) -> dt.datetime | None:
    """When the first reminder is (or was) due."""
    if state.pending_since is None:
        return None
    return add_business_time(state.pending_since, answer_within, timezone)


def mark_answered(state: CommentWatch, now: dt.datetime, by: str | None) -> CommentWatch:
    """Nothing waits any more; the next rise starts a new clock."""
    return dataclasses.replace(state, pending_since=None, reminded_at=None, answered_at=now, answered_by=by)
