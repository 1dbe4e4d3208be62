"""A city's inventory in every state the "Open Data" view shows, for its tests and benchmark:
dataset files, registry rows (stages, runs, stage history, versions, unanswered public comments)
and Airflow metadata rows (DAGs, DAG runs, tasks waiting for a person with their
human-in-the-loop requests), all consistent with each other and with a clock.

A plain module (no pytest), shared by ``tests/opendata/ui`` and ``bench/inventory_view.py``.
Dataset ``n`` of a world is in the state :func:`shape_of` gives ``n % 20``, so every state
appears once in every 20 datasets:

==  =================================================================================
n   state
==  =================================================================================
0-6 refreshing daily, refreshed 12 hours ago (fresh)
7-8 refreshing daily, refreshed 3 days ago (due)
9   refreshing daily, refreshed 8 days ago (overdue)
10  stage-2 weekly, public 2 days ago (fresh)
11  stage-1: waits for the Chief Data Officer's review (the sensor is deferred)
12  not-ready: Step 1 waits for department leadership (a HITL task awaiting input)
13  rejected at Step 1 (waits on the coordinator to resubmit)
14  scheduled: approved, waiting for its go-live
15  refreshing daily, fresh, a refresh waits at the shrink guard (HITL)
16  a dataset file only: no registry row, its DAG parsed, no run yet
17  refreshing monthly, refreshed 10 days ago (fresh)
18  retired
19  refreshing irregular (unscheduled)
==  =================================================================================

and dataset ``n`` with ``n % 25 == 3`` has public comments nobody has marked answered.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from opendata.freshness.alert_store import comment_watch
from opendata.registry.store import Registry, dataset_state, run_log, stage_change, version
from opendata.samples.portal_world import DEPARTMENTS, dataset_file

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
BUNDLE = "dags-folder"
LEADERSHIP = {"sanitation": ("Helen Wu", "helen-wu"), "building-and-safety": ("Alicia Grant", "alicia-grant"),
              "environmental-health": ("Rachel Levy", "rachel-levy")}


@dataclass(frozen=True)
class Shape:
    stage: str | None           # None: no registry row
    frequency: str = "daily"
    last_update: dt.timedelta | None = None  # how long ago the data was last confirmed
    waiting: str | None = None  # step1, shrink, review
    runs: bool = True           # a run history in the registry and Airflow


def shape_of(n: int) -> Shape:
    k = n % 20
    if k <= 6:
        return Shape("refreshing", last_update=12 * H)
    if k <= 8:
        return Shape("refreshing", last_update=3 * D)
    return {
        9: Shape("refreshing", last_update=8 * D),
        10: Shape("stage-2", "weekly", last_update=2 * D),
        11: Shape("stage-1", waiting="review"),
        12: Shape("not-ready", waiting="step1"),
        13: Shape("rejected"),
        14: Shape("scheduled"),
        15: Shape("refreshing", last_update=12 * H, waiting="shrink"),
        16: Shape(None, runs=False),
        17: Shape("refreshing", "monthly", last_update=10 * D),
        18: Shape("retired", last_update=40 * D),
        19: Shape("refreshing", "irregular", last_update=20 * D),
    }[k]


@dataclass(frozen=True)
class WorldDataset:
    n: int
    dataset_id: str
    department: str
    shape: Shape

    @property
    def portal_id(self) -> str:
        return f"w{self.n % 1000:03d}-{self.n // 1000:04d}"

    @property
    def comments_pending(self) -> bool:
        return self.n % 25 == 3


def world(count: int, prefix: str = "city-dataset") -> list[WorldDataset]:
    departments = list(DEPARTMENTS)
    return [WorldDataset(n, f"{prefix}-{n:04d}", departments[n % len(departments)], shape_of(n)) for n in range(count)]


def run_id_at(at: dt.datetime) -> str:
    return f"scheduled__{at.astimezone(dt.UTC).replace(microsecond=0).isoformat()}"


def write_files(include: Path, datasets: Iterable[WorldDataset], governance: Path) -> None:
    """The datasets' files under ``include/datasets`` and the governance file."""
    (include / "datasets").mkdir(parents=True, exist_ok=True)
    shutil.copy(governance, include / "governance.yaml")
    for d in datasets:
        folder = include / "datasets" / d.department
        folder.mkdir(exist_ok=True)
        (folder / f"{d.dataset_id}.yaml").write_text(
            yaml.safe_dump(dataset_file(d.dataset_id, d.department, d.shape.frequency), sort_keys=False))


