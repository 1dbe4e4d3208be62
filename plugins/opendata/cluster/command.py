"""``opendata demo --celery``: the distributed deployment of :mod:`.launcher` as a command, like
``opendata demo`` (the banner, the watcher that says who is asked for what, Ctrl-C stops it all).

Start-up variables (read here, like the demo's; not deployment settings): the demo's, plus
``OPENDATA_CLUSTER_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432``),
``OPENDATA_CLUSTER_REDIS`` (default ``redis://127.0.0.1:6379/0``), ``OPENDATA_WORKER_B_LOG_PORT``
(8795) and ``OPENDATA_OBJECT_STORE_PORT`` (8797).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from opendata import settings
from opendata.cluster.config import DEFAULT_POSTGRES, DEFAULT_REDIS, ClusterConfig
from opendata.cluster.launcher import Cluster, launch
from opendata.cluster.services import PostgresServer
from opendata.demo import DemoConfig, DemoError, _port, _print_banner, watch


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
        return watch(config, cluster.processes, cluster.logs)
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
