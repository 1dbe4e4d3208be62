"""Airflow's metadata database in bulk, on a real migrated database (the test session's
PostgreSQL one): DAG rows, runs and waiting human-in-the-loop tasks as Airflow stores them; and
the task ids named here are the DAG factory's."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opendata.inventory.airflow_read import HITL_TASK_IDS, answered_requests, read_airflow
from opendata.lifecycle.tasks import AWAIT_APPROVAL_TASK_ID, SHRINK_APPROVAL_TASK_ID, STEP1_TASK_ID
from opendata.samples.inventory_world import answer_request, run_id_at, seed_airflow, world

pytestmark = pytest.mark.postgres
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def seeded(airflow_db):
    from airflow.utils.session import create_session

    datasets = world(40, prefix="airflow-read")
    with create_session() as session:
        engine = session.get_bind()
    assert isinstance(engine, sa.Engine)
    seed_airflow(engine, datasets, NOW, runs_per_dag=5)
    return engine, {d.dataset_id: d for d in datasets}


def test_dags_latest_runs_and_waiting_tasks_in_three_queries(seeded):
    from airflow.utils.session import create_session

    engine, datasets = seeded
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        with create_session() as session:
            facts = read_airflow(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3, statements
    assert set(datasets) <= set(facts.dags)
    dag = facts.dags["airflow-read-0000"]
    assert (dag.is_paused, dag.is_stale) == (False, False) and dag.next_run_at is not None and dag.next_run_at > NOW
    assert facts.dags["airflow-read-0018"].is_paused  # the retired one
    latest = facts.latest_runs["airflow-read-0000"]
    assert latest.state == "success" and latest.run_id == run_id_at(NOW - 12 * dt.timedelta(hours=1))
    assert "airflow-read-0016" not in facts.latest_runs  # parsed, never run
    waiting = {dag_id: [(t.task_id, t.state, t.assignees) for t in tasks]
               for dag_id, tasks in facts.human_tasks.items() if dag_id in datasets}
    assert waiting == {
        "airflow-read-0011": [(AWAIT_APPROVAL_TASK_ID, "deferred", ())],
        "airflow-read-0012": [(STEP1_TASK_ID, "awaiting_input", ("Helen Wu",))],  # sanitation's leadership
        "airflow-read-0015": [(SHRINK_APPROVAL_TASK_ID, "awaiting_input", ("Helen Wu",))],
        "airflow-read-0031": [(AWAIT_APPROVAL_TASK_ID, "deferred", ())],
        "airflow-read-0032": [(STEP1_TASK_ID, "awaiting_input", ("Rachel Levy",))],  # environmental health's
        "airflow-read-0035": [(SHRINK_APPROVAL_TASK_ID, "awaiting_input", ("Rachel Levy",))],
    }
    with create_session() as session:
        only = read_airflow(session, ["airflow-read-0012"])
    assert set(only.dags) == set(only.latest_runs) == set(only.human_tasks) == {"airflow-read-0012"}


def test_an_answered_request_no_longer_waits_and_is_an_approval_given(seeded):
    from airflow.utils.session import create_session

    engine, _ = seeded
    answer_request(engine, "airflow-read-0035", SHRINK_APPROVAL_TASK_ID, by="Rachel Levy", chosen="Approve", at=NOW,
                   comment="expected: archived permits")
    with create_session() as session:
        facts = read_airflow(session, ["airflow-read-0035"])
        answered = answered_requests(session, "airflow-read-0035")
    assert facts.human_tasks == {}
    (request,) = answered
    assert (request.task_id, request.by, request.chosen, request.comment) == (
        SHRINK_APPROVAL_TASK_ID, "Rachel Levy", "Approve", "expected: archived permits")


def test_the_task_ids_are_the_dag_factorys(tmp_path, monkeypatch):
    from airflow.providers.standard.operators.hitl import HITLOperator

    from opendata.dag_factory import build_dag
    from opendata.spec.loader import load_catalog
    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path))
    catalog = load_catalog(REPO_ROOT / "include")
    loaded = next(d for d in catalog.datasets if d.spec.id == "building-permits")
    dag = build_dag(loaded, governance=catalog.governance)
    assert {STEP1_TASK_ID, SHRINK_APPROVAL_TASK_ID, AWAIT_APPROVAL_TASK_ID} <= set(dag.task_ids)
    for task_id in HITL_TASK_IDS:
        assert isinstance(dag.get_task(task_id), HITLOperator)
