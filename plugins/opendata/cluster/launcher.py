"""The distributed deployment on one machine: ``opendata demo --celery``, the distributed
end-to-end test and the Celery benches.

What runs (the topology of docker-compose.yaml, as processes of this machine):

- PostgreSQL (a server given by ``OPENDATA_CLUSTER_POSTGRES``, default
  ``postgresql://postgres@127.0.0.1:5432``): two fresh databases of the run, Airflow's metadata
  database (also the Celery result backend) and the publication registry
  (``OPENDATA_REGISTRY_URL``); dropped when the run stops;
- Redis (``OPENDATA_CLUSTER_REDIS``, default ``redis://127.0.0.1:6379/0``) as the Celery broker,
  every key of the run under its own prefix, deleted when it stops;
- an S3-compatible object store (moto's server, a development requirement) with the run's
  bucket: ``OPENDATA_STORAGE_URL=s3://<bucket>/opendata`` (staging, fingerprints, reports,
  archive) and Airflow's remote task logs, through the ``aws`` connection
  ``opendata_storage`` (its endpoint in the connection's extra) given to every component as
  ``AIRFLOW_CONN_OPENDATA_STORAGE``;
- the portal emulator, the mailbox and the sample sources, as in ``opendata demo``;
- Airflow's API server, DAG processor, triggerer and scheduler, separate processes, each with its
  own Airflow home, state and temporary folders, started in that order and each waited for
  (``opendata.demo.AirflowStarter``), the scheduler last;
- two Celery workers, each in its own mount namespace with a tmpfs over its private folder
  (:mod:`opendata.cluster.isolation`): ``worker-a`` takes the default queue and the source queue
  (``OPENDATA_SOURCE_QUEUE``: the extract task), ``worker-b`` the default queue and the portal
  queue (``OPENDATA_PORTAL_QUEUE``: the tasks that write to the portal). Queue names carry the
  run's token. Each records its own name as the task hostname (:mod:`opendata.cluster.hostname`)
  and serves its logs on its own port.

Task logs: Airflow's API server fetches a running task's log from ``http://<task hostname>:<its
own [logging] worker_log_server_port>``: one port for every worker, so two workers on one machine
(which cannot both listen on it) cannot both be served that way. Finished tasks' logs are read
from the object store instead (remote logging, ``s3://<bucket>/airflow-logs``), which is what
Airflow's production guide recommends for workers on several machines; a running task's log
shows once the attempt ends.

Python entry point (benches, tests)::

    from opendata.cluster.launcher import start

    with start(run_dir, include=my_include, dags=my_dags, expected_dags=my_dag_ids) as cluster:
        cluster.airflow_url, cluster.portal_url, cluster.storage_url, cluster.registry_url
        cluster.signed_in()      # a requests session on Airflow's REST API (the CDO)
        cluster.env              # the environment of an `airflow` / `opendata` command against it
        cluster.logs             # every process's log
    # leaving the block (or cluster.stop()) stops every process, drops the databases, forgets
    # the Redis keys; the logs stay in run_dir/logs

``start`` picks free ports and passwords and returns once a task can run on either worker: every
DAG of ``expected_dags`` parsed with no import error (by default one per dataset file of
``include``; a DAG folder of other DAGs, e.g. EmptyOperator ones, must name its ids), the
scheduler heartbeating. ``isolation_mode="auto"`` runs without private mounts where they are not
available (not root), saying so; the default, ``"require"``, refuses. DAGs are unpaused at creation
(as in the demo). ``worker_concurrency`` is each worker's task slots (2: a two-core machine).

The names, settings and folders of a run are in :mod:`.config`; ``opendata demo --celery`` is
:mod:`.command` (with its start-up variables).
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from opendata.cluster import isolation
from opendata.cluster.config import (
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    FOLDERS,
    SECRET_KEYS,
    ClusterConfig,
    Worker,
    cluster_settings,
    folders_env,
    generate_secret_keys,
    worker_env,
)
from opendata.cluster.services import ObjectStore, PostgresServer, RedisBroker, ServiceError
from opendata.demo import (
    AirflowStarter,
    DemoError,
    Processes,
    _airflow,
    _governance_people,
    _prepare_sources,
    _refuse_busy_ports,
    _start_helpers,
    _write_settings,
    environment,
)

# Airflow's control plane, in start order (the workers start before the scheduler, last).
CONTROL_PLANE = ("api-server", "dag-processor", "triggerer")
ISOLATION_CHOICES = ("require", "auto")


@dataclass
class Cluster:
    """A running distributed deployment (see the module's docstring); ``stop()`` ends it."""

    config: ClusterConfig
    processes: Processes
    env: dict[str, str]          # the launcher's own environment: Airflow CLI, opendata commands
    isolated: bool               # the workers run in private mount namespaces
    created: list[str] = field(default_factory=list)   # databases to drop
    stopped: bool = False

    @property
    def airflow_url(self) -> str:
        return self.config.airflow_url

    @property
    def portal_url(self) -> str:
        return self.config.portal_url

    @property
    def object_store_url(self) -> str:
        return self.config.object_store.endpoint

    @property
    def storage_url(self) -> str:
        return self.config.storage_url

    @property
    def registry_url(self) -> str:
        return self.env["OPENDATA_REGISTRY_URL"]

    @property
    def mail_dir(self) -> Path:
        return self.config.local / "mail"

    @property
    def logs(self) -> Path:
        return self.processes.log_dir

    def worker_private_dir(self, name: str) -> Path:
        return self.config.local / "workers" / name

    def signed_in(self, user: str | None = None) -> requests.Session:
        """A session on Airflow's REST API as ``user`` (by default the CDO, the demo's watcher)."""
        answer = requests.post(f"{self.airflow_url}/auth/token", timeout=10, json={
            "username": user or self.config.watcher, "password": self.config.airflow_password})
        answer.raise_for_status()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        return session

    def stop(self) -> None:
        """Stop every process (the scheduler first), drop the run's databases, delete its Redis keys."""
        if self.stopped:
            return
        self.stopped = True
        atexit.unregister(self.stop)
        try:
            self.processes.stop_all()
        finally:
            postgres = PostgresServer(self.config.postgres)
            for database in reversed(self.created):
                try:
                    postgres.drop(database)
                except ServiceError as exc:
                    print(f"could not drop database {database}: {exc}", file=sys.stderr)
            RedisBroker(self.config.redis, self.config.redis_prefix).forget()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(run_dir: Path, *, root: Path | None = None, include: Path | None = None, dags: Path | None = None,
          dag_bundles: Mapping[str, Path] | None = None, expected_dags: Collection[str] | None = None,
          isolation_mode: str = "require", postgres: str = DEFAULT_POSTGRES, redis: str = DEFAULT_REDIS,
          base_env: Mapping[str, str] | None = None, portal_admin_password: str = "",
          worker_concurrency: int = 2, timeout: float = 600) -> Cluster:
    """Start the distributed deployment in ``run_dir`` on free ports and return it, running.

    ``include`` / ``dags``: the dataset files and the DAG folder (default: the project's);
    ``dag_bundles``: more DAG folders; ``expected_dags``: the DAG ids to wait for (default: one per
    dataset file); ``isolation_mode``: "require" fails without private mounts, "auto" falls back
    to plain folders; ``base_env``: the environment the processes start from (default: this
    process's). The caller stops it (``with start(...) as cluster`` or ``cluster.stop()``)."""
    root = root or Path(__file__).resolve().parents[3]
    config = ClusterConfig(
        root=root, local_dir=Path(run_dir), include=include, dags=dags,
        airflow_port=free_port(), portal_port=free_port(), source_api_port=free_port(), mail_port=free_port(),
        worker_log_port=free_port(), trigger_log_port=free_port(), worker_b_log_port=free_port(),
        object_store_port=free_port(),
        publisher=("opendata-pipeline", secrets.token_urlsafe(18)), reviewer=("cdo", secrets.token_urlsafe(18)),
        people=_governance_people(include or root / "include"), airflow_password=secrets.token_urlsafe(18),
        portal_admin_password=portal_admin_password, postgres=postgres, redis=redis,
        isolation=isolation_mode, worker_concurrency=worker_concurrency, dag_bundles=dict(dag_bundles or {}),
        expected_dags=set(expected_dags) if expected_dags is not None else None)
    return launch(config, base_env, timeout)


def launch(config: ClusterConfig, base_env: Mapping[str, str] | None = None, timeout: float = 600) -> Cluster:
    """Bring up everything ``config`` describes, in order, each part waited for; on any failure
    stop what started and remove what was created, then raise DemoError."""
    if config.isolation not in ISOLATION_CHOICES:
        raise ValueError(f"isolation must be one of {ISOLATION_CHOICES}, not {config.isolation!r}")
    started = time.monotonic()
    deadline = started + timeout
    _fresh_run_dir(config.local)
    # The workers stop right after the scheduler, before the object store they upload task logs to.
    processes = Processes(config.local / "logs", stop_first=tuple(worker.name for worker in config.workers))
    cluster = Cluster(config, processes, env={}, isolated=False)
    # Its processes run in sessions of their own: should the caller forget to stop it (an
    # exception out of a bench), they are stopped and the databases dropped at interpreter exit.
    atexit.register(cluster.stop)
    try:
        _refuse_busy_ports(config)
        problem = isolation.unavailable(config.local / "isolation-probe")
        if problem is not None and config.isolation == "require":
            raise DemoError(f"the workers cannot be given private disks: {problem}")
        cluster.isolated = problem is None
        if problem is not None:
            print(f"Workers cannot be isolated ({problem}): each gets its own folders on this machine's disk "
                  f"instead; a file one writes could still be read by the other.", file=sys.stderr, flush=True)
        postgres = PostgresServer(config.postgres)
        broker = RedisBroker(config.redis, config.redis_prefix)
        broker.check()
        for database in (config.airflow_database, config.registry_database):
            postgres.create(database)
            cluster.created.append(database)
        common = {**environment(config, dict(base_env) if base_env is not None else None),
                  **cluster_settings(config, generate_secret_keys())}
        cluster.env = {**common, **folders_env(config.component_dir("launcher"))}
        for folder in ("launcher", *CONTROL_PLANE, "scheduler", "helpers"):
            for sub in FOLDERS:
                (config.component_dir(folder) / sub).mkdir(parents=True, exist_ok=True)
        _prepare_sources(config)
        _write_settings(config, _shareable(cluster.env))
        helpers_env = {**common, **folders_env(config.component_dir("helpers"))}
        print(f"Starting the object store, the portal emulator, the sample sources and Airflow on Celery "
              f"(logs in {processes.log_dir})...", flush=True)
        _start_helpers(config, helpers_env, processes)
        store = config.object_store
        processes.start("object-store", ObjectStore.server_command(config.object_store_port), helpers_env)

        starter = AirflowStarter(config, processes, started, deadline, expected=config.expected_dags)
        starter.migrate(cluster.env)
        starter.run_once("airflow-db", [sys.executable, "-m", "opendata", "registry", "init"], cluster.env)
        starter.pools(cluster.env)
        starter.waiter.wait("the object store", store.answers)
        store.create_bucket(config.bucket)
        starter.wait_for_helpers()
        starter.say(f"object store answers (bucket {config.bucket}); PostgreSQL databases "
                    f"{config.airflow_database}, {config.registry_database}; Redis prefix {config.redis_prefix}")
        for component in CONTROL_PLANE:
            starter.component(component, {**common, **folders_env(config.component_dir(component))})
        for worker in config.workers:
            _start_worker(config, starter, common, worker, cluster.isolated)
        starter.component("scheduler", {**common, **folders_env(config.component_dir("scheduler"))})
        starter.wait_healthy()
        return cluster
    except BaseException as exc:
        cluster.stop()
        if isinstance(exc, ServiceError):
            raise DemoError(str(exc)) from None
        raise


RUN_DIR_MARK = ".opendata-cluster"


def _fresh_run_dir(run_dir: Path) -> None:
    """Each run starts from nothing (fresh databases, a fresh portal); earlier logs are kept. A
    folder holding anything else than an earlier run is refused, never emptied."""
    run_dir.mkdir(parents=True, exist_ok=True)
    mark = run_dir / RUN_DIR_MARK
    if any(run_dir.iterdir()) and not mark.exists():
        raise DemoError(f"{run_dir} is not empty and is not the folder of an earlier distributed run: name another")
    for child in run_dir.iterdir():
        if child.name not in ("logs", RUN_DIR_MARK):
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    mark.touch()


def _shareable(env: Mapping[str, str]) -> dict[str, str]:
    """The launcher's settings for other terminals (``demo.env``): the deployment's variables,
    without the keys that sign Airflow's tokens (those stay in the processes' environment)."""
    return {name: value for name, value in sorted(env.items())
            if name.startswith(("AIRFLOW_HOME", "AIRFLOW__", "AIRFLOW_CONN_", "OPENDATA_"))
            and name not in SECRET_KEYS and name != "OPENDATA_ENV_FILE"}


def _start_worker(config: ClusterConfig, starter: AirflowStarter, common: Mapping[str, str], worker: Worker,
                  isolated: bool) -> None:
    """A Celery worker on its queues, in its own mount namespace when ``isolated``; waited for
    until Celery says it is ready (connected to the broker, consuming its queues)."""
    folder = config.worker_dir(worker)
    env = worker_env(common, folder, worker)
    command = _airflow("celery", "worker", "--queues", ",".join(worker.queues(config.token)),
                       "--concurrency", str(config.worker_concurrency),
                       "--celery-hostname", f"{worker.name}@{config.token}")
    if isolated:
        command = isolation.isolated(command, folder, config.local, list(FOLDERS))
    else:
        for sub in FOLDERS:
            (folder / sub).mkdir(parents=True, exist_ok=True)
    log = starter.processes.log(worker.name)
    offset = log.stat().st_size if log.exists() else 0
    starter.processes.start(worker.name, command, env)
    ready = f"{worker.name}@{config.token} ready."

    def celery_ready() -> str | None:
        with log.open("rb") as handle:
            handle.seek(offset)
            return None if ready.encode() in handle.read() else f"{worker.name} not ready yet"

    starter.waiter.wait(f"the Celery worker {worker.name}", celery_ready)
    where = "a private tmpfs in its own mount namespace" if isolated else f"its own folder {folder}"
    starter.say(f"{worker.name} ready on queues {', '.join(worker.queues(config.token))} ({where})")


__all__ = ["Cluster", "ClusterConfig", "Worker", "free_port", "launch", "start"]
