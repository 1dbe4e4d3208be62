"""Who is told what, this run: the reminders to departments and the Chief Data Officer's
digest, chosen from the evaluations and what was reported before. Pure.

Two channels, each with its own memory in the registry (one record per dataset and channel):

* ``department``: the steward and coordinators, one e-mail per dataset, when it becomes due
  or overdue;
* ``cdo``: the digest, one e-mail for all datasets, listing the overdue ones.

A dataset is reported on a channel when it has no record there, when its status differs from
the recorded one, or when the re-alert interval has passed since it was last reported. When a
dataset is fresh again its records are cleared, so its next lapse is news again. Irregular and
historical datasets are listed, never reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from opendata.freshness.crosscheck import FindingKind
from opendata.freshness.evaluate import Evaluation
from opendata.freshness.status import FreshnessState

#: Weekly: an overdue dataset stays in front of its department and the CDO without daily noise.
DEFAULT_REALERT = dt.timedelta(days=7)


#: Findings that are news even when the dataset is not overdue (the others explain lateness).
DISAGREEMENTS = frozenset({FindingKind.UPDATED_OUTSIDE_PIPELINE, FindingKind.CONTENT_STALE,
                           FindingKind.NOT_ON_PORTAL})


class Channel(StrEnum):
    DEPARTMENT = "department"
    CDO = "cdo"


#: The states each channel reports.
CHANNEL_STATES: dict[Channel, frozenset[FreshnessState]] = {
    Channel.DEPARTMENT: frozenset({FreshnessState.DUE, FreshnessState.OVERDUE}),
    Channel.CDO: frozenset({FreshnessState.OVERDUE}),
}


@dataclass(frozen=True)
class AlertRecord:
    """What was last reported about a dataset on a channel."""

    dataset_id: str
    channel: Channel
    state: FreshnessState
    first_alerted_at: dt.datetime
    last_alerted_at: dt.datetime


@dataclass(frozen=True)
class AlertPlan:
    #: Department reminders to send now (due or overdue, news or re-alert).
    reminders: tuple[Evaluation, ...]
    #: Overdue datasets to report in the digest now.
    digest: tuple[Evaluation, ...]
    #: Overdue datasets reported before and not yet due for a re-alert (listed in a digest that
    #: goes out anyway, never a reason to send one).
    still_overdue: tuple[Evaluation, ...]
    #: Irregular and historical datasets: listed, never alerted.
    unscheduled: tuple[Evaluation, ...]
    #: Not overdue, but a cross-check disagrees: listed in a digest that goes out anyway.
    disagreements: tuple[Evaluation, ...]
    #: Datasets whose records are to be cleared (no longer in a reported state).
    cleared: tuple[tuple[str, Channel], ...]

    @property
    def send_digest(self) -> bool:
        return bool(self.digest)

    @property
    def overdue(self) -> tuple[Evaluation, ...]:
        return self.digest + self.still_overdue


def needs_report(evaluation: Evaluation, record: AlertRecord | None, channel: Channel, now: dt.datetime,
                 realert: dt.timedelta) -> bool:
    if evaluation.state not in CHANNEL_STATES[channel]:
        return False
    if record is None or record.state is not evaluation.state:
        return True
    return now - record.last_alerted_at >= realert


def plan_alerts(evaluations: Iterable[Evaluation], records: Mapping[tuple[str, Channel], AlertRecord],
                now: dt.datetime, realert: dt.timedelta = DEFAULT_REALERT) -> AlertPlan:
    reminders, digest, still, unscheduled, disagreements, cleared = [], [], [], [], [], []
    for ev in evaluations:
        dataset_id = ev.dataset.dataset_id
        for channel in Channel:
            record = records.get((dataset_id, channel))
            if record is not None and ev.state not in CHANNEL_STATES[channel]:
                cleared.append((dataset_id, channel))
        if ev.state is FreshnessState.UNSCHEDULED:
            unscheduled.append(ev)
            continue
        if needs_report(ev, records.get((dataset_id, Channel.DEPARTMENT)), Channel.DEPARTMENT, now, realert):
            reminders.append(ev)
        if ev.state is FreshnessState.OVERDUE:
            if needs_report(ev, records.get((dataset_id, Channel.CDO)), Channel.CDO, now, realert):
                digest.append(ev)
            else:
                still.append(ev)
        elif any(f.kind in DISAGREEMENTS for f in ev.findings):
            disagreements.append(ev)
    return AlertPlan(tuple(reminders), tuple(digest), tuple(still), tuple(unscheduled), tuple(disagreements),
                     tuple(cleared))


def reported(evaluation: Evaluation, channel: Channel, records: Mapping[tuple[str, Channel], AlertRecord],
             now: dt.datetime) -> AlertRecord:
    """The record to store once ``evaluation`` was delivered on ``channel``."""
    previous = records.get((evaluation.dataset.dataset_id, channel))
    first = previous.first_alerted_at if previous is not None and previous.state is evaluation.state else now
    return AlertRecord(evaluation.dataset.dataset_id, channel, evaluation.state, first, now)
