"""`opendata adopt` on the command line against the emulator: batches from the catalog (one file
each, idempotent), refusals with nothing written, dry runs, a source compared with the portal."""

from __future__ import annotations

import json

import pytest

from opendata.cli import main
from portal_emulator.testing import run_emulator
from tests.opendata.adopt.support import bike_rows, create_public_dataset

DEPARTMENT = "environmental-health"


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("portal")) as emu:
        yield emu


@pytest.fixture
def deployment(emu, tmp_path, monkeypatch):
    include = tmp_path / "include"
    (include / "datasets").mkdir(parents=True)
    from tests.conftest import REPO_ROOT

    (include / "governance.yaml").write_text((REPO_ROOT / "include" / "governance.yaml").read_text())
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.sqlite'}")
    user, password = emu.auth("publisher")
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
        "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
        "extra": {"max_retries": 1, "backoff_base": 0.05}}))
    return include


def adopt(*args: str) -> int:
    return main(["adopt", *args])


def files(include):
    return sorted(p.relative_to(include / "datasets").as_posix() for p in (include / "datasets").glob("*/*.yaml"))


def summary(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.split(" ")[0] in ("adopted", "already", "skipped", "failed",
                                                                         "dry-run")]


def test_a_batch_by_category_writes_one_file_each_and_is_idempotent(emu, deployment, capsys):
    from opendata.registry import Registry, Stage

    ids = [create_public_dataset(emu, name=f"Parks Visits {n}", rows=bike_rows(20, seed=n), category="Parks")
           for n in range(3)]
    private = create_public_dataset(emu, name="Parks Plans", rows=bike_rows(5), category="Parks", public=False)
    create_public_dataset(emu, name="Other Counts", rows=bike_rows(5), category="Health")
    capsys.readouterr()
    assert adopt("--department", DEPARTMENT, "--category", "Parks", "--by", "kevin-nguyen") == 0
    lines = summary(capsys.readouterr().out)
    assert sorted(line.split()[0] + " " + line.split()[1] for line in lines) == sorted(
        [f"adopted {i}" for i in ids] + [f"skipped {private}"])
    assert files(deployment) == [f"{DEPARTMENT}/parks-visits-{n}.yaml" for n in range(3)]
    registry = Registry.from_settings()
    assert {registry.get_state(f"parks-visits-{n}").portal_id for n in range(3)} == set(ids)
    assert all(registry.get_state(f"parks-visits-{n}").stage is Stage.STAGE_2 for n in range(3))
    assert registry.dataset_for_portal_id(private) is None

    # Again: nothing duplicated, nothing failed.
    before = {p: (deployment / "datasets" / p).read_text() for p in files(deployment)}
    assert adopt("--department", DEPARTMENT, "--category", "Parks", "--by", "kevin-nguyen") == 0
    again = summary(capsys.readouterr().out)
    assert sorted(line.split()[0] for line in again) == ["already", "already", "already", "skipped"]
    assert {p: (deployment / "datasets" / p).read_text() for p in files(deployment)} == before
    assert all(len(registry.history(f"parks-visits-{n}")) == 1 for n in range(3))

    # A file lost after its adoption is written again; the registry is not touched.
    (deployment / "datasets" / DEPARTMENT / "parks-visits-1.yaml").unlink()
    assert adopt("--department", DEPARTMENT, "--category", "Parks", "--by", "kevin-nguyen") == 0
    assert "file written again" in capsys.readouterr().out
    assert len(files(deployment)) == 3 and len(registry.history("parks-visits-1")) == 1


def test_a_batch_by_owner_and_one_failure_does_not_stop_the_others(emu, deployment, capsys, monkeypatch):
    owner = emu.session("publisher").get(f"{emu.url}/api/views/{create_public_dataset(emu, name='Owned A', rows=bike_rows(3), category='Owned')}.json", timeout=10).json()["owner"]["id"]  # noqa: E501
    create_public_dataset(emu, name="Owned B", rows=bike_rows(3), category="Owned")
    (deployment / "datasets" / "sanitation").mkdir()
    (deployment / "datasets" / "sanitation" / "owned-b.yaml").write_text("id: owned-b\n")  # the id is taken
    capsys.readouterr()
    assert adopt("--department", DEPARTMENT, "--owner", owner, "--by", "kevin-nguyen") == 1
    out = capsys.readouterr().out
    lines = summary(out)
    assert any(line.startswith("failed") and "owned-b" in line and "already held" in line for line in lines)
    assert any(line.startswith("adopted") and "as owned-a" in line for line in lines)
    assert "failed" in out.splitlines()[-1]


