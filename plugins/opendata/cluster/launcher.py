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

Start-up variables (read here, like the demo's, not deployment settings):
``OPENDATA_CLUSTER_POSTGRES``, ``OPENDATA_CLUSTER_REDIS``, the demo's port variables plus
``OPENDATA_WORKER_B_LOG_PORT`` and ``OPENDATA_OBJECT_STORE_PORT``.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from opendata import settings
from opendata.cluster import isolation
from opendata.cluster.services import ObjectStore, PostgresServer, RedisBroker, ServiceError
from opendata.demo import (
    AirflowStarter,
    DemoConfig,
    DemoError,
    Processes,
    TaskWatcher,
    _airflow,
    _governance_people,
    _prepare_sources,
    _print_banner,
    _refuse_busy_ports,
    _start_helpers,
    _write_settings,
    demo_settings,
    environment,
)

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
STORAGE_CONN_ID = "opendata_storage"
HOSTNAME_CALLABLE = "opendata.cluster.hostname.task_hostname"
# Each component's folders: Airflow home, the project's state (per-machine caches), scratch
# (downloads), TMPDIR and Airflow's log folder.
FOLDERS = ("airflow", "state", "scratch", "tmp", "logs")
# Airflow's control plane, in start order (the workers start before the scheduler, last).
CONTROL_PLANE = ("api-server", "dag-processor", "triggerer")
ISOLATION_CHOICES = ("require", "auto")


@dataclass(frozen=True)
class Worker:
    name: str          # its task hostname and Celery node name
    role: str          # the queue it takes besides the default one: "sources" or "portal"
    log_port: int

    def queues(self, token: str) -> list[str]:
        return [queue_name("default", token), queue_name(self.role, token)]


def queue_name(role: str, token: str) -> str:
    """The run's Celery queue for ``role`` (unique per run: two runs on one Redis never share one)."""
    return f"{role}-{token}"


@dataclass
class ClusterConfig(DemoConfig):
    postgres: str = DEFAULT_POSTGRES
    redis: str = DEFAULT_REDIS
    token: str = field(default_factory=lambda: secrets.token_hex(4))
    object_store_port: int = 8797
    worker_b_log_port: int = 8795
    # "require": refuse to start without private mounts; "auto": say so and use plain folders.
    isolation: str = "auto"
    worker_concurrency: int = 2
    # More DAG folders beside the DAGs folder, as Airflow DAG bundles: name -> folder.
    dag_bundles: dict[str, Path] = field(default_factory=dict)
    # The DAG ids the start waits for (None: one per dataset file of the include folder).
    expected_dags: set[str] | None = None
    store_secret: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    # Where the settings for other terminals go (None: demo.env in the run folder); the command
    # writes them where every `opendata` command looks, as `opendata demo` does.
    settings_file: Path | None = None

    @property
    def env_file(self) -> Path:
        return self.settings_file if self.settings_file is not None else super().env_file

    @property
    def workers(self) -> tuple[Worker, Worker]:
        return (Worker("worker-a", "sources", self.worker_log_port),
                Worker("worker-b", "portal", self.worker_b_log_port))

    @property
    def airflow_database(self) -> str:
        return f"opendata_cluster_{self.token}_airflow"

    @property
    def registry_database(self) -> str:
        return f"opendata_cluster_{self.token}_registry"

    @property
    def bucket(self) -> str:
        return f"opendata-{self.token}"

    @property
    def storage_url(self) -> str:
        return f"s3://{self.bucket}/opendata"

    @property
    def redis_prefix(self) -> str:
        return f"opendata-{self.token}:"

    @property
    def object_store(self) -> ObjectStore:
        return ObjectStore(f"http://127.0.0.1:{self.object_store_port}", f"opendata-{self.token}", self.store_secret)

    def ports(self) -> dict[str, int]:
        return {**super().ports(), "OPENDATA_WORKER_B_LOG_PORT": self.worker_b_log_port,
                "OPENDATA_OBJECT_STORE_PORT": self.object_store_port}

    def component_dir(self, name: str) -> Path:
        return self.local / "components" / name

    def worker_dir(self, worker: Worker) -> Path:
        return self.local / "workers" / worker.name


def cluster_settings(config: ClusterConfig, secret_keys: Mapping[str, str]) -> dict[str, str]:
    """What every process of the run shares (each component adds its own folders)."""
    postgres = PostgresServer(config.postgres)
    metadata = postgres.sqlalchemy_url(config.airflow_database)
    values = demo_settings(config)
    values.update({
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__CELERY__BROKER_URL": config.redis,
        # Every Redis key of the run (queues, unacked messages, worker mailboxes) under its prefix.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": config.redis_prefix,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(config.worker_concurrency),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue_name("default", config.token),
        "OPENDATA_SOURCE_QUEUE": queue_name("sources", config.token),
        "OPENDATA_PORTAL_QUEUE": queue_name("portal", config.token),
        "OPENDATA_REGISTRY_URL": postgres.sqlalchemy_url(config.registry_database),
        "OPENDATA_STORAGE_URL": config.storage_url,
        "OPENDATA_STORAGE_CONN_ID": STORAGE_CONN_ID,
        f"AIRFLOW_CONN_{STORAGE_CONN_ID.upper()}": config.object_store.connection(),
        # Task logs on the object store: the API server reads a finished task's log there.
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"s3://{config.bucket}/airflow-logs",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": STORAGE_CONN_ID,
        **secret_keys,
    })
    if config.dag_bundles:
        bundles = [{"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {}}]
        bundles += [{"name": name, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                     "kwargs": {"path": str(path)}} for name, path in config.dag_bundles.items()]
        values["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(bundles)
    return values


SECRET_KEYS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")


def generate_secret_keys() -> dict[str, str]:
    """Keys every component must share (they sign the tokens tasks and log servers check; with
    separate Airflow homes, each would otherwise generate its own); one set per run, in the
    processes' environment only (never in a file)."""
    from cryptography.fernet import Fernet

    jwt_secret, secret_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    return dict(zip(SECRET_KEYS, (jwt_secret, secret_key, Fernet.generate_key().decode()), strict=True))


def folders_env(folder: Path) -> dict[str, str]:
    """A component's own folders: nothing another component writes or reads."""
    return {"AIRFLOW_HOME": str(folder / "airflow"), "OPENDATA_STATE_DIR": str(folder / "state"),
            "OPENDATA_SCRATCH_DIR": str(folder / "scratch"), "TMPDIR": str(folder / "tmp"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(folder / "logs")}


def worker_env(common: Mapping[str, str], folder: Path, worker: Worker) -> dict[str, str]:
    return {**common, **folders_env(folder), "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE,
            "OPENDATA_WORKER_HOSTNAME": worker.name,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker.log_port)}


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


# --- opendata demo --celery ------------------------------------------------------------------------------

def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise DemoError(f"{variable}={raw!r}: give a port number") from None


def load_config(root: Path) -> ClusterConfig:
    """The command's configuration: the demo's variables plus the cluster's (module docstring)."""
    from opendata.demo import load_config as load_demo_config

    demo = load_demo_config(root)
    return ClusterConfig(
        **{name: getattr(demo, name) for name in DemoConfig.__dataclass_fields__},
        postgres=os.environ.get("OPENDATA_CLUSTER_POSTGRES", "").strip() or DEFAULT_POSTGRES,
        redis=os.environ.get("OPENDATA_CLUSTER_REDIS", "").strip() or DEFAULT_REDIS,
        worker_b_log_port=_port("OPENDATA_WORKER_B_LOG_PORT", 8795),
        object_store_port=_port("OPENDATA_OBJECT_STORE_PORT", 8797),
        isolation="auto")


def main(check_only: bool = False) -> int:
    """``opendata demo --celery``: like ``opendata demo``, on the distributed deployment; its
    files in .local/cluster (or $OPENDATA_DEMO_DIR/cluster), its settings for other terminals in
    .local/demo.env as the demo's. Ctrl-C stops it and removes its databases and Redis keys."""
    root = settings.include_dir().parent

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cluster: Cluster | None = None
    started = time.monotonic()
    try:
        config = load_config(root)
        config.settings_file = config.env_file     # .local/demo.env: read by every opendata command
        config.local_dir = config.local / "cluster"
        cluster = launch(config)
        _print_banner(config, cluster.logs, time.monotonic() - started)
        _print_cluster(cluster)
        if check_only:
            return 0
        watcher = TaskWatcher(config)
        while all(p.poll() is None for p in cluster.processes.running.values()):
            watcher.poll()
            time.sleep(1)
        crashed = [name for name, p in cluster.processes.running.items() if p.poll() is not None]
        print(f"Stopped: {', '.join(crashed)} exited; see {cluster.logs}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except DemoError as exc:
        print(f"Demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if cluster is not None:
            cluster.stop()


def _print_cluster(cluster: Cluster) -> None:
    config = cluster.config
    lines = [f"  Celery:            {name} ({', '.join(w.queues(config.token))}), "
             f"{'private tmpfs' if cluster.isolated else 'own folder'}: {cluster.worker_private_dir(name)}"
             for name, w in ((w.name, w) for w in config.workers)]
    lines += [f"  Object store:      {cluster.object_store_url}   (moto; staging at {cluster.storage_url}, "
              f"task logs at s3://{config.bucket}/airflow-logs)",
              f"  Databases:         {config.airflow_database}, {config.registry_database} on "
              f"{PostgresServer(config.postgres).shown()} (dropped at Ctrl-C); Redis prefix {config.redis_prefix}",
              ""]
    print("\n".join(lines), flush=True)


__all__ = ["Cluster", "ClusterConfig", "Worker", "free_port", "launch", "main", "queue_name", "start"]