def _run_times(d: WorldDataset, now: dt.datetime, runs: int) -> list[dt.datetime]:
    """When each of the dataset's runs ended, oldest first (the last at its last update)."""
    last = now - (d.shape.last_update or 2 * D)
    step = {"weekly": 7 * D, "monthly": 30 * D}.get(d.shape.frequency, D)
    return [last - i * step for i in reversed(range(runs))]


def seed_registry(registry: Registry, datasets: Sequence[WorldDataset], now: dt.datetime,
                  runs_per_dataset: int = 30) -> None:
    """Every dataset's registry rows, in bulk."""
    states: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    comments: list[dict[str, Any]] = []
    for d in datasets:
        shape = d.shape
        if shape.stage is None:
            continue
        leader = LEADERSHIP[d.department][0]
        approved = now - 60 * D
        times = _run_times(d, now, runs_per_dataset if shape.runs and shape.last_update else 1)
        public = shape.stage in ("stage-2", "refreshing", "retired")
        state: dict[str, Any] = {"dataset_id": d.dataset_id, "stage": shape.stage, "updated_at": now,
                                 "portal_id": d.portal_id if shape.stage != "not-ready" else None}
        history: list[tuple[str | None, str, dt.datetime, str | None, str | None]] = [
            (None, "not-ready", approved - D, None, None)]
        if shape.stage == "rejected":
            state.update(department_rejected_by=leader, department_rejected_at=now - 2 * D,
                         department_rejection_reason="Document the status codes.", portal_id=None)
            history.append(("not-ready", "rejected", now - 2 * D, leader,
                            f"Step 1 rejected by {leader}: Document the status codes."))
        elif shape.stage != "not-ready":
            state.update(department_approved_by=leader, department_approved_at=approved,
                         department_approval_source="airflow", submitted_at=approved + H, review_state="pending")
            history.append(("not-ready", "not-ready", approved, leader, f"Step 1 approved by {leader} (airflow)"))
            history.append(("not-ready", "stage-1", approved + H, None, None))
            if shape.stage == "stage-1":
                state["submitted_at"] = now - 2 * D
            else:
                state.update(review_state="approved", reviewed_at=approved + 2 * D)
                history.append(("stage-1", "scheduled" if shape.stage == "scheduled" else "stage-2",
                                approved + 2 * D, None, None))
        if public:
            first = times[0]
            state.update(public_at=first, last_refresh_at=times[-1] if shape.stage != "stage-2" else None,
                         published_rows=1000 + d.n)
            if shape.stage in ("refreshing", "retired"):
                history.append(("stage-2", "refreshing", first + D, None, None))
            if shape.stage == "retired":
                history.append(("refreshing", "retired", now - 30 * D, "Mayor's Office", "Replaced by a new dataset"))
            for i, at in enumerate(times[-3:]):
                versions.append({"dataset_id": d.dataset_id, "run_id": run_id_at(at), "kind": "full" if i == 0
                                 else "incremental", "published_at": at, "rows": 1000 + d.n + i,
                                 "checksum": f"{d.n:08x}{i:056x}", "archive_path": f"/archive/{d.dataset_id}/{i}"})
        states.append(state)
        changes += [{"dataset_id": d.dataset_id, "stage_from": a, "stage_to": b, "at": at, "by": by, "notes": note}
                    for a, b, at, by, note in history]
        if shape.runs:
            for i, at in enumerate(times):
                failed = (d.n + i) % 20 == 7 and i != len(times) - 1
                runs.append({"dataset_id": d.dataset_id, "run_id": run_id_at(at),
                             "kind": "refresh" if public and i > 0 else "publication",
                             "started_at": at - 5 * MINUTE, "ended_at": at,
                             "rows_extracted": 1000 + d.n + i, "rows_created": 0 if i else 1000 + d.n,
                             "rows_updated": i % 4, "rows_deleted": i % 3,
                             "outcome": "failed" if failed else "success",
                             "error": "extract: the source did not answer" if failed else None})
        if d.comments_pending and public:
            comments.append({"dataset_id": d.dataset_id, "comment_count": 2, "checked_at": now,
                             "pending_since": now - 30 * H, "notified_at": now - 30 * H, "reminded_at": None,
                             "answered_at": None, "answered_by": None})
    comment_watch.create(registry.engine, checkfirst=True)
    with registry.engine.begin() as conn:
        for table, rows in ((dataset_state, states), (stage_change, changes), (run_log, runs), (version, versions),
                            (comment_watch, comments)):
            _insert(conn, table, rows)


