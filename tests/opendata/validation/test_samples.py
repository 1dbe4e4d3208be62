"""The three bundled sample datasets, extracted from their real sources: each passes, with a
warning for each kind of dirt the sample generator put in it."""

from __future__ import annotations

import pytest

from opendata.sources.stage import extract_to_stage
from opendata.spec.loader import load_catalog
from opendata.validation.findings import Status
from tests.opendata.validation.helpers import validate

# Warnings expected per sample: check -> failing rows (see opendata.samples.generate).
EXPECTED = {
    "building-permits": {"no_future_dates(issue_date)": 2, "not_null(valuation)": 4, "range(valuation)": 3,
                         "range(council_district)": 3},
    "restaurant-inspections": {"not_null(facility_name)": 3, "range(score)": 5},
    "service-requests-311": {"not_null(address)": 7, "pattern(zip_code)": 4, "range(latitude)": 3,
                             "range(longitude)": 3, "comparison(closed_date)": 2},
}


@pytest.mark.parametrize("dataset_id", sorted(EXPECTED))
def test_sample_passes_with_warnings_for_its_dirt(sample_connections, tmp_path, dataset_id):
    spec = load_catalog().get(dataset_id).spec
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    result = validate(spec, staged.as_dict(), tmp_path, previous_rows=None, first_publication=True,
                      batch_rows=1000)
    assert result.passed, [(r.label, r.note) for r in result.errors]
    assert {r.label: r.failing for r in result.findings} == EXPECTED[dataset_id]
    assert all(r.status is Status.WARNING for r in result.findings)
    assert result.summary.endswith(f"{len(EXPECTED[dataset_id])} warnings, 0 errors; privacy: no findings")

    report = result.report_markdown.read_text()
    assert report.startswith(f"# Data Submission Checklist report: {spec.name}\n\n**PASSED with "
                             f"{len(EXPECTED[dataset_id])} warning(s).**")
    assert f"| Dataset name | {spec.name} |" in report
    for label in EXPECTED[dataset_id]:
        check, column = label.rstrip(")").split("(")
        assert f"| warn | quality | {check} | {column} | warning |" in report
    assert "No privacy or security findings." in report
    assert "Personal data published on purpose" in report
