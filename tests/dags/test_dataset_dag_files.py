"""The dataset DAGs are spread over several DAG files, each parse bounded in time: however many
dataset files there are, or however slow some are, no DAG file nears Airflow's import timeout
and the DAGs that loaded before still load."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opendata.dag_factory import DATASET_DAG_FILES, shard_of, shard_of_dag_file
from tests.dags.test_dag_integrity import DAGS, NOT_DATASET_DAGS, REPO, dagbag

SAMPLES = ["building-permits", "restaurant-inspections", "service-requests-311"]


def test_every_dataset_dag_is_built_by_the_one_dag_file_its_id_hashes_to():
    files = sorted(path.name for path in DAGS.glob("datasets*.py"))
    assert files == sorted(["datasets.py"] + [f"datasets_{k}.py" for k in range(1, DATASET_DAG_FILES)])
    assert sorted(shard_of_dag_file(name) for name in files) == list(range(DATASET_DAG_FILES))
    bag = dagbag()
    assert bag.import_errors == {}
    for dag_id in set(bag.dag_ids) - NOT_DATASET_DAGS:
        assert shard_of_dag_file(bag.dags[dag_id].fileloc) == shard_of(dag_id), dag_id


def test_no_dataset_dag_file_imports_the_heavy_libraries():
    """The DAG processor re-parses often: pandas, pyarrow, sodapy and pandera load in tasks only."""
    code = ("import runpy, sys; [runpy.run_path(path) for path in sys.argv[1:]]; "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'sodapy', 'pandera', 'requests') if m in sys.modules))")
    files = [str(path) for path in sorted(DAGS.glob("datasets*.py"))] + [str(DAGS / "dataset_file_errors.py")]
    result = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr  # 1: dataset_file_errors.py raises only if a file is broken
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture
def deployment(tmp_path, monkeypatch) -> Path:
    include = tmp_path / "include"
    shutil.copytree(REPO / "include", include, ignore=shutil.ignore_patterns("sample_sources"))
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    from opendata.spec import cache

    monkeypatch.setattr(cache, "RACY_SECONDS", 0)  # the copies were just written
    return include


def test_a_parse_out_of_time_keeps_every_loaded_dag_and_names_the_files_it_left_for_later(deployment, monkeypatch):
    assert sorted(set(dagbag().dag_ids) - NOT_DATASET_DAGS) == SAMPLES
    source = deployment / "datasets" / "sanitation" / "service-requests-311.yaml"
    new = source.with_name("bulky-items.yaml")
    new.write_text(source.read_text().replace("id: service-requests-311", "id: bulky-items"))
    source.write_text(source.read_text().replace("update_frequency: daily", "update_frequency: dialy"))

    # No time left: unchanged files come from the cache, a changed file keeps its previous
    # result for one more parse, a new file waits for the next parse and is named meanwhile.
    monkeypatch.setenv("OPENDATA_PARSE_BUDGET_SECONDS", "0.000001")
    bag = dagbag()
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == SAMPLES
    assert (f"{new}: (file): not checked yet: this parse spent its time budget (OPENDATA_PARSE_BUDGET_SECONDS) "
            "on other new or changed files; the next parse checks it") in bag.import_errors["dataset_file_errors.py"]

    monkeypatch.delenv("OPENDATA_PARSE_BUDGET_SECONDS")
    bag = dagbag()
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == ["building-permits", "bulky-items",
                                                          "restaurant-inspections"]
    message = bag.import_errors["dataset_file_errors.py"]
    assert f"{source}:19: update_frequency:" in message and "not checked yet" not in message
