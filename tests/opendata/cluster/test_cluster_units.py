"""The distributed launcher's pieces that need no running Airflow: each component's own folders,
the run's names, what it writes for other terminals, the private-mount wrapper, the services'
handles. The whole deployment runs in tests/test_distributed_e2e.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from opendata.cluster import config as cluster_config
from opendata.cluster import hostname, isolation, launcher
from opendata.cluster.config import ClusterConfig, Worker
from opendata.cluster.services import ObjectStore, PostgresServer, RedisBroker
from opendata.demo import DemoError
from tests.conftest import PG_HOST, PG_PORT, PG_USER, REPO_ROOT


def config(tmp_path: Path, **changes) -> ClusterConfig:
    return ClusterConfig(root=REPO_ROOT, local_dir=tmp_path / "run", people={"maria-alvarez": "Maria Alvarez"},
                         token="abc123", **changes)


def test_every_name_the_run_creates_carries_its_token(tmp_path):
    cfg = config(tmp_path)
    assert (cfg.airflow_database, cfg.registry_database) == ("opendata_cluster_abc123_airflow",
                                                             "opendata_cluster_abc123_registry")
    assert cfg.redis_prefix == "opendata-abc123:" and cfg.bucket == "opendata-abc123"
    assert [w.queues(cfg.token) for w in cfg.workers] == [["default-abc123", "sources-abc123"],
                                                         ["default-abc123", "portal-abc123"]]


def test_the_shared_settings_put_celery_the_store_and_the_registry_on_every_component(tmp_path):
    cfg = config(tmp_path, postgres="postgresql://someone:pw@db.example:6543")
    keys = cluster_config.generate_secret_keys()
    values = cluster_config.cluster_settings(cfg, keys)
    assert values["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert values["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == \
        "postgresql+psycopg://someone:pw@db.example:6543/opendata_cluster_abc123_airflow"
    assert values["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+{values['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}"
    assert values["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"] == "opendata-abc123:"
    assert values["OPENDATA_REGISTRY_URL"].endswith("/opendata_cluster_abc123_registry")
    assert values["OPENDATA_STORAGE_URL"] == "s3://opendata-abc123/opendata"
    connection = json.loads(values[f"AIRFLOW_CONN_{values['OPENDATA_STORAGE_CONN_ID'].upper()}"])
    assert connection["conn_type"] == "aws" and connection["extra"]["endpoint_url"] == cfg.object_store.endpoint
    assert values["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "s3://opendata-abc123/airflow-logs"
    assert (values["OPENDATA_SOURCE_QUEUE"], values["OPENDATA_PORTAL_QUEUE"]) == ("sources-abc123", "portal-abc123")
    assert all(values[name] == value for name, value in keys.items())
    assert "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST" not in values


def test_extra_dag_folders_become_bundles_beside_the_dags_folder(tmp_path):
    values = cluster_config.cluster_settings(config(tmp_path, dag_bundles={"probe": tmp_path / "probe"}), {})
    bundles = json.loads(values["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    assert [b["name"] for b in bundles] == ["dags-folder", "probe"]
    assert bundles[1]["kwargs"] == {"path": str(tmp_path / "probe")}


def test_a_worker_has_its_own_folders_name_and_log_port(tmp_path):
    folder = tmp_path / "workers" / "worker-b"
    env = cluster_config.worker_env({"AIRFLOW_HOME": "/shared"}, folder, Worker("worker-b", "portal", 41234))
    assert env["AIRFLOW_HOME"] == str(folder / "airflow")
    for name, sub in (("OPENDATA_STATE_DIR", "state"), ("OPENDATA_SCRATCH_DIR", "scratch"), ("TMPDIR", "tmp"),
                      ("AIRFLOW__LOGGING__BASE_LOG_FOLDER", "logs")):
        assert env[name] == str(folder / sub)
    assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "opendata.cluster.hostname.task_hostname"
    assert env["OPENDATA_WORKER_HOSTNAME"] == "worker-b"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "41234"


def test_the_task_hostname_is_the_workers_name_else_the_machines(monkeypatch):
    monkeypatch.setenv("OPENDATA_WORKER_HOSTNAME", "worker-a")
    assert hostname.task_hostname() == "worker-a"
    monkeypatch.delenv("OPENDATA_WORKER_HOSTNAME")
    import socket

    assert hostname.task_hostname() == socket.getfqdn()


def test_other_terminals_get_the_settings_but_never_the_signing_keys(tmp_path):
    env = {"AIRFLOW_HOME": "/h", "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "OPENDATA_STORAGE_URL": "s3://b/p",
           "AIRFLOW_CONN_OPENDATA_STORAGE": "{}", "PATH": "/bin", "HOME": "/root", "OPENDATA_ENV_FILE": "/x",
           **cluster_config.generate_secret_keys()}
    shared = launcher._shareable(env)
    assert set(shared) == {"AIRFLOW_HOME", "AIRFLOW__CORE__EXECUTOR", "OPENDATA_STORAGE_URL",
                           "AIRFLOW_CONN_OPENDATA_STORAGE"}


def test_a_run_folder_is_emptied_only_when_an_earlier_run_made_it(tmp_path):
    run = tmp_path / "run"
    launcher._fresh_run_dir(run)
    (run / "portal").mkdir()
    (run / "logs").mkdir()
    (run / "logs" / "scheduler.log").write_text("the last failure")
    launcher._fresh_run_dir(run)
    assert sorted(p.name for p in run.iterdir()) == [".opendata-cluster", "logs"]
    assert (run / "logs" / "scheduler.log").read_text() == "the last failure"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    with pytest.raises(DemoError, match="not empty"):
        launcher._fresh_run_dir(mine)
    assert (mine / "thesis.txt").read_text() == "precious"


def test_isolation_refuses_a_private_folder_outside_the_read_only_one(tmp_path):
    with pytest.raises(ValueError, match="must be inside"):
        isolation.isolated(["true"], tmp_path / "elsewhere", tmp_path / "run", ["state"])


def test_a_wrapped_command_writes_to_a_private_tmpfs_and_cannot_write_the_shared_folder(tmp_path):
    problem = isolation.unavailable(tmp_path / "probe")
    if problem is not None:
        pytest.skip(f"private mounts are not available here ({problem}); tests/test_distributed_e2e.py fails then")
    run = tmp_path / "run"
    private = run / "workers" / "worker-a"
    run.mkdir()
    command = ["sh", "-c", 'echo secret > "$0/state/file" && ls "$0/state" && '
               '{ echo leak > "$1/leak" 2>/dev/null && echo wrote-shared || echo read-only; }',
               str(private), str(run)]
    done = subprocess.run(isolation.isolated(command, private, run, ["state", "tmp"]), capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["file", "read-only"]
    # Outside its namespace the private folder is the empty mount point, and nothing leaked.
    assert list(private.iterdir()) == [] and not (run / "leak").exists()


def test_the_service_handles_name_what_they_reach():
    server = PostgresServer("postgresql://someone:secret@db.example:6543/ignored")
    assert server.sqlalchemy_url("x") == "postgresql+psycopg://someone:secret@db.example:6543/x"
    assert "secret" not in server.shown()
    store = ObjectStore("http://127.0.0.1:9", "key", "secret")
    assert json.loads(store.connection()) == {"conn_type": "aws", "login": "key", "password": "secret",
                                              "extra": {"endpoint_url": "http://127.0.0.1:9",
                                                        "region_name": "us-east-1"}}


@pytest.mark.postgres
def test_a_run_database_is_created_and_dropped():
    import secrets

    import psycopg

    server = PostgresServer(f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}")
    name = f"opendata_cluster_{secrets.token_hex(4)}_unit"
    server.create(name)
    try:
        with psycopg.connect(server.sqlalchemy_url(name).replace("postgresql+psycopg", "postgresql")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        server.drop(name)
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


def test_a_missing_redis_is_named_with_the_variable_that_moves_it():
    from opendata.cluster.services import ServiceError

    with pytest.raises(ServiceError, match="OPENDATA_CLUSTER_REDIS"):
        RedisBroker("redis://127.0.0.1:9/0", "opendata-x:").check()


def test_the_settings_file_for_other_terminals_is_private(tmp_path):
    from opendata.demo import _write_settings

    cfg = config(tmp_path)
    _write_settings(cfg, {"OPENDATA_STORAGE_URL": "s3://b/p"})
    assert stat.S_IMODE(os.stat(cfg.env_file).st_mode) == 0o600
    assert "OPENDATA_STORAGE_URL=s3://b/p" in cfg.env_file.read_text().splitlines()
