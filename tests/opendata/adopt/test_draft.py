"""The dataset file drafted from what the portal says (pure): the recorded view of a real public
dataset (NYC's Bicycle Counts, tests/contract/recordings), its catalog page, the custom fields
the pipeline writes read back, and the source compared with the portal's columns."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from opendata.adopt import fields as portal_fields
from opendata.adopt.draft import NotAdoptable, dataset_id_for, draft_dataset
from opendata.adopt.source_match import compare_source
from opendata.lifecycle.columns import file_type
from opendata.portal.dataset_metadata import custom_fields
from opendata.portal.described import PortalDescription, parse_catalog_assets
from opendata.portal.models import Audience, ViewMetadata
from opendata.scaffold.people import department_people
from opendata.scaffold.profile import ColumnProfile, SourceProfile
from opendata.scaffold.render import render_dataset_file
from opendata.scaffold.todo import is_todo
from opendata.spec.loader import load_catalog, load_governance
from opendata.spec.vocab import SocrataType
from tests.conftest import REPO_ROOT
from tests.contract.recordings import load

GOVERNANCE, _ = load_governance(REPO_ROOT / "include" / "governance.yaml", root=REPO_ROOT / "include")
TODAY = dt.date(2026, 11, 28)


def recorded_view(**changes) -> PortalDescription:
    body = copy.deepcopy(load("views_get_uczf-rk3c").body)
    body.update(changes)
    return PortalDescription.from_view(ViewMetadata.from_json(body))


def draft(description, profile=None, department="environmental-health"):
    return draft_dataset(description, dataset_id=dataset_id_for(description.name),
                         people=department_people(GOVERNANCE, department), governance=GOVERNANCE,
                         portal_page=f"https://data.example.gov/d/{description.id}", adopted_by="Maria Alvarez",
                         today=TODAY, profile=profile)


def test_the_recorded_view_of_a_real_public_dataset():
    view = recorded_view()
    assert (view.id, view.name, view.category, view.row_identifier) == (
        "uczf-rk3c", "Bicycle Counts", "Transportation", "countid")
    assert view.public_and_published and view.audience is Audience.PUBLIC and not view.hidden
    assert view.custom_value("Update", "Update Frequency") == "Daily"
    assert view.public_since == dt.datetime.fromtimestamp(1656102251, dt.UTC)
    assert view.tags[:2] == ("bicycle", "count")


def test_the_draft_holds_what_the_portal_knows_and_todos_for_the_rest(tmp_path):
    result = draft(recorded_view())
    data = result.data
    assert (data["id"], data["name"], data["update_frequency"]) == ("bicycle-counts", "Bicycle Counts", "daily")
    assert data["publishing"]["category"] == "Transportation"
    assert data["publishing"]["attribution"] == "Department of Transportation (DOT)"
    assert data["publishing"]["row_identifier"] == "countid"
    assert data["publishing"]["contact"] == {"name": "Environmental Health Division Open Data",
                                             "email": "kevin.nguyen@ehd.lacity.example"}
    assert is_todo(data["publishing"]["license"])   # the recorded view names none
    assert [(c["field_name"], c["type"]) for c in data["columns"]] == [
        ("countid", "number"), ("id", "number"), ("date", "floating_timestamp"), ("counts", "number"),
        ("status", "number")]
    todo_paths = [path for path, _ in result.todos]
    assert "columns[0].description" in todo_paths and "source" in todo_paths
    assert {"coverage.start_date", "priority.level", "data_quality.rating", "classification.category",
            "collection_frequency"} <= set(todo_paths)
    header = result.comments[()]
    assert "Update / Date Made Public: 12/31/2019" in header and "Dataset Information / Agency: Department of" in header
    # Written and read back, a file with TODOs builds nothing and lint names each TODO.
    include = tmp_path / "include"
    (include / "datasets" / "environmental-health").mkdir(parents=True)
    (include / "governance.yaml").write_text((REPO_ROOT / "include" / "governance.yaml").read_text())
    target = include / "datasets" / "environmental-health" / "bicycle-counts.yaml"
    target.write_text(render_dataset_file(data, comments=result.comments))
    catalog = load_catalog(include)
    assert catalog.datasets == [] and {("coverage", "start_date"), ("priority", "level")} <= {
        tuple(e.loc) for e in catalog.errors if e.file == target}


def test_the_pipelines_own_custom_fields_read_back():
    spec = load_catalog(REPO_ROOT / "include").get("restaurant-inspections").spec
    written = custom_fields(spec, GOVERNANCE)
    description = recorded_view(metadata={"custom_fields": written})
    result = draft(description)
    assert (result.data["steward"], result.data["source_system"], result.data["update_frequency"]) == (
        {"name": "Omar Haddad", "email": result.data["steward"]["email"]}, spec.source_system, "weekly")
    assert result.data["classification"] == {"category": "public", "level": 1}
    assert portal_fields.department_key(GOVERNANCE, written["Dataset Information"]["Department"]) == \
        "environmental-health"
    assert "Pipeline Dataset ID" not in result.comments[()]


def test_license_by_id_or_name_and_frequencies_in_other_words():
    assert portal_fields.license_id("CC0_10", None) == "CC0_10"
    assert portal_fields.license_id(None, "Public Domain") == "PUBLIC_DOMAIN"
    assert portal_fields.license_id("UK_OGLV3.0", "Open Government Licence") is None
    assert portal_fields.update_frequency("Bi-weekly").value == "biweekly"
    assert portal_fields.update_frequency("As needed").value == "irregular"
    assert portal_fields.update_frequency("Every full moon") is None
    assert portal_fields.classification("Public", "level 2") == (portal_fields.ClassificationCategory.PUBLIC, 2)


def test_columns_a_file_cannot_hold_are_refused():
    body = copy.deepcopy(load("views_get_uczf-rk3c").body)
    body["columns"][1]["dataTypeName"] = "multipolygon"
    body["columns"][2]["fieldName"] = "_1950"
    with pytest.raises(NotAdoptable, match="id has type multipolygon.*_1950 is not a field name"):
        draft(PortalDescription.from_view(ViewMetadata.from_json(body)))


def profile(*columns: tuple[str, str, SocrataType, str]) -> SourceProfile:
    return SourceProfile(
        columns=tuple(ColumnProfile(name, name.lower().replace(" ", "_"), source_type, kind_, kind, samples=("x",))
                      for name, source_type, kind_, kind in columns),
        row_count_sampled=10, primary_key=(), source={"kind": "file", "path": "counts.csv"},
        source_system="counts.csv", title="counts")


def test_the_source_is_compared_with_the_portals_columns():
    source = profile(("CountID", "int64", SocrataType.NUMBER, "integer"),
                     ("id", "int64", SocrataType.NUMBER, "integer"), ("date", "string", SocrataType.TEXT, "text"),
                     ("counts", "int64", SocrataType.NUMBER, "integer"), ("extra", "string", SocrataType.TEXT, "text"))
    result = draft(recorded_view(), profile=source)
    assert result.data["source"] == {"kind": "file", "path": "counts.csv"}
    assert list(result.mismatch) == [
        "on the portal, not in the source: status (number)",
        "date is calendar_date on the portal but date is string (text, e.g. 'x') in the source",
        "in the source, not on the portal (left unpublished): extra"]
    columns = {c["field_name"]: c for c in result.data["columns"]}
    assert columns["countid"]["source_column"] == "CountID"
    assert "source_column" not in columns["id"]
    assert is_todo(columns["status"]["source_column"]) and is_todo(columns["date"]["source_column"])
    assert "Type mismatch" in result.comments[("columns", 2)]


def test_compatible_sources_match_without_a_report():
    view = recorded_view()
    types = {c.field_name: file_type(c.data_type) for c in view.columns}
    numbers = [(c.field_name, "x", SocrataType.NUMBER, "integer") for c in view.columns if c.field_name != "date"]
    source = profile(*numbers, ("date", "date", SocrataType.FLOATING_TIMESTAMP, "date"))
    comparison = compare_source(source, view.columns, types)
    assert not comparison.problems and comparison.source_only == ()


def test_the_recorded_catalog_page_lists_datasets_with_owner_and_category():
    assets, returned, total = parse_catalog_assets(load("catalog_v1_nyc_limit7").body)
    assert (returned, total) == (7, 3207)
    first = assets[0]
    assert (first.id, first.category, first.owner_id, first.owner_name) == (
        "8wbx-tsch", "Transportation", "5fuc-pqz2", "NYC OpenData")
    assert first.permalink == "https://data.cityofnewyork.us/d/8wbx-tsch"
