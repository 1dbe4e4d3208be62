"""The inventory's types: what each read returns, and the rows the view shows.

Inputs (one per source, each read in bulk):

* :class:`DatasetSummary` per dataset file (``files``): the few checklist fields the view shows;
* :class:`RegistryFacts` (``registry``): stage, approvals, the latest run, the last confirmed
  update, unanswered public comments;
* :class:`AirflowFacts` (``airflow``): the next scheduled run, the latest DAG run, the tasks
  waiting for a person.

Output: an :class:`InventoryRow` per dataset (``build``) and a :class:`TimelineEntry` per
dataset not yet public or only planned (``timeline``). Every text in them comes from a
dataset file, the governance file or a person (a rejection reason): the view escapes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from opendata.catalog.quarterly import PlannedEntry
from opendata.freshness.policy import FreshnessPolicy
from opendata.spec.governance import Governance

#: The stage of a dataset that only a plan names (no dataset file, nothing in the registry yet).
PLANNED = "planned"
#: The stage of a dataset file the registry has no row for: nothing has happened on the portal.
NOT_READY = "not-ready"

#: The stage of a dataset file while the registry cannot be read (not "not-ready": nobody knows).
UNKNOWN = "unknown"

#: Stages in the order of the playbook's workflow (for sorting and the stage filter).
STAGE_ORDER: tuple[str, ...] = (PLANNED, NOT_READY, "rejected", "stage-1", "scheduled", "stage-2", "refreshing",
                                "retired", UNKNOWN)


class Freshness(StrEnum):
    """The freshness column: the monitor's states, and ``not-public`` for what is not judged."""

    FRESH = "fresh"
    DUE = "due"
    OVERDUE = "overdue"
    UNSCHEDULED = "unscheduled"
    NOT_PUBLIC = "not-public"


class WaitKind(StrEnum):
    """What a dataset waits on a person for."""

    STEP1 = "step1"              # department leadership: the Step 1 approval (Airflow Required Actions)
    SHRINK = "shrink"            # leadership or a coordinator: a refresh that would delete too much
    CDO_REVIEW = "cdo-review"    # the Chief Data Officer: the Stage 1 review on the portal
    RESUBMIT = "resubmit"        # the coordinator: fix what was refused, then trigger {"resubmit": true}
    COMMENTS = "comments"        # coordinators and the CDO: public comments not marked answered


# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedApprovalSummary:
    """An approval written into the dataset file (Step 1 on paper, a level 2 classification)."""

    approved_by: str  # a person key of governance.yaml
    approved_on: dt.date


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    """What the view shows of one valid dataset file."""

    dataset_id: str
    department: str
    name: str
    steward_name: str
    steward_email: str
    coordinator: str  # a person key of governance.yaml
    classification: str  # "public", "protected", "sensitive"
    classification_level: int
    update_frequency: str
    schedule: str | None
    #: The freshness policy (None: the file's thresholds are invalid; nothing is judged).
    policy: FreshnessPolicy | None
    #: Step 1 given on paper (the DAG skips its approval task).
    step1_on_paper: RecordedApprovalSummary | None = None
    #: The recorded approval a level 2 classification needs.
    classification_approval: RecordedApprovalSummary | None = None
    #: Step 3: the planned go-live (never public before it).
    not_before: dt.datetime | None = None
    #: The file, under the include folder's ``datasets/``.
    path: str = ""

    @property
    def classification_label(self) -> str:
        return f"{self.classification}, level {self.classification_level}"


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A dataset file the view skipped (``opendata lint`` says why, line by line)."""

    path: str
    reason: str


@dataclass(frozen=True)
class FileSnapshot:
    """The dataset files as the view reads them: the governance file and every valid file."""

    governance: Governance
    summaries: Mapping[str, DatasetSummary]
    problems: tuple[FileProblem, ...] = ()
    #: The planned files (``status: planned``): on the timeline with their target date, no DAG.
    planned: tuple[PlannedEntry, ...] = ()

    def department_name(self, code: str) -> str:
        department = self.governance.departments.get(code)
        return department.name if department else code

    def person_name(self, key: str) -> str:
        person = self.governance.people.get(key)
        return person.name if person else key


@dataclass(frozen=True, slots=True)
class RegistryState:
    """The registry's row of one dataset (``opendata_dataset_state``), the columns the view reads."""

    stage: str
    portal_id: str | None = None
    department_approved_by: str | None = None
    department_approved_at: dt.datetime | None = None
    department_approval_source: str | None = None
    department_rejected_by: str | None = None
    department_rejected_at: dt.datetime | None = None
    department_rejection_reason: str | None = None
    submitted_at: dt.datetime | None = None
    review_state: str | None = None
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    review_notes: str | None = None
    public_at: dt.datetime | None = None
    last_refresh_at: dt.datetime | None = None
    published_rows: int | None = None
    held_revision: int | None = None
    retired_reason: str | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One row of the registry's run log."""

    run_id: str
    kind: str | None
    outcome: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    rows_extracted: int | None = None
    rows_created: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CommentWait:
    """The comment watch's row of a dataset whose public comments are not marked answered."""

    pending_since: dt.datetime
    comment_count: int
    notified_at: dt.datetime | None = None
    reminded_at: dt.datetime | None = None


