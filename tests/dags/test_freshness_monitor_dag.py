"""dags/freshness_monitor.py as Airflow's DAG processor sees it: cheap to parse, the right shape."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "freshness_monitor.py"


def monitor_bag(tmp_path: Path):
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "dags"
    folder.mkdir()
    shutil.copy(DAG_FILE, folder)
    return DagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")


def test_parsing_does_not_import_the_heavy_libraries():
    # Nor the monitor's own task-time modules: the registry, the portal hook, the dataset files.
    code = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'sodapy', 'pandera', 'requests', 'opendata.registry', "
            "'opendata.portal.hook', 'opendata.spec.loader', 'opendata.freshness.monitor') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(DAG_FILE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_parsing_makes_no_network_or_database_calls(monkeypatch, tmp_path):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the monitor's DAG file opened a network connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # No dataset file, registry or portal is read at parse time: an empty include folder is fine.
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(tmp_path / "nothing-here"))
    bag = monitor_bag(tmp_path)
    assert bag.import_errors == {}
    assert bag.dag_ids == ["opendata_freshness_monitor"]


def test_hourly_two_independent_tasks_one_run_at_a_time(tmp_path):
    dag = monitor_bag(tmp_path).dags["opendata_freshness_monitor"]
    assert dag.schedule == "@hourly"
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert sorted(task.task_id for task in dag.tasks) == ["check_freshness", "watch_comments"]
    for task in dag.tasks:
        assert task.upstream_task_ids == set() and task.retries >= 1
    assert "dataUpdatedAt" in dag.doc_md and "comments_answered" in dag.doc_md


def test_schedule_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENDATA_FRESHNESS_SCHEDULE", "*/30 * * * *")
    assert monitor_bag(tmp_path).dags["opendata_freshness_monitor"].schedule == "*/30 * * * *"
