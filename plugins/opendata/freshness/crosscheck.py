"""Cross-checks of the portal's ``dataUpdatedAt`` against what the pipeline knows. Pure.

The status comes from the portal alone (what the public sees). These checks say *why* a
dataset is late, or flag a dataset whose timestamps look fine but disagree with the registry
or with the data's own dates:

* ``pipeline_not_succeeding``: due or overdue, and no successful pipeline run since the
  portal's last update: the DAG is failing or not running. Look at its runs.
* ``source_unchanged``: due or overdue, but the pipeline did succeed after the last update:
  refreshes send only changed rows, so the source itself has had nothing new. Ask the
  department's source system.
* ``updated_outside_pipeline``: the portal's data changed more than a day after the last
  successful run the registry knows of (a manual upload, another tool).
* ``not_on_portal``: the registry's portal id is not in the portal's catalog (deleted, or the
  registry is wrong): the dataset counts as never updated.
* ``content_stale``: the newest value of the file's ``newest_date_column`` recorded at the last
  refresh is older than the overdue threshold: the data is reloaded but holds nothing recent.

None of these changes the status or sends a message by itself: they are shown next to the
dataset in the reminder and the digest (and the digest lists fresh datasets with findings
under "checks that disagree" whenever it is sent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from opendata.freshness.calendar import counted_time, zone
from opendata.freshness.policy import FreshnessPolicy
from opendata.freshness.status import FreshnessStatus

#: The pipeline records success at the end of a run, after the portal took the rows; a portal
#: update this much later than the last success is not the pipeline's.
OUTSIDE_TOLERANCE = dt.timedelta(days=1)


class FindingKind(StrEnum):
    PIPELINE_NOT_SUCCEEDING = "pipeline_not_succeeding"
    SOURCE_UNCHANGED = "source_unchanged"
    UPDATED_OUTSIDE_PIPELINE = "updated_outside_pipeline"
    CONTENT_STALE = "content_stale"
    NOT_ON_PORTAL = "not_on_portal"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    message: str


def _day(value: dt.datetime, timezone: str) -> str:
    return value.astimezone(zone(timezone)).strftime("%Y-%m-%d")


def cross_check(status: FreshnessStatus, policy: FreshnessPolicy, now: dt.datetime, *,
                last_success_at: dt.datetime | None, newest_data_at: dt.datetime | None = None,
                newest_date_column: str | None = None) -> tuple[Finding, ...]:
    """Findings for one dataset (see the module docstring); empty when everything agrees."""
    tz = policy.timezone
    findings: list[Finding] = []
    last_update = status.last_update
    if status.state.alerting:
        if last_success_at is None:
            findings.append(Finding(FindingKind.PIPELINE_NOT_SUCCEEDING,
                                    "The registry has no successful run of this dataset's pipeline."))
        elif last_update is None or last_success_at <= last_update:
            findings.append(Finding(FindingKind.PIPELINE_NOT_SUCCEEDING,
                                    f"No successful pipeline run since {_day(last_success_at, tz)}: check the "
                                    f"DAG's failed or missing runs."))
        else:
            findings.append(Finding(FindingKind.SOURCE_UNCHANGED,
                                    f"The pipeline last succeeded on {_day(last_success_at, tz)} without changing "
                                    f"the data: the source has had no new or changed records since "
                                    f"{_day(last_update, tz)}."))
    if last_update is not None and (last_success_at is None or last_update > last_success_at + OUTSIDE_TOLERANCE):
        since = f"its last successful run ({_day(last_success_at, tz)})" if last_success_at else "any successful run"
        findings.append(Finding(FindingKind.UPDATED_OUTSIDE_PIPELINE,
                                f"The portal's data changed on {_day(last_update, tz)}, after {since}: "
                                f"updated outside the pipeline?"))
    if newest_data_at is not None and policy.monitored and policy.overdue_after is not None:
        lag = counted_time(newest_data_at, now, policy.no_updates_on, tz)
        if lag > policy.overdue_after:
            column = newest_date_column or "the newest date column"
            findings.append(Finding(FindingKind.CONTENT_STALE,
                                    f"The newest {column} in the data is {_day(newest_data_at, tz)}, older than "
                                    f"the overdue threshold: refreshed, but nothing recent in it."))
    return tuple(findings)
