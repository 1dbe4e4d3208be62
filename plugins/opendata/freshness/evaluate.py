"""One monitor pass over many datasets, as data: who they are, what the portal and the
registry say, and the resulting status and findings. Pure.

The monitor's I/O (:mod:`opendata.freshness.sources`) builds :class:`MonitoredDataset` and
:class:`Observation` values; everything from here on is computed without I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opendata.freshness.crosscheck import Finding, FindingKind, cross_check
from opendata.freshness.policy import FreshnessPolicy
from opendata.freshness.status import FreshnessState, FreshnessStatus, status


@dataclass(frozen=True)
class MonitoredDataset:
    """A public dataset the monitor watches: its file's facts and its portal id."""

    dataset_id: str
    name: str
    department: str
    department_name: str
    steward_name: str
    steward_email: str
    frequency: str
    portal_id: str
    policy: FreshnessPolicy
    newest_date_column: str | None = None
    #: The newest date column is also the source's watermark: the registry's last confirmed
    #: watermark is then the newest date the portal holds.
    newest_from_watermark: bool = False

    @property
    def dag_id(self) -> str:
        # The DAG factory names each dataset's DAG after the dataset id.
        return self.dataset_id


@dataclass(frozen=True)
class Observation:
    """What the portal and the registry say about one dataset at one moment."""

    #: The portal's ``dataUpdatedAt`` (None: the portal has no data update, or no entry).
    data_updated_at: dt.datetime | None
    #: The end of the last successful pipeline run the registry recorded.
    last_success_at: dt.datetime | None = None
    #: The newest value of the file's newest_date_column at the last refresh, if recorded.
    newest_data_at: dt.datetime | None = None
    #: False when the portal's catalog had no entry for the portal id.
    on_portal: bool = True


@dataclass(frozen=True)
class Evaluation:
    dataset: MonitoredDataset
    status: FreshnessStatus
    findings: tuple[Finding, ...] = ()

    @property
    def state(self) -> FreshnessState:
        return self.status.state


def evaluate(dataset: MonitoredDataset, observation: Observation, now: dt.datetime) -> Evaluation:
    result = status(observation.data_updated_at, now, dataset.policy)
    findings = cross_check(result, dataset.policy, now, last_success_at=observation.last_success_at,
                           newest_data_at=observation.newest_data_at, newest_date_column=dataset.newest_date_column)
    if not observation.on_portal:
        findings = (Finding(FindingKind.NOT_ON_PORTAL, f"The portal's catalog has no dataset {dataset.portal_id}, "
                            f"the registry's portal id: deleted, or recorded wrongly?"), *findings)
    return Evaluation(dataset, result, findings)


def evaluate_all(datasets: Iterable[MonitoredDataset], observations: Mapping[str, Observation],
                 now: dt.datetime) -> list[Evaluation]:
    """Every dataset, in id order; a dataset without an observation counts as never updated."""
    return [evaluate(d, observations.get(d.dataset_id, Observation(None, on_portal=False)), now)
            for d in sorted(datasets, key=lambda d: d.dataset_id)]
