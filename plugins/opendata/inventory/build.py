"""The inventory's rows from the three reads (pure: no I/O, the clock is an argument).

One :class:`InventoryRow` per dataset a valid file, the registry or a plan names:

==========================  ============================================================================
column                      from
==========================  ============================================================================
department, dataset,        the dataset file (the governance file for the department's and people's
steward, classification,    names)
update frequency
stage                       the registry (``opendata_dataset_state.stage``); ``not-ready`` for a file the
                            registry has no row for (``unknown`` while it cannot be read); ``planned`` for
                            a plan without a file
last successful refresh     the registry: the later of the last successful run's end and
                            ``last_refresh_at`` (what the quarterly report judges; the hourly monitor
                            reads the portal's ``dataUpdatedAt`` instead, the view never calls the portal)
freshness                   ``freshness.status.status`` of that instant against the file's policy
                            (``freshness.policy``), for public datasets (stage-2, refreshing) only
next scheduled run          Airflow's ``dag.next_dagrun_create_after`` (none while paused)
last run                    Airflow's latest ``dag_run`` (its state), with the registry's rows created,
                            updated and deleted of the same run (the registry's latest run when Airflow
                            has none)
waits on                    :func:`waiting_on`
portal link                 the registry's portal id and the portal connection's domain
==========================  ============================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from opendata.catalog.quarterly import NO_FILE_DEPARTMENT, PlannedEntry
from opendata.freshness.policy import FreshnessPolicy
from opendata.freshness.status import FreshnessState, status
from opendata.inventory.links import Links
from opendata.inventory.model import (
    NOT_READY,
    PLANNED,
    UNKNOWN,
    AirflowFacts,
    CommentWait,
    DagFacts,
    DagRunFacts,
    DatasetSummary,
    FileSnapshot,
    Freshness,
    FreshnessView,
    HumanTask,
    InventoryRow,
    LastRun,
    RegistryFacts,
    RegistryState,
    RunSummary,
    WaitingItem,
    WaitKind,
)
from opendata.lifecycle.tasks import AWAIT_APPROVAL_TASK_ID, SHRINK_APPROVAL_TASK_ID, STEP1_TASK_ID

_PUBLIC = ("stage-2", "refreshing")
_STATES = {FreshnessState.FRESH: Freshness.FRESH, FreshnessState.DUE: Freshness.DUE,
           FreshnessState.OVERDUE: Freshness.OVERDUE, FreshnessState.UNSCHEDULED: Freshness.UNSCHEDULED}
_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def freshness_of(stage: str, policy: FreshnessPolicy | None, last_update: dt.datetime | None,
                 now: dt.datetime) -> FreshnessView:
    """The freshness of a dataset at ``now``: judged for public datasets only (a dataset not yet
    public, or retired, promises nothing yet or any more); without a valid policy, unscheduled."""
    if stage not in _PUBLIC:
        return FreshnessView(Freshness.NOT_PUBLIC, last_update=last_update)
    if policy is None:
        return FreshnessView(Freshness.UNSCHEDULED, last_update=last_update)
    judged = status(last_update, now, policy)
    return FreshnessView(_STATES[judged.state], last_update=judged.last_update, age_days=judged.age_days,
                         days_late=judged.days_late, cycles_late=judged.cycles_late, due_at=judged.due_at,
                         overdue_at=judged.overdue_at)


def last_run_of(airflow_run: DagRunFacts | None, registry_run: RunSummary | None) -> LastRun | None:
    """Airflow's latest run with the registry's counts of the same run; the registry's latest run
    when Airflow has none (its database cleaned up), with the registry's outcome as its state."""
    if airflow_run is not None:
        same = registry_run if registry_run is not None and registry_run.run_id == airflow_run.run_id else None
        return LastRun(run_id=airflow_run.run_id, state=airflow_run.state or "unknown",
                       started_at=airflow_run.start_date or airflow_run.run_after, ended_at=airflow_run.end_date,
                       kind=same.kind if same else None, rows_created=same.rows_created if same else None,
                       rows_updated=same.rows_updated if same else None,
                       rows_deleted=same.rows_deleted if same else None, error=same.error if same else None)
    if registry_run is not None:
        return LastRun(run_id=registry_run.run_id, state=registry_run.outcome, started_at=registry_run.started_at,
                       ended_at=registry_run.ended_at, kind=registry_run.kind,
                       rows_created=registry_run.rows_created, rows_updated=registry_run.rows_updated,
                       rows_deleted=registry_run.rows_deleted, error=registry_run.error)
    return None


def _people(files: FileSnapshot, keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(files.person_name(key) for key in keys))


