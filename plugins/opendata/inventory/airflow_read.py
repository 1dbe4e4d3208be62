"""Airflow's metadata database in bulk, for the inventory: three queries whatever the number of DAGs.

1. ``dag``: each DAG's paused and stale flags and its next scheduled run
   (``next_dagrun_create_after``: when the scheduler creates it; ``next_dagrun``: its logical date);
2. ``dag_run``: each DAG's latest run (one grouped query joined back to its row);
3. ``task_instance`` with ``hitl_detail``: the dataset tasks waiting for a person: the Step 1
   approval and the shrink guard (human-in-the-loop tasks, ``awaiting_input`` on Airflow 3.3,
   ``deferred`` before), and the Stage 2 review sensor (``deferred``).

Run in the API server's process with Airflow's own ORM session (``create_session``); read-only.
The dataset DAGs' task ids are the DAG factory's (``dag_factory.build_dag``); the factory sits
above this package, so they are named here and a test checks them against a built DAG.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import sqlalchemy as sa
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.models.hitl import HITLDetail
from airflow.models.taskinstance import TaskInstance
from sqlalchemy.orm import Session

from opendata.inventory.model import AirflowFacts, AnsweredRequest, DagFacts, DagRunFacts, HumanTask
from opendata.lifecycle.tasks import AWAIT_APPROVAL_TASK_ID, SHRINK_APPROVAL_TASK_ID, STEP1_TASK_ID
from opendata.registry.store import stored_instant

#: Human-in-the-loop tasks: answered in Airflow's Required Actions.
HITL_TASK_IDS = frozenset({STEP1_TASK_ID, SHRINK_APPROVAL_TASK_ID})
HUMAN_TASK_IDS = HITL_TASK_IDS | {AWAIT_APPROVAL_TASK_ID}
#: Task states that wait (a HITL task parks in awaiting_input on 3.3; sensors defer).
WAITING_STATES = ("awaiting_input", "deferred")


def _names(assignees: Any) -> tuple[str, ...]:
    """The assigned people's names of a HITL request (``[{"id": ..., "name": ...}]``)."""
    if not isinstance(assignees, list):
        return ()
    names = (a.get("name") or a.get("id") for a in assignees if isinstance(a, dict))
    return tuple(str(name) for name in names if name)


def _only(column: Any, ids: Collection[str] | None) -> list[Any]:
    return [] if ids is None else [column.in_(sorted(ids))]


def read_airflow(session: Session, dag_ids: Collection[str] | None = None) -> AirflowFacts:
    """The DAGs, their latest runs and the tasks waiting for a person (``dag_ids``: only these
    DAGs; None: every DAG, the caller keeps the dataset DAGs)."""
    facts = AirflowFacts()
    dags = sa.select(DagModel.dag_id, DagModel.is_paused, DagModel.is_stale, DagModel.next_dagrun,
                     DagModel.next_dagrun_create_after).where(*_only(DagModel.dag_id, dag_ids))
    for dag_id, paused, stale, logical, create_after in session.execute(dags):
        facts.dags[dag_id] = DagFacts(is_paused=bool(paused), is_stale=bool(stale),
                                      next_run_at=stored_instant(create_after),
                                      next_logical_date=stored_instant(logical))

    run = DagRun.__table__.c
    latest = (sa.select(sa.func.max(run.id).label("id")).where(*_only(run.dag_id, dag_ids))
              .group_by(run.dag_id).subquery())
    runs = (sa.select(run.dag_id, run.run_id, run.state, run.run_after, run.start_date, run.end_date)
            .join(latest, run.id == latest.c.id))
    for dag_id, run_id, state, run_after, start, end in session.execute(runs):
        facts.latest_runs[dag_id] = DagRunFacts(run_id=run_id, state=state, run_after=stored_instant(run_after),
                                                start_date=stored_instant(start), end_date=stored_instant(end))

    for task in waiting_tasks(session, dag_ids):
        facts.human_tasks.setdefault(task.dag_id, []).append(task)
    return facts


def waiting_tasks(session: Session, dag_ids: Collection[str] | None = None) -> Iterable[HumanTask]:
    ti = TaskInstance.__table__.c
    hitl = HITLDetail.__table__.c
    query = (sa.select(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.state, ti.start_date, hitl.created_at,
                       hitl.assignees, hitl.responded_at)
             .select_from(TaskInstance.__table__.outerjoin(HITLDetail.__table__, hitl.ti_id == ti.id))
             .where(ti.task_id.in_(sorted(HUMAN_TASK_IDS)), ti.state.in_(WAITING_STATES), *_only(ti.dag_id, dag_ids))
             .order_by(ti.dag_id, ti.run_id))
    for dag_id, run_id, task_id, map_index, state, start, created, assignees, responded in session.execute(query):
        if responded is not None:  # answered: the task resumes on its own
            continue
        yield HumanTask(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=int(map_index), state=str(state),
                        since=stored_instant(created) or stored_instant(start), assignees=_names(assignees))


#: The form fields in which Step 1 and the shrink guard take a person's words.
_COMMENT_PARAMS = ("comment", "reason")


def answered_requests(session: Session, dag_id: str) -> list[AnsweredRequest]:
    """A DAG's answered human-in-the-loop requests, oldest first: who answered which task of
    which run, when, and what they chose (the dataset page's approvals)."""
    ti = TaskInstance.__table__.c
    hitl = HITLDetail.__table__.c
    query = (sa.select(ti.run_id, ti.task_id, hitl.responded_at, hitl.responded_by, hitl.chosen_options,
                       hitl.params_input)
             .select_from(TaskInstance.__table__.join(HITLDetail.__table__, hitl.ti_id == ti.id))
             .where(ti.dag_id == dag_id, ti.task_id.in_(sorted(HITL_TASK_IDS)), hitl.responded_at.is_not(None))
             .order_by(hitl.responded_at))
    found = []
    for run_id, task_id, responded_at, responded_by, chosen, params in session.execute(query):
        who = str(responded_by.get("name") or responded_by.get("id") or "") if isinstance(responded_by, dict) else ""
        words = [params.get(name) for name in _COMMENT_PARAMS] if isinstance(params, dict) else []
        comment = next((w for w in words if isinstance(w, str) and w.strip()), None)
        found.append(AnsweredRequest(run_id=run_id, task_id=task_id, at=stored_instant(responded_at), by=who or None,
                                     chosen=", ".join(str(c) for c in chosen) if isinstance(chosen, list) else "",
                                     comment=comment))
    return found
