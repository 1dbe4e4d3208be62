"""What a distributed run is made of: its names (all carrying the run's token), its two workers,
the settings every process shares, and each component's own folders (:mod:`.launcher` starts it).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from opendata.cluster.services import ObjectStore, PostgresServer
from opendata.demo import DemoConfig, demo_settings

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
STORAGE_CONN_ID = "opendata_storage"
HOSTNAME_CALLABLE = "opendata.cluster.hostname.task_hostname"
# Each component's folders: Airflow home, the project's state (per-machine caches), scratch
# (downloads), TMPDIR and Airflow's log folder.
FOLDERS = ("airflow", "state", "scratch", "tmp", "logs")
# Airflow's control plane, in start order (the workers start before the scheduler, last).


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
