"""The dags/ folder as Airflow's DAG processor sees it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from opendata.spec.loader import dataset_files, load_catalog

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
# DAGs that are not built from a dataset file (dags/freshness_monitor.py, dags/open_data_catalog.py).
NOT_DATASET_DAGS = {"opendata_freshness_monitor", "opendata_data_json", "opendata_quarterly_report"}


def dagbag(folder: Path = DAGS):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")


def test_every_dataset_file_gives_exactly_one_dag_a_planned_one_none_and_no_import_errors(capsys):
    started = time.perf_counter()
    bag = dagbag()
    elapsed = time.perf_counter() - started
    assert bag.import_errors == {}
    files = dataset_files(REPO / "include" / "datasets")
    catalog = load_catalog(REPO / "include")
    planned = {loaded.path.stem for loaded in catalog.planned}
    assert planned == {"soft-story-retrofit-orders"}  # the bundled planned file (status: planned)
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == sorted(path.stem for path in files
                                                                 if path.stem not in planned)
    with capsys.disabled():
        print(f"\nDagBag of {len(files)} dataset DAGs parsed in {elapsed:.2f} s")
        for stat in bag.dagbag_stats:
            print(f"  {stat.file}: {stat.dag_num} DAG(s) in {stat.duration.total_seconds():.3f} s")


@pytest.mark.parametrize("dataset_id", ["building-permits", "service-requests-311", "restaurant-inspections"])
def test_dataset_dag_shape(dataset_id):
    dag = dagbag().dags[dataset_id]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert {tag.split(":")[0] for tag in dag.tags} == {"department", "classification", "stage", "updates"}
    assert "stage:not-ready" in dag.tags
    assert "classification:public-level-1" in dag.tags
    for task in dag.tasks:
        assert task.retries >= 1
        assert task.retry_exponential_backoff
        assert task.owner != "airflow"  # the data steward owns the dataset's DAG
    assert [task.task_id for task in dag.topological_sort()] == [
        "plan", "extract", "validate", "department_approval", "push_private", "await_public_approval",
        "go_public", "shrink_approval", "refresh", "finish"]
    assert "### Data Submission Checklist" in dag.doc_md


def test_on_every_path_each_task_left_waits_for_the_one_before():
    # The plan skips a path's idle tasks at once; trigger rules read direct upstreams only.
    from opendata.lifecycle.plan import RunPath
    from opendata.lifecycle.preskip import may_run

    dag = dagbag().dags["restaurant-inspections"]
    for path in RunPath:
        left = may_run(path)
        for before, after in zip(left, left[1:], strict=False):
            assert before in dag.get_task(after).upstream_task_ids, (path, before, after)


def test_dataset_dag_takes_owner_schedule_and_tags_from_the_file():
    dag = dagbag().dags["restaurant-inspections"]
    assert dag.owner_links == {"Omar Haddad": "mailto:omar.haddad@ehd.lacity.example"}
    assert dag.tasks[0].owner == "Omar Haddad"
    assert "department:environmental-health" in dag.tags
    assert "updates:weekly" in dag.tags
    # Weekly, at the dataset's own day and time (spec/schedule.py); a file's dag.schedule is used as written.
    assert dag.schedule == "46 6 * * 2"
    assert dagbag().dags["building-permits"].schedule == "24 6 * * *"


def test_stage_tag_follows_the_registry(monkeypatch, tmp_path):
    import datetime as dt

    from opendata.registry import Registry

    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path))
    registry = Registry.from_settings()
    registry.record_submission("building-permits", at=dt.datetime.now(dt.UTC))
    registry.record_public("building-permits", at=dt.datetime.now(dt.UTC))
    registry.close()
    bag = dagbag()
    assert "stage:stage-2" in bag.dags["building-permits"].tags
    assert "stage:not-ready" in bag.dags["service-requests-311"].tags


def test_broken_file_is_an_import_error_naming_file_and_field_while_others_load(monkeypatch, tmp_path):
    include = tmp_path / "include"
    shutil.copytree(REPO / "include", include, ignore=shutil.ignore_patterns("sample_sources"))
    broken = include / "datasets" / "sanitation" / "service-requests-311.yaml"
    broken.write_text(broken.read_text().replace("update_frequency: daily", "update_frequency: dialy"))
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))

    bag = dagbag()
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == ["building-permits", "restaurant-inspections"]
    # Import errors are keyed by the file's path inside the DAG bundle.
    assert list(bag.import_errors) == ["dataset_file_errors.py"]
    message = bag.import_errors["dataset_file_errors.py"]
    assert f"{broken}:19: update_frequency: Input should be 'hourly'" in message
    assert "(did you mean 'daily'?)" in message


def test_parsing_makes_no_network_or_database_calls(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a DAG file opened a network connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    bag = dagbag()
    assert bag.import_errors == {}
    assert len(set(bag.dag_ids) - NOT_DATASET_DAGS) == 3


def test_parsing_does_not_import_the_heavy_libraries():
    """The DAG processor re-parses often: pandas, pyarrow, sodapy and pandera load in tasks only."""
    import subprocess
    import sys

    code = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'sodapy', 'pandera', 'requests') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(DAGS / "datasets.py")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
