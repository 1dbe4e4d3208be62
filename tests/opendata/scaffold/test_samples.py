"""The bundled samples, drafted from their sources: the drafts agree with the files people wrote by
hand (field names, types, row identifier), and differ where a draft must be safer than a decision
(addresses masked until a person says they are places)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from opendata.scaffold.command import NewRequest, run_new
from tests.conftest import PG_HOST, PG_PORT, PG_USER, SAMPLE_SOURCES
from tests.opendata.scaffold.conftest import REPO_INCLUDE


def _agrees_with(draft: dict, written_file: str, masked: str) -> None:
    written = yaml.safe_load((REPO_INCLUDE / "datasets" / written_file).read_text())
    assert [(c["field_name"], c["type"]) for c in draft["columns"]] == [
        (c["field_name"], c["type"]) for c in written["columns"]]
    assert draft["publishing"]["row_identifier"] == written["publishing"]["row_identifier"]
    # By hand: allowed with a justification (addresses of places); drafted: masked until someone says so.
    assert list(written["privacy"]["allowed"]) == [masked]
    assert draft["privacy"] == {"mask": {masked: {"method": "hundred_block"}}}


def test_the_311_csv(include_dir):
    shutil.copy(SAMPLE_SOURCES / "service_requests_311.csv", include_dir / "sample_sources")
    result = run_new(NewRequest(dataset_id="drafted-311", department="sanitation", include_dir=include_dir,
                                file=include_dir / "sample_sources" / "service_requests_311.csv"))
    _agrees_with(result.draft.data, "sanitation/service-requests-311.yaml", "address")
    assert result.draft.data["source"] == {"kind": "file", "path": "sample_sources/service_requests_311.csv"}


def test_the_inspections_api(include_dir, inspections_api):
    result = run_new(NewRequest(dataset_id="drafted-inspections", department="environmental-health",
                                include_dir=include_dir, http=f"{inspections_api}/api/v1/inspections",
                                records_path="data"))
    _agrees_with(result.draft.data, "environmental-health/restaurant-inspections.yaml", "facility_address")
    # The sample API pages its 3,000 records 1,000 at a time: the draft says pagination is needed.
    assert any("the body says 3,000 records; this answer held 1,000" in note for note in result.draft.notes)


@pytest.mark.postgres
def test_the_permits_database(include_dir, permits_postgres, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PERMITS_PG", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{permits_postgres}")
    result = run_new(NewRequest(dataset_id="drafted-permits", department="building-and-safety",
                                include_dir=include_dir, sql=("permits_pg", "building_permits")))
    _agrees_with(result.draft.data, "building-and-safety/building-permits.yaml", "address")
    assert "watermark" not in result.draft.data["source"]  # no updated-at column, a text key