@dataclass
class RegistryFacts:
    """What the registry's bulk reads returned, per dataset id."""

    states: dict[str, RegistryState] = field(default_factory=dict)
    latest_runs: dict[str, RunSummary] = field(default_factory=dict)
    #: The end of the last successful run (or the last confirmed refresh, if later).
    last_updates: dict[str, dt.datetime] = field(default_factory=dict)
    comments: dict[str, CommentWait] = field(default_factory=dict)
    #: Why the registry could not be read (the view still shows the files and Airflow).
    unavailable: str | None = None


@dataclass(frozen=True, slots=True)
class DagFacts:
    """Airflow's row of a dataset's DAG (``dag``)."""

    is_paused: bool
    is_stale: bool
    #: When the scheduler creates the next run (``next_dagrun_create_after``).
    next_run_at: dt.datetime | None = None
    #: The next run's logical date (``next_dagrun``).
    next_logical_date: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class DagRunFacts:
    """A DAG's latest run (``dag_run``)."""

    run_id: str
    state: str | None
    run_after: dt.datetime | None = None
    start_date: dt.datetime | None = None
    end_date: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class HumanTask:
    """A task instance waiting for a person (a human-in-the-loop task, or the review sensor)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str
    #: Since when it waits (the HITL request's creation, else the task's start).
    since: dt.datetime | None = None
    #: The assigned people's names (the HITL request's ``assignees``).
    assignees: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnsweredRequest:
    """A human-in-the-loop request someone answered (Step 1, the shrink guard): who, when, what."""

    run_id: str
    task_id: str
    at: dt.datetime | None
    by: str | None
    chosen: str
    #: The comment (Step 1) or reason (shrink guard) written in the form.
    comment: str | None = None


@dataclass
class AirflowFacts:
    dags: dict[str, DagFacts] = field(default_factory=dict)
    latest_runs: dict[str, DagRunFacts] = field(default_factory=dict)
    human_tasks: dict[str, list[HumanTask]] = field(default_factory=dict)
    #: Why Airflow's database could not be read.
    unavailable: str | None = None


# --- output --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitingItem:
    """Something a person must do for the dataset to move on."""

    kind: WaitKind
    label: str
    #: Whom it waits on (people's names; a role when the governance file names nobody).
    waiting_on: tuple[str, ...]
    since: dt.datetime | None = None
    #: Where to do it: Airflow's Required Actions page, the DAG, or the dataset on the portal.
    href: str | None = None
    #: True when ``href`` leaves Airflow (the portal).
    external: bool = False
    #: More words: the reason of a rejection, the reviewer's notes, the request's subject.
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class FreshnessView:
    """The freshness column of a row."""

    state: Freshness
    last_update: dt.datetime | None = None
    age_days: float | None = None
    days_late: float | None = None
    cycles_late: float | None = None
    due_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None

    @property
    def severity(self) -> int:
        """For sorting: overdue first, then due, fresh, unscheduled, not public."""
        return {Freshness.OVERDUE: 0, Freshness.DUE: 1, Freshness.FRESH: 2, Freshness.UNSCHEDULED: 3,
                Freshness.NOT_PUBLIC: 4}[self.state]


@dataclass(frozen=True, slots=True)
class LastRun:
    """A dataset's last run: Airflow's state, and the registry's counts of that run."""

    run_id: str
    state: str
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    kind: str | None = None
    rows_created: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One dataset (file, registry entry or plan) as the inventory shows it."""

    dataset_id: str
    name: str
    department: str
    department_name: str
    stage: str
    steward_name: str = ""
    steward_email: str = ""
    coordinator_name: str = ""
    classification: str = ""
    update_frequency: str = ""
    freshness: FreshnessView = FreshnessView(Freshness.NOT_PUBLIC)
    #: The next scheduled run (None: not scheduled, paused, or no DAG).
    next_run_at: dt.datetime | None = None
    #: active, paused, no-dag (not parsed yet, or a plan), stale (its file is gone from Airflow).
    dag_state: str = "no-dag"
    last_run: LastRun | None = None
    waiting: tuple[WaitingItem, ...] = ()
    portal_id: str | None = None
    portal_url: str | None = None
    dag_url: str | None = None
    #: The target date of a plan for this dataset.
    target_date: dt.date | None = None
    not_before: dt.datetime | None = None
    #: False for a registry entry or a plan without a (valid) dataset file.
    has_file: bool = True

    @property
    def is_public(self) -> bool:
        return self.stage in ("stage-2", "refreshing")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One dataset on its way to publication: planned, or in the workflow and not yet public."""

    dataset_id: str
    name: str
    department: str
    department_name: str
    stage: str
    #: The date it should be public: the plan's target date, else the file's not_before.
    target_date: dt.date | None
    #: "plan", "not_before" or None.
    target_source: str | None
    overdue_target: bool
    next_step: str
    waiting: tuple[WaitingItem, ...] = ()
    has_file: bool = True
