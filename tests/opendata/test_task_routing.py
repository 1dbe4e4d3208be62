"""Where the dataset tasks run: the portal-writing tasks take a slot of the ``socrata_writes``
pool (Socrata throttles per account), and OPENDATA_SOURCE_QUEUE / OPENDATA_PORTAL_QUEUE route the
source reader and the portal writers to their own Celery queues. Checked on the DAGs as the
scheduler gets them: parsed from dags/ by Airflow's DagBag, then serialized and read back."""

from __future__ import annotations

import pytest

from opendata.dag_factory import PORTAL_WRITERS
from tests.dags.test_dag_integrity import NOT_DATASET_DAGS, dagbag

SAMPLES = ["building-permits", "restaurant-inspections", "service-requests-311"]
# Every portal write of the pipeline: create, load, publish, set the audience, submit for approval
# (also when a held go-live comes), upsert, replace, discard a revision.
WRITERS = {"push_private", "await_public_approval", "go_public", "refresh"}


def scheduler_dags(monkeypatch, **env: str):
    """The DAGs of dags/ parsed with ``env``, as the scheduler reads them back from the database."""
    from airflow.serialization.serialized_objects import DagSerialization

    for name in ("OPENDATA_SOURCE_QUEUE", "OPENDATA_PORTAL_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = dagbag()
    assert bag.import_errors == {}
    return {dag_id: DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
            for dag_id, dag in bag.dags.items()}


def default_queue() -> str:
    from airflow.configuration import conf

    return conf.get("operators", "default_queue")


def test_exactly_the_portal_writers_take_a_slot_of_the_socrata_pool(monkeypatch):
    assert set(PORTAL_WRITERS) == WRITERS
    dags = scheduler_dags(monkeypatch)
    for dataset_id in SAMPLES:
        tasks = {task.task_id: task for task in dags[dataset_id].tasks}
        assert {tid for tid, task in tasks.items() if task.pool == "socrata_writes"} == WRITERS, dataset_id
        assert {task.pool for tid, task in tasks.items() if tid not in WRITERS} == {"default_pool"}
        assert all(task.pool_slots == 1 for task in tasks.values())
        # No queue configured: every task on Airflow's default queue.
        assert {task.queue for task in tasks.values()} == {default_queue()}
    # The freshness monitor and the catalog DAGs only read the portal: no slot.
    for dag_id in NOT_DATASET_DAGS:
        assert {task.pool for task in dags[dag_id].tasks} == {"default_pool"}, dag_id


def test_queues_route_the_source_reader_and_the_portal_writers(monkeypatch):
    dags = scheduler_dags(monkeypatch, OPENDATA_SOURCE_QUEUE="city-network", OPENDATA_PORTAL_QUEUE="portal-egress")
    for dataset_id in SAMPLES:
        queues = {task.task_id: task.queue for task in dags[dataset_id].tasks}
        assert queues.pop("extract") == "city-network"
        assert {queues.pop(tid) for tid in WRITERS} == {"portal-egress"}
        assert set(queues.values()) == {default_queue()}, queues
        # The pool does not depend on the queue.
        assert {t.task_id for t in dags[dataset_id].tasks if t.pool == "socrata_writes"} == WRITERS
    for dag_id in NOT_DATASET_DAGS:
        assert {task.queue for task in dags[dag_id].tasks} == {default_queue()}, dag_id


@pytest.mark.parametrize("env", [{"OPENDATA_SOURCE_QUEUE": "city-network"}, {"OPENDATA_PORTAL_QUEUE": " "}])
def test_one_queue_alone_or_a_blank_one_leaves_the_others_on_the_default_queue(monkeypatch, env):
    dags = scheduler_dags(monkeypatch, **env)
    queues = {task.task_id: task.queue for task in dags["building-permits"].tasks}
    expected = {tid: default_queue() for tid in queues}
    if env.get("OPENDATA_SOURCE_QUEUE"):
        expected["extract"] = "city-network"
    assert queues == expected
