"""The pipeline on a real distributed Airflow, on this machine: PostgreSQL (metadata database,
Celery results, the registry), Redis (the Celery broker), moto's S3 server (staging, reports,
archive, task logs), the scheduler, DAG processor, triggerer and API server as separate processes,
and two Celery workers that share no disk: each in its own mount namespace with a tmpfs over its
private folder (``opendata.cluster.launcher``). worker-a takes the source queue (extract),
worker-b the portal queue (the tasks that write to the portal); both take the default queue.

The publication scenario of ``tests/publication_scenario.py`` runs on it, then the test checks
that one run's tasks ran on both workers and that the portal holds exactly the source rows once.
The module starts and stops every process it needs; its last test checks that nothing is left
(processes, databases, Redis keys).

Private mounts need root and util-linux's ``unshare``: without them these tests FAIL (a CI run
must not pass without the proof); ``OPENDATA_SKIP_DISTRIBUTED_TESTS=1`` skips them instead.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
import requests

from tests.conftest import PG_HOST, PG_PORT, PG_USER, REPO_ROOT
from tests.publication_scenario import DATASET, Deployment, publication_scenario, wait_for

SKIP = "OPENDATA_SKIP_DISTRIBUTED_TESTS"
PROBE_DAGS = Path(__file__).parent / "cluster_dags"
WORKERS = {"worker-a", "worker-b"}

pytestmark = pytest.mark.slow


def _dataset_ids() -> set[str]:
    from opendata.spec.loader import load_catalog

    return {loaded.spec.id for loaded in load_catalog(REPO_ROOT / "include").datasets}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="module")
def admin_password() -> str:
    return secrets.token_urlsafe(12)


@pytest.fixture(scope="module")
def base_env() -> dict[str, str]:
    """The processes' environment: this one's without the test session's Airflow and project
    settings (the launcher gives every component its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENDATA_", "PYTEST_"))}
    # The portal as recorded: drafts hidden until published, reviews without names or notes,
    # guessed column types. Lost answers are tested elsewhere: here rows are counted.
    env.update({"PORTAL_EMULATOR_STRICT": "1", "PORTAL_EMULATOR_LOST_ANSWER_RATE": "0"})
    return env


@pytest.fixture(scope="module")
def cluster(run_dir, base_env, admin_password):
    from opendata.cluster import isolation
    from opendata.cluster.launcher import start

    problem = isolation.unavailable(run_dir / "probe")
    if problem is not None:
        if os.environ.get(SKIP) == "1":
            pytest.skip(f"workers cannot be isolated here ({problem}) and {SKIP}=1")
        pytest.fail(f"the distributed test needs workers that share no disk, and here {problem}: run it as root "
                    f"with util-linux's unshare, or set {SKIP}=1 to skip it", pytrace=False)
    running = start(run_dir / "run", dag_bundles={"cluster-probe": PROBE_DAGS},
                    expected_dags=_dataset_ids() | {"cluster_probe"}, isolation_mode="require",
                    postgres=f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}", base_env=base_env,
                    portal_admin_password=admin_password, timeout=420)
    try:
        yield running
    finally:
        running.stop()


def _task_instances(session: requests.Session, cluster, dag_id: str, run_id: str) -> list[dict]:
    answer = session.get(f"{cluster.airflow_url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", timeout=10)
    answer.raise_for_status()
    return answer.json()["task_instances"]


