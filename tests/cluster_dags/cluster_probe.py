"""A probe DAG of the distributed test (a DAG bundle of its own there, never in dags/): one task
on the source queue writes a file into its worker's private state folder, the next, on the portal
queue, looks for it at the same path. On workers that share no disk it is not there."""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import dag, task

from opendata import settings

SOURCE_QUEUE = os.environ.get("OPENDATA_SOURCE_QUEUE") or "default"
PORTAL_QUEUE = os.environ.get("OPENDATA_PORTAL_QUEUE") or "default"


@dag(dag_id="cluster_probe", schedule=None, catchup=False, tags=["test"])
def cluster_probe():
    @task(queue=SOURCE_QUEUE)
    def write_private() -> str:
        path = settings.state_dir() / "cluster-probe.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("written by the first task\n")
        return str(path)

    @task(queue=PORTAL_QUEUE)
    def look_for(path: str) -> dict:
        return {"path": path, "seen": Path(path).exists()}

    look_for(write_private())


cluster_probe()