def _uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with the same keys (an executemany insert needs them)."""
    keys = {key for row in rows for key in row}
    return [{key: row.get(key) for key in keys} for row in rows]


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], batch: int = 5_000) -> None:
    rows = _uniform(rows)
    for start in range(0, len(rows), batch):
        conn.execute(table.insert(), rows[start:start + batch])


def _airflow_tables() -> tuple[sa.Table, sa.Table, sa.Table, sa.Table, sa.Table]:
    """Airflow's own table definitions (their column types: UUIDs, JSON, UTC times on any database)."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.dagrun import DagRun
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance

    tables = (DagModel.__table__, DagBundleModel.__table__, DagRun.__table__, TaskInstance.__table__,
              HITLDetail.__table__)
    assert all(isinstance(table, sa.Table) for table in tables)
    return tables


def seed_airflow(engine: sa.Engine, datasets: Sequence[WorldDataset], now: dt.datetime, runs_per_dag: int = 10,
                 assignees: bool = True) -> None:
    """Every dataset's DAG row, its runs, and the tasks waiting for a person, in Airflow's metadata
    database (the tables the DAG processor and the scheduler write)."""
    dag, bundle, dag_run, task_instance, hitl_detail = _airflow_tables()
    dags: list[dict[str, Any]] = []
    dag_runs: list[dict[str, Any]] = []
    tis: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    for d in datasets:
        shape = d.shape
        dags.append({"dag_id": d.dataset_id, "is_paused": shape.stage == "retired", "is_stale": False,
                     "bundle_name": BUNDLE, "timetable_type": "CronTriggerTimetable", "partition_mapper_info": {},
                     "max_active_tasks": 16, "max_active_runs": 1, "max_consecutive_failed_dag_runs": 0,
                     "has_task_concurrency_limits": False, "fileloc": f"/dags/datasets_{d.n % 16}.py",
                     "relative_fileloc": f"datasets_{d.n % 16}.py", "owners": f"Steward {d.n:04d}",
                     "next_dagrun": now.replace(minute=0, second=0, microsecond=0),
                     "next_dagrun_create_after": now.replace(minute=0, second=0, microsecond=0) + (d.n % 24 + 1) * H})
        if not shape.runs:
            continue
        times = _run_times(d, now, runs_per_dag if shape.last_update else 1)
        for i, at in enumerate(times):
            latest = i == len(times) - 1
            waiting = latest and shape.waiting is not None
            dag_runs.append({"dag_id": d.dataset_id, "run_id": run_id_at(at), "run_type": "scheduled",
                             "run_after": at - 5 * MINUTE, "logical_date": at - D,
                             "start_date": at - 5 * MINUTE, "end_date": None if waiting else at,
                             "state": "running" if waiting else "success", "clear_number": 0,
                             "span_status": "not_started"})
        if shape.waiting is None:
            continue
        task_id = {"step1": "department_approval", "shrink": "shrink_approval",
                   "review": "await_public_approval"}[shape.waiting]
        ti_id = uuid.uuid4()
        tis.append({"id": ti_id, "task_id": task_id, "dag_id": d.dataset_id, "run_id": run_id_at(times[-1]),
                    "map_index": -1, "try_number": 1, "max_tries": 3, "pool": "default_pool", "pool_slots": 1,
                    "state": "deferred" if shape.waiting == "review" else "awaiting_input",
                    "start_date": times[-1] - 4 * MINUTE, "span_status": "not_started"})
        if shape.waiting != "review":
            leader, key = LEADERSHIP[d.department]
            requests.append({"ti_id": ti_id, "options": ["Approve", "Reject"], "subject": f"Approve {d.dataset_id}",
                             "params": {}, "params_input": {}, "created_at": times[-1] - 3 * MINUTE,
                             "assignees": [{"id": key, "name": leader}] if assignees else None})
    with engine.begin() as conn:
        if conn.execute(sa.select(bundle.c.name).where(bundle.c.name == BUNDLE)).first() is None:
            conn.execute(bundle.insert().values(name=BUNDLE, active=True))
        for table, rows in ((dag, dags), (dag_run, dag_runs), (task_instance, tis), (hitl_detail, requests)):
            _insert(conn, table, rows)


def answer_request(engine: sa.Engine, dag_id: str, task_id: str, *, by: str, chosen: str, at: dt.datetime,
                   comment: str | None = None) -> None:
    """Record a person's answer to a waiting human-in-the-loop request (as Airflow's API does)."""
    _, _, _, task_instance, hitl_detail = _airflow_tables()
    with engine.begin() as conn:
        ti_id = conn.execute(sa.select(task_instance.c.id).where(task_instance.c.dag_id == dag_id,
                                                                  task_instance.c.task_id == task_id)).scalar_one()
        conn.execute(hitl_detail.update().where(hitl_detail.c.ti_id == ti_id).values(
            responded_at=at, responded_by={"id": by, "name": by}, chosen_options=[chosen],
            params_input={"reason": comment} if comment else {}))
