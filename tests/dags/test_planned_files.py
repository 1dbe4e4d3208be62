"""Planned dataset files as Airflow's DAG processor sees them: no DAG and no import error for a
planned file, and a file switching between planned and active gains and loses its DAG on the
next parse, the parse cache on (as deployed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.dags.test_dag_integrity import NOT_DATASET_DAGS, REPO, dagbag

SAMPLES = ["building-permits", "restaurant-inspections", "service-requests-311"]
SANITATION = "datasets/sanitation/service-requests-311.yaml"


@pytest.fixture
def deployment(tmp_path, monkeypatch) -> Path:
    include = tmp_path / "include"
    shutil.copytree(REPO / "include", include, ignore=shutil.ignore_patterns("sample_sources"))
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("OPENDATA_PARSE_CACHE", raising=False)
    from opendata.spec import cache

    monkeypatch.setattr(cache, "RACY_SECONDS", 0)  # the edits are made a moment apart
    return include


def dataset_dags() -> tuple[list[str], dict[str, str]]:
    bag = dagbag()
    return sorted(set(bag.dag_ids) - NOT_DATASET_DAGS), bag.import_errors


def test_a_planned_file_gets_no_dag_and_a_file_switching_status_gains_and_loses_its_dag(deployment):
    from opendata.registry.stage_snapshot import read_dataset_files

    # The bundled planned file: no DAG, no import error.
    assert dataset_dags() == (SAMPLES, {})
    # It holds its id like any file (so the id stays with it when it becomes active).
    assert read_dataset_files()["soft-story-retrofit-orders"] == "building-and-safety/soft-story-retrofit-orders.yaml"

    path = deployment / SANITATION
    running = path.read_text()
    path.write_text(running.replace("\nschema_version: 1\n", "\nstatus: planned\ntarget_date: 2027-06-30\n"
                                                             "schema_version: 1\n"))
    assert dataset_dags() == (["building-permits", "restaurant-inspections"], {})
    assert read_dataset_files()["service-requests-311"] == "sanitation/service-requests-311.yaml"

    path.write_text(running)
    assert dataset_dags() == (SAMPLES, {})
