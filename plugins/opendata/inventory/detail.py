"""A dataset's page: its run history, how punctual its refreshes were, the approvals given, its
archived versions and where its latest checklist report is.

The figures are pure functions of the registry's rows (:func:`punctuality`,
:func:`rows_over_time`, :func:`approvals`); :func:`latest_report` looks for the report the
``validate`` task kept in the store (``lifecycle.staging.report_location``: beside the run's
staged extract).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opendata import storage
from opendata.freshness.calendar import counted_time
from opendata.freshness.policy import FreshnessPolicy
from opendata.inventory.model import (
    AnsweredRequest,
    DatasetSummary,
    FileSnapshot,
    InventoryRow,
    RegistryState,
    RunSummary,
)
from opendata.lifecycle.staging import report_location
from opendata.lifecycle.tasks import SHRINK_APPROVAL_TASK_ID
from opendata.registry.store import ADOPTED_NOTE_PREFIX, PublishedVersion, StageChange
from opendata.validation.report import REPORT_NAME

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

_DAY = dt.timedelta(days=1)
_SUCCESS = "success"
_REFRESH = "refresh"
#: The notes ``Registry.record_department_approval`` / ``record_department_rejection`` write.
STEP1_APPROVED = "Step 1 approved by "
STEP1_REJECTED = "Step 1 rejected by "
#: How many of the latest runs are searched for a checklist report.
REPORT_SEARCH_RUNS = 50


@dataclass(frozen=True, slots=True)
class PunctualityPoint:
    """A successful refresh: counted days since the previous confirmed update, against the promise."""

    at: dt.datetime
    run_id: str
    gap_days: float
    #: The policy's due_after in days (None: nothing promised: irregular, historical).
    due_days: float | None
    on_time: bool | None


@dataclass(frozen=True, slots=True)
class RowsPoint:
    at: dt.datetime
    rows: int
    run_id: str


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval (or refusal) given: what, who, when, where it is recorded."""

    what: str
    by: str | None
    at: dt.datetime | None
    source: str
    notes: str | None = None
    #: ``at`` is a calendar date written in the dataset file, not an instant.
    date_only: bool = False


@dataclass
class DatasetDetail:
    """Everything the dataset page shows."""

    row: InventoryRow
    summary: DatasetSummary | None
    state: RegistryState | None
    runs: list[RunSummary] = field(default_factory=list)
    history: list[StageChange] = field(default_factory=list)
    versions: list[PublishedVersion] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    punctuality: list[PunctualityPoint] = field(default_factory=list)
    rows_over_time: list[RowsPoint] = field(default_factory=list)
    #: The latest checklist report and the run that wrote it.
    report: ObjectStoragePath | None = None
    report_run_id: str | None = None
    #: Why a part could not be read (the registry, Airflow).
    notices: list[str] = field(default_factory=list)


def _at(run: RunSummary) -> dt.datetime:
    return run.ended_at or run.started_at


def punctuality(runs: Iterable[RunSummary], policy: FreshnessPolicy | None) -> list[PunctualityPoint]:
    """Each successful refresh after an earlier successful run (the previous confirmed update):
    counted days between them (the policy's no-update days do not count) and whether that was
    within the promise's ``due_after`` (the quarterly report's rule: exactly at it is on time)."""
    successes = sorted((run for run in runs if run.outcome == _SUCCESS), key=_at)
    due = policy.due_after if policy is not None else None
    points: list[PunctualityPoint] = []
    previous: dt.datetime | None = None
    for run in successes:
        at = _at(run)
        if previous is not None and run.kind == _REFRESH:
            gap = counted_time(previous, at, policy.no_updates_on, policy.timezone) if policy is not None \
                else at - previous
            points.append(PunctualityPoint(at, run.run_id, gap / _DAY, due / _DAY if due else None,
                                           gap <= due if due else None))
        previous = at
    return points


