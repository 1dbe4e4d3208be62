"""Planned dataset files (``status: planned`` with a ``target_date``): inventory entries that are not
ready to run. Lint accepts them and counts them apart, nothing runs for them, each mistake is
reported with its file, line, field and fix, and the readers that only want datasets that run
(the freshness monitor, tasks) leave them alone."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from opendata.spec.dataset import DatasetSpec, PlannedDataset
from opendata.spec.loader import LoadedPlanned, load_catalog, load_dataset
from tests.opendata.spec.conftest import GOOD_FILE, REPO_INCLUDE, edit

PLANNED = "datasets/building-and-safety/soft-story-retrofit-orders.yaml"
RUNNING_IDS = ["building-permits", "restaurant-inspections", "service-requests-311"]
# The day of these tests' clock: the bundled sample's target (2027-03-31) is ahead of it.
TODAY = dt.datetime(2026, 11, 28, 18, tzinfo=dt.UTC)


def errors_of(catalog, path: Path) -> list[str]:
    return [str(e) for e in catalog.errors if e.file == path]


def run_lint(include: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opendata", "lint", "--include", str(include)],
                          capture_output=True, text=True, timeout=120)


def make_planned(path: Path, target: str = "2027-03-31") -> None:
    """Turn a dataset file that runs into a planned one (every section it has stays)."""
    edit(path, "\nschema_version: 1\n", f"\nstatus: planned\ntarget_date: {target}\nschema_version: 1\n")


# --- accepted, counted apart, never run ----------------------------------------------------------

def test_the_bundled_planned_file_is_valid_and_kept_apart_from_the_datasets_that_run():
    catalog = load_catalog(REPO_INCLUDE, now=TODAY)
    assert catalog.errors == [] and catalog.warnings == []
    assert sorted(d.spec.id for d in catalog.datasets) == RUNNING_IDS
    [planned] = catalog.planned
    assert isinstance(planned, LoadedPlanned) and isinstance(planned.spec, PlannedDataset)
    assert planned.path == REPO_INCLUDE / PLANNED and planned.warnings == ()
    spec = planned.spec
    assert (spec.id, spec.department, spec.status, spec.target_date) == (
        "soft-story-retrofit-orders", "building-and-safety", "planned", dt.date(2027, 3, 31))
    assert spec.source is None and spec.columns is None and spec.publishing is None
    # The id stays with the file (it keeps it when it becomes active), as any file's does.
    assert catalog.holders["soft-story-retrofit-orders"] == "building-and-safety/soft-story-retrofit-orders.yaml"
    with pytest.raises(KeyError):
        catalog.get("soft-story-retrofit-orders")


def test_lint_accepts_a_planned_file_and_counts_it_apart(include_copy):
    result = run_lint(include_copy)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"3 dataset file(s) valid, 1 planned, 0 error(s) in 0 file(s) under {include_copy}\n"
    (include_copy / PLANNED).unlink()
    assert run_lint(include_copy).stdout.startswith("3 dataset file(s) valid, 0 error(s)")  # as before planned files


def test_a_file_without_status_is_a_dataset_that_runs_exactly_as_before(include_copy):
    path = include_copy / GOOD_FILE
    before = load_catalog(include_copy).get("service-requests-311").spec
    edit(path, "\nschema_version: 1\n", "\nstatus: active\nschema_version: 1\n")
    assert load_catalog(include_copy).get("service-requests-311").spec == before
    assert before.status == "active" and before.target_date is None


def test_a_task_never_loads_a_planned_file(include_copy):
    catalog = load_catalog(include_copy)
    spec, errors = load_dataset(include_copy / PLANNED, catalog.governance, include_copy)
    assert spec is None
    assert [str(e) for e in errors] == [
        f"{include_copy / PLANNED}: status: dataset 'soft-story-retrofit-orders' is planned (target date 2027-03-31), "
        "not ready to run: nothing runs for it until the file says 'status: active' (or leaves status out)"]


def test_a_running_file_may_name_its_first_releases_target_date(include_copy):
    path = include_copy / GOOD_FILE
    edit(path, "\nschema_version: 1\n", "\ntarget_date: 2027-01-15\nschema_version: 1\n")
    spec = load_catalog(include_copy, now=TODAY).get("service-requests-311").spec
    assert isinstance(spec, DatasetSpec) and spec.target_date == dt.date(2027, 1, 15)


# --- each mistake: file, line, field and the fix -------------------------------------------------

@pytest.mark.parametrize(("case", "old", "new", "expected"), [
    ("no target date", "target_date: 2027-03-31\n", "",
     ["target_date: required field is missing: a planned dataset names the day it is to go public, for example "
      "'target_date: 2027-03-31'"]),
    ("not a day", "target_date: 2027-03-31", "target_date: 2027-02-30",
     ["45: target_date: Input should be a valid date or datetime, day value is outside expected range"]),
    ("not YYYY-MM-DD", "target_date: 2027-03-31", "target_date: March 2027",
     ["45: target_date: give the target publication date as YYYY-MM-DD, for example 2027-03-31"]),
    ("misspelt status", "\nstatus: planned", "\nstatus: planed",
     ["43: status: unknown status 'planed'; expected 'active' (a dataset whose DAG runs; the default when status is "
      "left out) or 'planned' (not ready to run yet, with a target_date; no DAG) (did you mean 'planned'?)"]),
    ("status in capitals", "\nstatus: planned", "\nstatus: Planned",
     ["43: status: unknown status 'Planned'; expected 'active' (a dataset whose DAG runs; the default when status is "
      "left out) or 'planned' (not ready to run yet, with a target_date; no DAG) (did you mean 'planned'?)"]),
    ("status not text", "\nstatus: planned", "\nstatus: [planned]",
     ["43: status: expected 'active' (a dataset whose DAG runs; the default when status is left out) or 'planned' "
      "(not ready to run yet, with a target_date; no DAG), found a list"]),
    ("status left empty", "\nstatus: planned", "\nstatus:",
     ["43: status: expected 'active' (a dataset whose DAG runs; the default when status is left out) or 'planned' "
      "(not ready to run yet, with a target_date; no DAG), found nothing"]),
    ("unknown key", "target_date: 2027-03-31", "target_date: 2027-03-31\ntarget: 2027-06-30",
     ["46: target: unknown field (did you mean 'target_date'?)"]),
    ("misspelt key", "target_date: 2027-03-31", "target_dat: 2027-03-31",
     ["target_date: required field is missing: a planned dataset names the day it is to go public, for example "
      "'target_date: 2027-03-31'",
      "45: target_dat: unknown field (did you mean 'target_date'?)"]),
    ("an inventory field missing", "source_system: PCIS (Plan Check and Inspection System), retrofit program tables\n",
     "", ["source_system: required field is missing"]),
    ("a checklist value misspelt", "update_frequency: weekly", "update_frequency: weekyl",
     ["23: update_frequency: Input should be 'hourly', 'daily', 'weekly', 'biweekly', 'monthly', 'quarterly', "
      "'semiannually', 'annually', 'irregular' or 'historical' (did you mean 'weekly'?)"]),
    ("level 3 data", "  level: 1\n", "  level: 3\n",
     ["39: classification.level: level 3 data is restricted by PII, HIPAA, state or federal law and will NOT be "
      "accessible through the Open Data Portal; remove this dataset from the publication inventory or publish a "
      "de-identified level 1 derivative instead"]),
])
def test_each_mistake_in_a_planned_file_names_file_line_field_and_fix(include_copy, case, old, new, expected):
    path = include_copy / PLANNED
    edit(path, old, new)
    catalog = load_catalog(include_copy, now=TODAY)
    assert errors_of(catalog, path) == [f"{path}:{line}" if line[0].isdigit() else f"{path}: {line}"
                                        for line in expected], case
    assert catalog.planned == [] and sorted(d.spec.id for d in catalog.datasets) == RUNNING_IDS


def test_a_file_missing_what_a_run_needs_is_told_it_can_be_planned(include_copy):
    path = include_copy / PLANNED
    edit(path, "status: planned\n", "")
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}: publishing: required field is missing (a dataset that is not ready to run yet can say "
        "'status: planned' with a target_date until it is: a planned file needs no publishing, source or columns, "
        "and gets no DAG)",
        f"{path}: source: required field is missing",
        f"{path}: columns: required field is missing"]


def test_a_planned_file_is_checked_against_governance_like_any_other(include_copy):
    path = include_copy / PLANNED
    edit(path, "coordinator: jorge-ramos", "coordinator: jorge-ramoz")
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}:16: coordinator: 'jorge-ramoz' is not a coordinator of building-and-safety in governance.yaml "
        "(did you mean 'jorge-ramos'?)"]


# --- the run sections, filled in gradually: each one given is checked ----------------------------

def test_a_planned_file_with_a_partial_source_gets_the_sources_errors(include_copy):
    path = include_copy / PLANNED
    edit(path, "status: planned\n", "status: planned\nsource:\n  kind: sql\n  query_file: soft_story.sql\n")
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}:44: source.conn_id: required field is missing"]


def test_a_planned_file_with_a_wrong_source_kind_gets_the_hint(include_copy):
    path = include_copy / PLANNED
    edit(path, "status: planned\n", "status: planned\nsource:\n  kind: sqll\n")
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}:44: source: unknown kind 'sqll'; expected one of 'sql', 'file', 'http' (did you mean 'sql'?)"]


def test_a_planned_files_source_is_checked_against_the_include_folder_too(include_copy):
    path = include_copy / PLANNED
    edit(path, "status: planned\n",
         "status: planned\nsource:\n  kind: sql\n  conn_id: pcis\n  query_file: soft_story.sql\n")
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}:47: source.query_file: no such file in {include_copy / 'sql'}"]


def test_a_section_naming_a_column_before_the_data_dictionary_is_written_is_told_to_wait(include_copy):
    path = include_copy / PLANNED
    edit(path, "status: planned\n",
         "status: planned\nsource:\n  kind: sql\n  conn_id: pcis\n  query: select * from soft_story_orders\n"
         "  watermark: updated_at\n")
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}:48: source.watermark: 'updated_at' names a column, and this planned file has no data dictionary "
        "yet: write columns, or leave this out until they are written"]


def test_a_planned_file_with_its_data_dictionary_gets_the_column_checks(include_copy):
    path = include_copy / PLANNED
    edit(path, "status: planned\n",
         "status: planned\ncolumns:\n  - {field_name: order_id, display_name: Order, type: text, description: The "
         "order.}\n  - {field_name: order_id, display_name: Again, type: text, description: Twice.}\n")
    # (As in a file that runs: the model's own check, reported at the file's first key.)
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}:5: (file): columns: duplicate field_name order_id"]
    edit(path, "field_name: order_id, display_name: Again", "field_name: issued, display_name: Issued")
    edit(path, "status: planned\n", "status: planned\nfreshness:\n  newest_date_column: issued\n")
    assert errors_of(load_catalog(include_copy, now=TODAY), path) == [
        f"{path}:45: freshness.newest_date_column: must be a date column (floating_timestamp or fixed_timestamp); "
        "issued is text"]


def test_a_planned_file_with_every_section_is_valid_and_still_planned(include_copy):
    path = include_copy / GOOD_FILE
    make_planned(path)
    catalog = load_catalog(include_copy, now=TODAY)
    assert catalog.errors == []
    assert "service-requests-311" not in [d.spec.id for d in catalog.datasets]
    assert sorted(p.spec.id for p in catalog.planned) == ["service-requests-311", "soft-story-retrofit-orders"]


# --- two files claiming one id: the holder rules of any two files -------------------------------

def test_a_planned_newcomer_cannot_take_an_established_datasets_id(include_copy):
    twin = include_copy / "datasets" / "building-and-safety" / "service-requests-311.yaml"
    twin.write_text((include_copy / PLANNED).read_text().replace("id: soft-story-retrofit-orders",
                                                                 "id: service-requests-311"))
    catalog = load_catalog(include_copy, now=TODAY,
                           record={"service-requests-311": "sanitation/service-requests-311.yaml"})
    assert errors_of(catalog, twin) == [
        f"{twin}: id: dataset id 'service-requests-311' is already used by {include_copy / GOOD_FILE} (it held the "
        "id first), whose DAG keeps running; this file is not built: give it another id and file name, or remove "
        "one of the two files"]
    assert "service-requests-311" in [d.spec.id for d in catalog.datasets]
    assert [p.spec.id for p in catalog.planned] == ["soft-story-retrofit-orders"]


def test_a_planned_file_holding_an_id_keeps_it_from_an_active_newcomer(include_copy):
    twin = include_copy / "datasets" / "sanitation" / "soft-story-retrofit-orders.yaml"
    twin.write_text((include_copy / GOOD_FILE).read_text().replace("id: service-requests-311",
                                                                   "id: soft-story-retrofit-orders"))
    record = {"soft-story-retrofit-orders": "building-and-safety/soft-story-retrofit-orders.yaml"}
    catalog = load_catalog(include_copy, now=TODAY, record=record)
    assert [e.field for e in catalog.errors if e.file == twin] == ["id"]
    assert "soft-story-retrofit-orders" not in [d.spec.id for d in catalog.datasets]
    assert [p.path for p in catalog.planned] == [include_copy / PLANNED]
    assert catalog.holders["soft-story-retrofit-orders"] == record["soft-story-retrofit-orders"]


# --- a target date that has passed: a warning, not an error ---------------------------------------

def test_a_passed_target_date_is_a_warning_that_does_not_fail_lint(include_copy):
    path = include_copy / PLANNED
    edit(path, "target_date: 2027-03-31", "target_date: 2026-09-30")
    catalog = load_catalog(include_copy, now=TODAY)
    assert catalog.errors == []
    assert [str(w) for w in catalog.warnings] == [
        f"{path}:45: target_date: target date 2026-09-30 has passed: publish it or move the date"]
    assert [str(w) for w in catalog.planned[0].warnings] == [str(w) for w in catalog.warnings]
    # The day itself has not passed yet, in the city's time zone (05:00 UTC on 1 October is 30 September there),
    # the freshness policy's and the quarterly report's calendar.
    from opendata.freshness.policy import CITY_TIMEZONE as POLICY_TIMEZONE
    from opendata.spec.status import CITY_TIMEZONE

    assert CITY_TIMEZONE == POLICY_TIMEZONE
    assert load_catalog(include_copy, now=dt.datetime(2026, 10, 1, 5, tzinfo=dt.UTC)).warnings == []
    assert load_catalog(include_copy, now=dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)).warnings != []
    result = run_lint(include_copy)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"warning: {path}:45: target_date: target date 2026-09-30 has passed: publish it or "
                             "move the date\n")
    assert result.stdout.startswith("3 dataset file(s) valid, 1 planned, 0 error(s) in 0 file(s), 1 warning(s)")


def test_a_running_datasets_passed_target_date_warns_until_it_is_public(include_copy):
    path = include_copy / GOOD_FILE
    edit(path, "\nschema_version: 1\n", "\ntarget_date: 2026-06-30\nschema_version: 1\n")
    catalog = load_catalog(include_copy, now=TODAY, stages={"service-requests-311": "stage-1"})
    assert [str(w) for w in catalog.warnings] == [
        f"{path}:137: target_date: target date 2026-06-30 has passed and the dataset is not public yet: publish it "
        "or move the date"]
    assert load_catalog(include_copy, now=TODAY, stages={"service-requests-311": "stage-2"}).warnings == []


def test_a_planned_file_for_a_dataset_the_registry_has_in_the_pipeline_is_a_warning(include_copy):
    path = include_copy / GOOD_FILE
    make_planned(path)
    catalog = load_catalog(include_copy, now=TODAY, stages={"service-requests-311": "refreshing"})
    assert [str(w) for w in catalog.warnings] == [
        f"{path}:137: status: the registry has service-requests-311 at stage refreshing, but a planned file builds no "
        "DAG: nothing runs for it (review, go-live, refreshes) until the file says 'status: active'"]
    # Refused at Step 1 and planned again: nothing is stranded.
    assert load_catalog(include_copy, now=TODAY, stages={"service-requests-311": "rejected"}).warnings == []


# --- hostile values are refused cleanly -----------------------------------------------------------

@pytest.mark.parametrize(("written", "expected"), [
    ("${HOME}", "45: target_date: give the target publication date as YYYY-MM-DD, for example 2027-03-31"),
    ("'$HOME'", "45: target_date: give the target publication date as YYYY-MM-DD, for example 2027-03-31"),
    ("99999-01-01", "45: target_date: give the target publication date as YYYY-MM-DD, for example 2027-03-31"),
    ("1" + "0" * 5000, "(file): invalid YAML: a value cannot be read"),
    ("20270331", "45: target_date: give the target publication date as YYYY-MM-DD, for example 2027-03-31"),
    ("0", "45: target_date: give the target publication date as YYYY-MM-DD, for example 2027-03-31"),
    ("0000-01-01", "45: target_date: Input should be a valid date in the format YYYY-MM-DD, year 0 is out of range"),
    ("'２０２７-０３-３１'", "45: target_date: give the target publication date as YYYY-MM-DD, for example 2027-03-31"),
    ("2027-03-31T10:00:00-08:00", "45: target_date: give the target publication date as YYYY-MM-DD"),
    ("!!timestamp 2027-03-31T10:00:00", "45: target_date: give the target publication date as YYYY-MM-DD"),
    ("!!binary aGVsbG8=", "45: target_date: give the target publication date as YYYY-MM-DD"),
    ("!!python/object/apply:os.system ['touch /tmp/planned-pwned']",
     "45: (file): invalid YAML: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("!env HOME", "45: (file): invalid YAML: could not determine a constructor for the tag '!env'"),
    ("&d 2027-03-31\nalias: *d", "46: (file): YAML aliases (*d) are not allowed: write the value out"),
    ("{year: 2027}", "45: target_date: give the target publication date as YYYY-MM-DD"),
])
def test_a_hostile_target_date_is_refused_with_file_and_field(include_copy, monkeypatch, written, expected):
    monkeypatch.setenv("HOME", "/home/s3cr3t-home")
    path = include_copy / PLANNED
    edit(path, "target_date: 2027-03-31", f"target_date: {written}")
    catalog = load_catalog(include_copy, now=TODAY)
    errors = errors_of(catalog, path)
    assert errors and errors[0].startswith(f"{path}:{expected}" if expected[0].isdigit() else f"{path}: {expected}"), \
        errors
    assert catalog.planned == [] and "s3cr3t-home" not in "\n".join(errors)
    assert not Path("/tmp/planned-pwned").exists()


def test_a_huge_misspelt_status_is_quoted_short(include_copy):
    path = include_copy / PLANNED
    edit(path, "\nstatus: planned", "\nstatus: " + "planed" * 20_000)
    [error] = errors_of(load_catalog(include_copy, now=TODAY), path)
    assert error.startswith(f"{path}:43: status: unknown status '{('planed' * 7)[:40]}...'; expected") and \
        len(error) < 400


# --- the parse cache: a file switching between planned and active is parsed again ----------------

def test_a_file_switching_from_planned_to_active_and_back_is_parsed_again_with_the_cache_on(include_copy, tmp_path,
                                                                                             monkeypatch):
    from opendata.spec import cache as cache_module
    from opendata.spec.cache import ParseCache

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0)  # the edits are made a moment apart
    state = tmp_path / "state"

    def load():
        cache = ParseCache.for_include(include_copy, state)
        catalog = load_catalog(include_copy, cache=cache, now=TODAY)
        cache.save()
        assert catalog.errors == []
        return ({d.spec.id for d in catalog.datasets}, {p.spec.id for p in catalog.planned}, cache)

    path = include_copy / GOOD_FILE
    original = path.read_text()
    assert load()[:2] == (set(RUNNING_IDS), {"soft-story-retrofit-orders"})
    make_planned(path)
    running, planned, cache = load()
    assert "service-requests-311" in planned and "service-requests-311" not in running and cache.misses == 1
    # Unchanged: the planned result comes back from the cache, as a planned model.
    running, planned, cache = load()
    assert "service-requests-311" in planned and cache.misses == 0 and cache.hits == 4
    path.write_text(original)
    running, planned, cache = load()
    assert "service-requests-311" in running and "service-requests-311" not in planned and cache.misses == 1
    running, planned, cache = load()
    assert "service-requests-311" in running and cache.misses == 0


# --- readers that want datasets that run ----------------------------------------------------------

def test_the_freshness_monitor_skips_a_planned_file_without_a_word(include_copy, caplog, monkeypatch, tmp_path):
    from opendata.freshness.sources import load_dataset_files

    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    caplog.set_level(logging.DEBUG, logger="opendata")
    files = load_dataset_files(include_copy)
    assert sorted(files.specs) == RUNNING_IDS
    assert sorted(files.planned) == ["soft-story-retrofit-orders"]
    assert files.planned["soft-story-retrofit-orders"].target_date == dt.date(2027, 3, 31)
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []

    # A broken planned file is lint's to report, not the monitor's; a misspelt status may be a dataset that runs.
    edit(include_copy / PLANNED, "target_date: 2027-03-31\n", "")
    assert sorted(load_dataset_files(include_copy).specs) == RUNNING_IDS
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
    edit(include_copy / PLANNED, "\nstatus: planned", "\nstatus: planed")
    load_dataset_files(include_copy)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"Skipping {include_copy / PLANNED}: it does not validate (ValidationError); run `opendata lint`"]


# --- the JSON Schema for editors: both shapes, chosen by status -----------------------------------

def _schema():
    from opendata.spec.json_schema import schema_path

    return json.loads(schema_path(REPO_INCLUDE).read_text(encoding="utf-8"))


def _document(relative: str):
    from opendata.spec.validate import plain_yaml

    return plain_yaml((REPO_INCLUDE / relative).read_text(encoding="utf-8"))


def test_the_json_schema_accepts_both_shapes():
    schema = _schema()
    jsonschema.validate(_document(PLANNED), schema)
    jsonschema.validate(_document(GOOD_FILE), schema)
    jsonschema.validate({**_document(GOOD_FILE), "status": "active", "target_date": "2027-01-15"}, schema)
    jsonschema.validate({**_document(GOOD_FILE), "status": "planned", "target_date": "2027-01-15"}, schema)
    # A planned file may carry some run sections, each checked as in a file that runs.
    jsonschema.validate({**_document(PLANNED), "source": {"kind": "file", "path": "sample_sources/x.csv"}}, schema)


@pytest.mark.parametrize(("case", "change", "message"), [
    ("planned without target_date", lambda d: d.pop("target_date"), "'target_date' is a required property"),
    ("planned with an unknown key", lambda d: d.update(target="2027-01-01"), "Additional properties are not allowed"),
    ("planned with a partial source", lambda d: d.update(source={"kind": "sql"}), "'conn_id' is a required property"),
    ("a misspelt status", lambda d: d.update(status="planed"), "'planed' is not one of ['active', 'planned']"),
    ("no status: must run", lambda d: d.pop("status"), "'publishing' is a required property"),
    ("a target date that is not a day", lambda d: d.update(target_date=20270331), "is not of type 'string'"),
])
def test_the_json_schema_refuses_a_broken_planned_file(case, change, message):
    document = _document(PLANNED)
    change(document)
    validator = jsonschema.Draft202012Validator(_schema())
    errors = list(validator.iter_errors(document))
    assert errors, case
    found = []
    while errors:  # the errors under anyOf/oneOf too (a source of no known kind is one of those)
        error = errors.pop()
        found.append(error.message)
        errors += error.context
    assert any(message in text for text in found), (case, found)


def test_the_json_schema_completes_status_with_both_values_at_the_root():
    schema = _schema()
    assert schema["properties"]["status"]["enum"] == ["active", "planned"]
    assert schema["if"] == {"properties": {"status": {"const": "planned"}}, "required": ["status"]}
    assert schema["then"] == {"$ref": "#/$defs/PlannedDataset"}
    assert schema["else"] == {"$ref": "#/$defs/DatasetSpec"}
    assert "target_date" in schema["$defs"]["PlannedDataset"]["required"]
    assert "source" not in schema["$defs"]["PlannedDataset"]["required"]
    assert "source" in schema["$defs"]["DatasetSpec"]["required"]


# --- the models, for code that builds them ----------------------------------------------------------

def test_the_models_are_chosen_by_status_and_keep_their_types():
    from pydantic import ValidationError

    from opendata.spec.validate import plain_yaml

    planned = plain_yaml((REPO_INCLUDE / PLANNED).read_text())
    assert PlannedDataset.model_validate(planned).target_date == dt.date(2027, 3, 31)
    with pytest.raises(ValidationError, match="target_date"):
        PlannedDataset.model_validate({k: v for k, v in planned.items() if k != "target_date"})
    with pytest.raises(ValidationError, match="status"):  # a planned file is never a dataset that runs
        DatasetSpec.model_validate(plain_yaml((REPO_INCLUDE / GOOD_FILE).read_text()) | {"status": "planned"})
    # The inventory fields come first in both, in the checklist's order (messages and the schema keep it).
    assert list(DatasetSpec.model_fields)[:18] == list(PlannedDataset.model_fields)[:18]
    assert list(DatasetSpec.model_fields)[16:19] == ["status", "target_date", "publishing"]