def test_refusals_write_nothing(emu, deployment, capsys):
    private = create_public_dataset(emu, name="Draft Counts", rows=bike_rows(3), public=False)
    assert adopt(private, "--department", DEPARTMENT, "--by", "kevin-nguyen") == 1
    assert "is private, not public: adopt takes over public datasets only" in capsys.readouterr().out
    assert adopt("zzzz-9999", "--department", DEPARTMENT, "--by", "kevin-nguyen") == 1
    assert "the portal has no dataset zzzz-9999" in capsys.readouterr().out
    public = create_public_dataset(emu, name="Known Counts", rows=bike_rows(3))
    assert adopt(public, "--department", DEPARTMENT, "--by", "kevin-nguyn") == 2
    assert "did you mean 'kevin-nguyen'?" in capsys.readouterr().err
    marked = create_public_dataset(emu, name="Marked Counts", rows=bike_rows(3), custom_fields={
        "Dataset Information": {"Pipeline Dataset ID": "marked-counts"}})
    assert adopt(marked, "--department", DEPARTMENT, "--by", "kevin-nguyen") == 1
    assert "carries the pipeline's marker" in capsys.readouterr().out
    assert files(deployment) == []
    from opendata.registry import Registry

    registry = Registry.from_settings()
    assert [registry.dataset_for_portal_id(i) for i in (private, public, marked)] == [None, None, None]
    # Adopted once; another id for the same portal dataset is refused.
    assert adopt(public, "--department", DEPARTMENT, "--by", "kevin-nguyen") == 0
    assert adopt(public, "--department", DEPARTMENT, "--id", "second-copy", "--by", "kevin-nguyen") == 0
    assert "already adopted" in capsys.readouterr().out
    assert files(deployment) == [f"{DEPARTMENT}/known-counts.yaml"]


def test_a_dry_run_prints_the_file_and_writes_nothing(emu, deployment, capsys):
    public = create_public_dataset(emu, name="Dry Counts", rows=bike_rows(3))
    assert adopt(public, "--by", "kevin-nguyen", "--dry-run") == 0  # the department from its custom field
    out = capsys.readouterr().out
    assert "would be dry-counts" in out and "name: Dry Counts" in out and "department: environmental-health" in out
    assert files(deployment) == []
    from opendata.registry import Registry

    assert Registry.from_settings().dataset_for_portal_id(public) is None


def test_a_source_whose_columns_differ_is_reported_naming_them(emu, deployment, capsys, tmp_path):
    """Through opendata new's real file profile: the export lacks the portal's location column and
    its counted_on holds text that is no date."""
    import csv

    source = tmp_path / "counts.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["count_id", "counted_on", "riders", "weekend"])
        writer.writeheader()
        writer.writerows({"count_id": f"C{i:05d}", "counted_on": "soon", "riders": i * 7,
                          "weekend": "true" if i % 2 else "false"} for i in range(5))
    public = create_public_dataset(emu, name="Source Counts", rows=bike_rows(5))
    assert adopt(public, "--department", DEPARTMENT, "--file", str(source), "--by", "kevin-nguyen") == 0
    out = capsys.readouterr().out
    assert "column mismatch: on the portal, not in the source: location (text)" in out
    assert "column mismatch: counted_on is calendar_date on the portal but counted_on is" in out, out
    import yaml

    data = yaml.safe_load((deployment / "datasets" / DEPARTMENT / "source-counts.yaml").read_text())
    by_field = {c["field_name"]: c for c in data["columns"]}
    assert by_field["location"]["source_column"].startswith("TODO: the source has no column location")
    assert by_field["counted_on"]["source_column"].startswith("TODO: counted_on is")
    assert "source_column" not in by_field["riders"] and "source_column" not in by_field["weekend"]
    assert data["source"]["kind"] == "file" and data["source"]["path"].endswith("counts.csv")


def test_the_installed_command_prints_its_summary_without_the_hooks_request_lines(emu, deployment):
    import os
    import subprocess
    import sys
    from pathlib import Path

    public = create_public_dataset(emu, name="Quiet Counts", rows=bike_rows(5))
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW__LOGGING__LOGGING_LEVEL"}
    done = subprocess.run([str(Path(sys.executable).parent / "opendata"), "adopt", public, "--by", "kevin-nguyen",
                           "--department", DEPARTMENT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"adopted          {public}  as quiet-counts" in done.stdout
    assert "Socrata GET" not in done.stdout + done.stderr