def rows_over_time(runs: Iterable[RunSummary]) -> list[RowsPoint]:
    """The rows each successful run extracted (the size of the dataset), oldest first."""
    return sorted((RowsPoint(_at(run), run.rows_extracted, run.run_id) for run in runs
                   if run.outcome == _SUCCESS and run.rows_extracted is not None), key=lambda p: p.at)


def approvals(summary: DatasetSummary | None, history: Sequence[StageChange], answered: Sequence[AnsweredRequest],
              files: FileSnapshot) -> list[Approval]:
    """The approvals and refusals given, oldest first: Step 1 (in Airflow or on paper), the Stage 1
    review's decision, the shrink guard's answers, retirement, a level 2 classification's approval."""
    found: list[Approval] = []
    if summary is not None and summary.step1_on_paper is not None:
        paper = summary.step1_on_paper
        found.append(Approval("Step 1: department approval (given on paper)", files.person_name(paper.approved_by),
                              _midnight(paper.approved_on), "dataset file", date_only=True))
    if summary is not None and summary.classification_approval is not None:
        level2 = summary.classification_approval
        found.append(Approval("Level 2 classification approved for publication",
                              files.person_name(level2.approved_by), _midnight(level2.approved_on), "dataset file",
                              date_only=True))
    for change in history:
        notes = change.notes or ""
        if notes.startswith(ADOPTED_NOTE_PREFIX):
            # Taken over from the portal (opendata adopt): public before the pipeline knew it.
            found.append(Approval("Adopted: public on the portal before the pipeline took it over", change.by,
                                  change.at, "registry", notes))
        elif notes.startswith(STEP1_APPROVED):
            found.append(Approval("Step 1: department approval", change.by, change.at, "registry"))
        elif notes.startswith(STEP1_REJECTED):
            reason = notes.partition(": ")[2] or None
            found.append(Approval("Step 1: rejected by department leadership", change.by, change.at, "registry",
                                  reason))
        elif change.stage_from is not None and change.stage_from.value == "stage-1" \
                and change.stage_to.value in ("scheduled", "stage-2"):
            found.append(Approval("Stage 1 review: approved for publication", change.by or "a reviewer on the portal",
                                  change.at, "registry", change.notes))
        elif change.stage_from is not None and change.stage_from.value in ("stage-1", "scheduled") \
                and change.stage_to.value == "rejected":
            found.append(Approval("Stage 1 review: rejected", change.by or "a reviewer on the portal", change.at,
                                  "registry", change.notes))
        elif change.stage_to.value == "retired" and (change.stage_from is None or change.stage_from.value != "retired"):
            found.append(Approval("Retirement (refreshes stopped)", change.by, change.at, "registry", change.notes))
    for request in answered:
        if request.task_id == SHRINK_APPROVAL_TASK_ID:
            found.append(Approval(f"Shrink guard: {request.chosen or 'answered'} (run {request.run_id})", request.by,
                                  request.at, "Airflow", request.comment))
    return sorted(found, key=lambda a: a.at or dt.datetime.min.replace(tzinfo=dt.UTC))


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), dt.UTC)


def latest_report(dataset_id: str, run_ids_newest_first: Iterable[str]) -> tuple[ObjectStoragePath, str] | None:
    """The checklist report (HTML) of the latest run that wrote one, and that run's id. Only a
    regular file inside the staging root counts (locally, a link out of it does not). A remote
    store is listed once for the dataset, not asked once per run."""
    staging = storage.staging_root()
    candidates = [(run_id, storage.join(report_location(dataset_id, run_id), f"{REPORT_NAME}.html"))
                  for run_id in list(run_ids_newest_first)[:REPORT_SEARCH_RUNS]]
    if storage.is_local(staging):
        found = {run_id for run_id, where in candidates if storage.exists(where)}
    else:
        kept = storage.files_under(storage.join(staging, dataset_id))
        found = {run_id for run_id, where in candidates if where.path in kept}
    for run_id, where in candidates:
        if run_id in found and storage.is_within(where, staging):
            return (storage.resolve(storage.local_path(where).resolve()) if storage.is_local(where) else where), run_id
    return None
