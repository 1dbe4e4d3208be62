"""Metadata completeness: placeholders, descriptions that repeat the name, unclear terms."""

from __future__ import annotations

import pytest

from opendata.validation.documentation import description_problem, documentation_results, unclear_terms
from opendata.validation.findings import Status
from tests.opendata.validation.helpers import make_spec


@pytest.mark.parametrize("description,problem", [
    ("TBD", "a placeholder, not a description"),
    ("n/a", "a placeholder, not a description"),
    ("Permit Number", "repeats the column's name"),
    ("permit nbr", "repeats the column's name"),
    ("Permit status", "too short to explain the column (fewer than 3 words)"),
    ("Unique permit number assigned by the permit system.", None),
])
def test_column_descriptions(description, problem):
    assert description_problem("permit_nbr", "Permit Number", description) == problem


def test_unclear_terms_are_capitalised_abbreviations_nobody_knows():
    assert unclear_terms("Assigned by PCIS; latitude in WGS 84; the ZIP code and the ID; grade A or B") == {
        "PCIS", "WGS"}


def results_for(first_publication: bool, **changes):
    columns = {"permit_nbr": "text", "status": "text"}
    spec = make_spec(columns, row_identifier="permit_nbr", **changes)
    return {r.label: r for r in documentation_results(spec, first_publication)}


def test_complete_documentation_passes():
    results = results_for(True)
    assert {label: r.status for label, r in results.items()} == {
        "dataset_metadata": Status.PASSED, "column_description(permit_nbr)": Status.PASSED,
        "column_description(status)": Status.PASSED, "glossary": Status.PASSED}


def test_gaps_are_errors_on_a_first_publication_and_warnings_after():
    changes = {"description": "TBD", "source_system": "TODO"}
    first = results_for(True, **changes)["dataset_metadata"]
    assert (first.status, first.note) == (Status.FAILED, "missing or placeholder: description, source")
    assert results_for(False, **changes)["dataset_metadata"].status is Status.WARNING


def test_unclear_terms_need_a_glossary_entry():
    name = "Permits from PCIS"
    missing = results_for(True, name=name)["glossary"]
    assert (missing.status, missing.note) == (Status.FAILED, "no glossary entry: PCIS (name)")
    defined = results_for(True, name=name, glossary={"PCIS": "Plan Check and Inspection System."})["glossary"]
    assert defined.status is Status.PASSED