def waiting_on(dataset_id: str, department: str, summary: DatasetSummary | None, state: RegistryState | None,
               tasks: Sequence[HumanTask], comments: CommentWait | None, files: FileSnapshot,
               links: Links) -> tuple[WaitingItem, ...]:
    """What waits on a person, oldest first:

    * ``step1``: the Step 1 task waits in Airflow for department leadership (its assignees), a
      link to its Required Actions;
    * ``shrink``: the shrink guard waits for leadership or a coordinator, the same way;
    * ``cdo-review``: the registry has the dataset in Stage 1: the Chief Data Officer reviews it
      on the portal (a link to the dataset there, else to the waiting sensor in Airflow);
    * ``resubmit``: the dataset was rejected (at Step 1 or in the review): its coordinator fixes
      what was refused and triggers the DAG with ``{"resubmit": true}`` (a link to the DAG);
    * ``comments``: public comments not marked answered (the comment watch): the coordinator
      answers them on the portal (the CDO is told too).
    """
    governance = files.governance
    unit = governance.departments.get(department)
    leadership = _people(files, unit.leadership) if unit else ()
    coordinators = (_people(files, [summary.coordinator]) if summary else ()) or \
        (_people(files, unit.coordinators) if unit else ())
    cdo = _people(files, [governance.chief_data_officer])
    items: list[WaitingItem] = []
    sensor: HumanTask | None = None
    for task in tasks:
        if task.task_id == STEP1_TASK_ID:
            items.append(WaitingItem(WaitKind.STEP1, "Step 1: department approval", task.assignees or leadership,
                                     task.since, links.required_actions(dataset_id, task.run_id, task.task_id,
                                                                        task.map_index)))
        elif task.task_id == SHRINK_APPROVAL_TASK_ID:
            items.append(WaitingItem(WaitKind.SHRINK, "Approve a refresh that deletes rows (shrink guard)",
                                     task.assignees or tuple(dict.fromkeys(leadership + coordinators)), task.since,
                                     links.required_actions(dataset_id, task.run_id, task.task_id, task.map_index)))
        elif task.task_id == AWAIT_APPROVAL_TASK_ID:
            sensor = task
    stage = state.stage if state else None
    if state is not None and stage == "stage-1":
        portal = links.portal_dataset(state.portal_id)
        href = portal or (links.task(dataset_id, sensor.run_id, sensor.task_id) if sensor else None)
        items.append(WaitingItem(WaitKind.CDO_REVIEW, "Stage 1 review by the Chief Data Officer", cdo,
                                 state.submitted_at, href, external=portal is not None))
    elif state is not None and stage == "rejected":
        if state.department_rejected_by:
            detail = f"Step 1 rejected by {state.department_rejected_by}: " \
                     f"{state.department_rejection_reason or 'no reason given'}"
            since = state.department_rejected_at
        else:
            detail = "Rejected in the Stage 1 review" + (f": {state.review_notes}" if state.review_notes else "")
            since = state.reviewed_at
        items.append(WaitingItem(WaitKind.RESUBMIT, 'Fix and resubmit (trigger with {"resubmit": true})',
                                 coordinators, since, links.dag(dataset_id), detail=detail))
    if comments is not None:
        portal = links.portal_dataset(state.portal_id if state else None)
        items.append(WaitingItem(WaitKind.COMMENTS, "Public comments not marked answered "
                                 f"({comments.comment_count} on the portal)", coordinators, comments.pending_since,
                                 portal, external=portal is not None))
    return tuple(sorted(items, key=lambda item: item.since or _NEVER))


def _dag_state(dag: DagFacts | None) -> str:
    if dag is None:
        return "no-dag"
    if dag.is_stale:
        return "stale"
    return "paused" if dag.is_paused else "active"


def build_rows(files: FileSnapshot, registry: RegistryFacts, airflow: AirflowFacts, *, now: dt.datetime,
               links: Links, planned: Sequence[PlannedEntry] = ()) -> list[InventoryRow]:
    """A row per dataset a valid file or the registry names, and per plan naming neither, by
    department name and dataset name."""
    plans: Mapping[str, PlannedEntry] = {plan.dataset_id: plan for plan in planned}
    rows: list[InventoryRow] = []
    for dataset_id in set(files.summaries) | set(registry.states):
        summary = files.summaries.get(dataset_id)
        state = registry.states.get(dataset_id)
        department = summary.department if summary else NO_FILE_DEPARTMENT
        stage = state.stage if state else UNKNOWN if registry.unavailable else NOT_READY
        dag = airflow.dags.get(dataset_id)
        dag_state = _dag_state(dag)
        plan = plans.get(dataset_id)
        rows.append(InventoryRow(
            dataset_id=dataset_id,
            name=summary.name if summary else dataset_id,
            department=department,
            department_name=files.department_name(department) if summary else NO_FILE_DEPARTMENT,
            stage=stage,
            steward_name=summary.steward_name if summary else "",
            steward_email=summary.steward_email if summary else "",
            coordinator_name=files.person_name(summary.coordinator) if summary else "",
            classification=summary.classification_label if summary else "",
            update_frequency=summary.update_frequency if summary else "",
            freshness=freshness_of(stage, summary.policy if summary else None,
                                   registry.last_updates.get(dataset_id), now),
            next_run_at=dag.next_run_at if dag is not None and dag_state == "active" else None,
            dag_state=dag_state,
            last_run=last_run_of(airflow.latest_runs.get(dataset_id), registry.latest_runs.get(dataset_id)),
            waiting=waiting_on(dataset_id, department, summary, state, airflow.human_tasks.get(dataset_id, ()),
                               registry.comments.get(dataset_id), files, links),
            portal_id=state.portal_id if state else None,
            portal_url=links.portal_dataset(state.portal_id if state else None),
            dag_url=links.dag(dataset_id) if dag is not None else None,
            target_date=plan.target_date if plan else None,
            not_before=summary.not_before if summary else None,
            has_file=summary is not None))
    for plan in plans.values():
        if plan.dataset_id in files.summaries or plan.dataset_id in registry.states:
            continue
        rows.append(InventoryRow(dataset_id=plan.dataset_id, name=plan.name, department=plan.department,
                                 department_name=files.department_name(plan.department), stage=PLANNED,
                                 target_date=plan.target_date, has_file=False))
    rows.sort(key=lambda row: (row.department_name.casefold(), row.name.casefold(), row.dataset_id))
    return rows