def test_a_file_one_worker_writes_is_invisible_to_the_other(cluster):
    session = cluster.signed_in()
    api = f"{cluster.airflow_url}/api/v2"
    assert cluster.isolated
    run = session.post(f"{api}/dags/cluster_probe/dagRuns", json={"logical_date": None}, timeout=10)
    assert run.status_code == 200, run.text
    run_id = run.json()["dag_run_id"]
    state = wait_for("the probe run", lambda: (s := session.get(f"{api}/dags/cluster_probe/dagRuns/{run_id}",
                                                                timeout=10).json()["state"]) in ("success", "failed")
                     and s, timeout=180)
    assert state == "success"
    hosts = {ti["task_id"]: ti["hostname"] for ti in _task_instances(session, cluster, "cluster_probe", run_id)}
    assert hosts == {"write_private": "worker-a", "look_for": "worker-b"}
    seen = session.get(f"{api}/dags/cluster_probe/dagRuns/{run_id}/taskInstances/look_for/xcomEntries/return_value",
                       timeout=10).json()["value"]
    # worker-a wrote the file in its private state folder; worker-b, the launcher and this test
    # look at the same path and find nothing (the folder on the shared disk is an empty mount point).
    written = Path(seen["path"])
    assert written.is_relative_to(cluster.worker_private_dir("worker-a"))
    assert seen["seen"] is False
    assert not written.exists() and list(cluster.worker_private_dir("worker-a").iterdir()) == []

    # The task's log, written in worker-b's private folder, reaches the API server through the
    # object store (remote logging): uploaded when the attempt ends.
    def log_from_the_store():
        answer = session.get(f"{api}/dags/cluster_probe/dagRuns/{run_id}/taskInstances/look_for/logs/1",
                             headers={"Accept": "application/json"}, timeout=10)
        text = " ".join(str(event.get("event", "")) for event in answer.json().get("content", []))
        return text if f"s3://{cluster.config.bucket}/airflow-logs/" in text else None

    # The run's Celery queues live under its own Redis key prefix: a run beside it on the same
    # Redis (another test session) never takes its tasks.
    from opendata.cluster.config import queue_name
    from opendata.cluster.services import RedisBroker

    keys = {key.decode() for key in RedisBroker(cluster.config.redis, cluster.config.redis_prefix).client().scan_iter(
        match="*kombu.binding*", count=1000)}
    for role in ("default", "sources", "portal"):
        assert f"{cluster.config.redis_prefix}_kombu.binding.{queue_name(role, cluster.config.token)}" in keys, keys
    assert not [key for key in keys if cluster.config.token in key and not key.startswith(cluster.config.redis_prefix)]

    log = wait_for("look_for's log on the object store", log_from_the_store, timeout=90, every=3)
    assert f"Done. Returned value was: {{'path': '{written}', 'seen': False}}" in log, log


def test_publication_on_celery_workers_that_share_no_disk(cluster, base_env, admin_password):
    deployment = Deployment(
        airflow_url=cluster.airflow_url, portal_url=cluster.portal_url, local=cluster.config.local,
        registry_url=cluster.registry_url, reviewer_password=cluster.config.reviewer[1],
        admin_password=admin_password, airflow_password=cluster.config.airflow_password, env=base_env)
    runs = publication_scenario(deployment)

    # One run's tasks ran on both workers: the extract on worker-a (the source queue), the portal
    # writes on worker-b (the portal queue); every task that ran says which worker it was.
    session = cluster.signed_in()
    for run_id in (runs.first, runs.refresh, runs.shrink):
        ran = {ti["task_id"]: ti["hostname"] for ti in _task_instances(session, cluster, DATASET, run_id)
               if ti["state"] == "success"}
        assert set(ran.values()) == WORKERS, (run_id, ran)
        assert ran["extract"] == "worker-a", ran
    first = {ti["task_id"]: ti for ti in _task_instances(session, cluster, DATASET, runs.first)}
    for task_id in ("push_private", "go_public"):
        assert first[task_id]["hostname"] == "worker-b" and first[task_id]["queue"].startswith("portal-")
    assert first["extract"]["queue"].startswith("sources-")

    # What later tasks read went through the object store, never a worker's disk: the run's
    # prefix holds the staged extracts, and the workers' folders on the shared disk stay empty.
    stored = cluster.config.object_store.keys(cluster.config.bucket, "opendata/")
    assert any(DATASET in key for key in stored), stored[:20]
    for worker in WORKERS:
        assert list(cluster.worker_private_dir(worker).iterdir()) == [], worker


def test_stopping_leaves_no_process_database_or_broker_key(cluster, run_dir):
    import psycopg

    from opendata.cluster.services import RedisBroker

    cluster.stop()
    marker = str(run_dir).encode()
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            if marker in environ and int(pid) != os.getpid():
                left.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120])
        except OSError:   # gone meanwhile, or not ours to read
            continue
    assert left == []
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres") as conn:
        databases = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                 (f"opendata_cluster_{cluster.config.token}%",)).fetchall()
    assert databases == []
    assert RedisBroker(cluster.config.redis, cluster.config.redis_prefix).forget() == 0
