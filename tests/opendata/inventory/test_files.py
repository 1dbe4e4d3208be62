"""The dataset files' summaries: real files from include/ and generated ones, each parsed once per
change, kept between processes under the state folder, broken files listed and never fatal."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from opendata.freshness.sources import load_dataset_files
from opendata.inventory.files import DatasetFileIndex
from opendata.samples.portal_world import dataset_file
from opendata.spec.errors import SpecFileError
from tests.conftest import REPO_ROOT


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def not_racy(monkeypatch):
    """Files written by the test a moment ago count as settled (else they are never kept)."""
    monkeypatch.setattr("opendata.spec.cache.RACY_SECONDS", 0.0)


def generated(tmp_path: Path, count: int) -> Path:
    include = tmp_path / "include"
    (include / "datasets").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "include" / "governance.yaml", include / "governance.yaml")
    for n in range(count):
        department = ("sanitation", "building-and-safety")[n % 2]
        folder = include / "datasets" / department
        folder.mkdir(exist_ok=True)
        (folder / f"set-{n:03d}.yaml").write_text(yaml.safe_dump(dataset_file(f"set-{n:03d}", department, "weekly")))
    return include


def test_the_bundled_files_as_the_monitors_reader_reads_them():
    index = DatasetFileIndex(REPO_ROOT / "include", cache_file=None)
    snapshot = index.snapshot()
    specs = load_dataset_files(REPO_ROOT / "include").specs
    assert set(snapshot.summaries) == set(specs) == {"building-permits", "restaurant-inspections",
                                                     "service-requests-311"}
    assert snapshot.problems == ()
    for dataset_id, spec in specs.items():
        summary = snapshot.summaries[dataset_id]
        assert (summary.name, summary.department, summary.steward_name, summary.coordinator,
                summary.update_frequency, summary.classification_level) == (
            spec.name, spec.department, spec.steward.name, spec.coordinator, spec.update_frequency.value,
            spec.classification.level)
        assert summary.path == f"{spec.department}/{dataset_id}.yaml"
    # restaurant-inspections records its Step 1 approval on paper.
    paper = snapshot.summaries["restaurant-inspections"].step1_on_paper
    assert paper is not None and paper.approved_by
    assert snapshot.department_name("sanitation") == "LA Sanitation and Environment"
    # The planned sample (status: planned) is on the timeline, not among the datasets that run.
    (plan,) = snapshot.planned
    assert (plan.dataset_id, plan.department, plan.target_date) == (
        "soft-story-retrofit-orders", "building-and-safety", dt.date(2027, 3, 31))
    assert index.parsed == 4
    index.snapshot()
    assert index.parsed == 0


def test_a_planned_file_is_kept_between_processes_and_reaches_the_timeline(tmp_path, state, not_racy):
    include = generated(tmp_path, 2)
    planned = dataset_file("set-plan", "sanitation", "monthly")
    for section in ("source", "columns", "publishing"):
        planned.pop(section, None)
    planned.update(status="planned", target_date="2026-01-15")
    (include / "datasets" / "sanitation" / "set-plan.yaml").write_text(yaml.safe_dump(planned))
    first = DatasetFileIndex(include).snapshot()
    fresh = DatasetFileIndex(include)
    second = fresh.snapshot()
    assert fresh.parsed == 0 and second.planned == first.planned
    (plan,) = second.planned
    assert plan.dataset_id == "set-plan" and plan.target_date == dt.date(2026, 1, 15)
    assert "set-plan" not in second.summaries and second.problems == ()


def test_only_changed_files_are_parsed_again_and_a_new_process_reads_the_kept_summaries(tmp_path, state,
                                                                                         not_racy):
    include = generated(tmp_path, 6)
    index = DatasetFileIndex(include)
    first = index.snapshot()
    assert index.parsed == 6 and len(first.summaries) == 6
    changed = include / "datasets" / "sanitation" / "set-000.yaml"
    document = yaml.safe_load(changed.read_text())
    document["name"] = "Renamed dataset"
    changed.write_text(yaml.safe_dump(document))
    (include / "datasets" / "building-and-safety" / "set-001.yaml").unlink()
    second = index.snapshot()
    assert index.parsed == 1
    assert second.summaries["set-000"].name == "Renamed dataset" and "set-001" not in second.summaries
    assert list((state / "inventory-cache").glob("*.json"))
    # Another API server worker, or a restart: nothing to parse again.
    fresh = DatasetFileIndex(include)
    assert fresh.snapshot().summaries == second.summaries
    assert fresh.parsed == 0


def test_a_file_changed_a_moment_ago_is_not_kept(tmp_path):
    include = generated(tmp_path, 2)
    DatasetFileIndex(include).snapshot()
    again = DatasetFileIndex(include)
    again.snapshot()
    assert again.parsed == 2  # both files are younger than two seconds: parsed again


def test_broken_and_duplicate_files_are_listed_never_fatal(tmp_path, not_racy):
    include = generated(tmp_path, 3)
    (include / "datasets" / "sanitation" / "set-000.yaml").write_text("id: set-000\nname: [unclosed\n")
    twin = include / "datasets" / "environmental-health"
    twin.mkdir()
    (twin / "set-001.yaml").write_text(yaml.safe_dump(dataset_file("set-001", "environmental-health", "daily")))
    wrong = include / "datasets" / "sanitation" / "named-otherwise.yaml"
    wrong.write_text(yaml.safe_dump(dataset_file("set-777", "sanitation", "daily")))
    snapshot = DatasetFileIndex(include, cache_file=None).snapshot()
    assert set(snapshot.summaries) == {"set-001", "set-002"}
    assert snapshot.summaries["set-001"].department == "building-and-safety"  # the first by path holds the id
    problems = {p.path: p.reason for p in snapshot.problems}
    assert set(problems) == {"sanitation/set-000.yaml", "environmental-health/set-001.yaml",
                             "sanitation/named-otherwise.yaml"}
    assert "opendata lint" in problems["sanitation/set-000.yaml"]
    assert "another file holds" in problems["environmental-health/set-001.yaml"]


def test_a_governance_file_that_does_not_load_fails_the_snapshot(tmp_path):
    include = generated(tmp_path, 1)
    (include / "governance.yaml").write_text("people: {}\n")
    with pytest.raises(SpecFileError):
        DatasetFileIndex(include, cache_file=None).snapshot()


def test_the_quick_key_is_the_parse_caches_key(tmp_path):
    import os

    from opendata.inventory.files import quick_key
    from opendata.spec.cache import file_key

    include = generated(tmp_path, 2)
    linked_folder = tmp_path / "elsewhere"
    linked_folder.mkdir()
    os.symlink(include / "datasets" / "sanitation", include / "datasets" / "linked")
    os.symlink(include / "datasets" / "sanitation" / "set-000.yaml", include / "datasets" / "sanitation" / "l.yaml")
    folders: dict[str, str] = {}
    for path in sorted((include / "datasets").glob("*/*.yaml")):
        assert quick_key(path, folders) == file_key(path), path
    assert quick_key(include / "datasets" / "missing.yaml", folders) is None
