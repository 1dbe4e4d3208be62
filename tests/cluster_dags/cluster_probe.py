"""A probe DAG of the distributed test (a DAG bundle of its own there, never in dags/): one task
on the source queue writes a file into its worker's private state folder, the next, on the portal
queue, looks for it at the same path. On workers that share no disk it is not there."""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import dag, task

from opendata import settings

# The queues the dataset DAGs use for extract and for portal writes (unset: the default queue).
ROUTING = {"source": settings.source_queue(), "portal": settings.portal_queue()}


@dag(dag_id="cluster_probe", schedule=None, catchup=False, tags=["test"])
def cluster_probe():
    @task(**({"queue": ROUTING["source"]} if ROUTING["source"] else {}))
    def write_private() -> str:
        path = settings.state_dir() / "cluster-probe.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("written by the first task\n")
        return str(path)

    @task(**({"queue": ROUTING["portal"]} if ROUTING["portal"] else {}))
    def look_for(path: str) -> dict:
        return {"path": path, "seen": Path(path).exists()}

    look_for(write_private())


cluster_probe()
