"""Hostile and broken dataset files, one kind at a time: each is refused with its file, line,
field and reason (or warned about), and never reads outside the project, leaks a secret, takes
over another DAG or holds the parse up. The whole folder at once, through lint and the DagBag,
is in tests/dags/test_broken_folder.py."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from opendata.spec.loader import load_catalog
from tests.opendata.spec.conftest import GOOD_FILE, edit

SECRET = "s3cr3t-portal-password-0xDEADBEEF"
SAMPLE_IDS = ["building-permits", "restaurant-inspections", "service-requests-311"]
PERMITS = "datasets/building-and-safety/building-permits.yaml"
INSPECTIONS = "datasets/environmental-health/restaurant-inspections.yaml"


def errors_of(catalog, path: Path) -> list[str]:
    return [str(e) for e in catalog.errors if e.file == path]


def run_lint(include: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opendata", "lint", "--include", str(include)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})


# --- 1. no environment expansion, no secret in any message ---------------------------------------

@pytest.mark.parametrize("written", ["${AIRFLOW_CONN_SOCRATA_DEFAULT}", "$AIRFLOW_CONN_SOCRATA_DEFAULT/x.csv",
                                     "sample_sources/${AIRFLOW_CONN_SOCRATA_DEFAULT}.csv"])
def test_an_environment_variable_in_source_path_is_refused_and_never_expanded(include_copy, monkeypatch, written):
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", SECRET)
    path = include_copy / GOOD_FILE
    edit(path, "  path: sample_sources/service_requests_311.csv", f"  path: '{written}'")
    catalog = load_catalog(include_copy)
    assert errors_of(catalog, path) == [
        f"{path}:44: source.path: {written!r}: environment variables are never expanded in dataset files: "
        "'$' is not allowed in a path; write the path itself"]
    assert "service-requests-311" not in [d.spec.id for d in catalog.datasets]
    assert SECRET not in "\n".join(str(e) for e in catalog.errors)


def test_at_run_time_a_path_is_never_expanded_and_the_error_shows_only_the_files_text(monkeypatch):
    from opendata.sources.base import ExtractError
    from opendata.sources.files import read_file_chunks
    from opendata.spec.dataset import FileSource
    from opendata.spec.paths import UnsafePath, resolve_include_path

    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", SECRET)
    monkeypatch.setenv("HOME", "/tmp/" + SECRET)
    for written in ("${AIRFLOW_CONN_SOCRATA_DEFAULT}", "~/requests.csv"):
        with pytest.raises(UnsafePath) as refused:
            resolve_include_path(written)
        assert SECRET not in str(refused.value) and repr(written) in str(refused.value)
        with pytest.raises(ExtractError) as failed:
            next(read_file_chunks(FileSource(kind="file", path=written)))
        assert SECRET not in "".join(traceback.format_exception(failed.value))


# --- 2. every path confined to the include folder or a data root -------------------------------------

def test_source_paths_outside_the_include_folder_are_refused_with_file_line_field_and_reason(include_copy):
    path = include_copy / GOOD_FILE
    (include_copy / "sample_sources").mkdir()
    (include_copy / "sample_sources" / "passwd.csv").symlink_to("/etc/passwd")
    cases = {
        "/etc/passwd": "'/etc/passwd' is outside the include folder and the data roots, where dataset files may "
                       "read (data roots are named by the deployment in OPENDATA_DATA_ROOTS)",
        "../../../../etc/passwd": "'../../../../etc/passwd': '..' is not allowed in a path: name the file from the "
                                  "include folder or a data root",
        "sample_sources/passwd.csv": "'sample_sources/passwd.csv' leads through a symbolic link to a file outside "
                                    "the include folder and the data roots, where dataset files may read (data "
                                    "roots are named by the deployment in OPENDATA_DATA_ROOTS)",
        "~/requests.csv": "'~/requests.csv': '~' (a home folder) is never expanded in dataset files; write the "
                          "path itself",
        "sample_sources": "'sample_sources' is not a regular file (a folder, device or pipe cannot be a source)",
    }
    for written, reason in cases.items():
        text = path.read_text()
        edit(path, "  path: sample_sources/service_requests_311.csv", f"  path: {written}")
        catalog = load_catalog(include_copy)
        assert errors_of(catalog, path) == [f"{path}:44: source.path: {reason}"], written
        path.write_text(text)


def test_query_files_outside_include_sql_are_refused(include_copy):
    path = include_copy / PERMITS
    (include_copy / "sql" / "escape.sql").symlink_to("/etc/passwd")
    cases = {
        "../../../../etc/passwd": "'..' is not allowed in a path",
        "/etc/passwd": "'/etc/passwd': an absolute path is not allowed here; put the query in include/sql and "
                       "name it from there",
        "escape.sql": "'escape.sql' leads through a symbolic link to a file outside include/sql",
    }
    for written, reason in cases.items():
        text = path.read_text()
        edit(path, "  query_file: building_permits.sql", f"  query_file: {written}")
        errors = errors_of(load_catalog(include_copy), path)
        assert len(errors) == 1 and errors[0].startswith(f"{path}:45: source.query_file: ") and reason in errors[0]
        path.write_text(text)


def test_a_data_root_named_by_the_deployment_is_where_absolute_paths_may_point(include_copy, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "requests.csv").write_text("sr_number\n1\n")
    path = include_copy / GOOD_FILE
    edit(path, "  path: sample_sources/service_requests_311.csv", f"  path: {exports / 'requests.csv'}")
    monkeypatch.setenv("OPENDATA_DATA_ROOTS", str(tmp_path / "elsewhere"))
    assert len(errors_of(load_catalog(include_copy), path)) == 1
    monkeypatch.setenv("OPENDATA_DATA_ROOTS", os.pathsep.join([str(tmp_path / "elsewhere"), str(exports)]))
    assert errors_of(load_catalog(include_copy), path) == []


def test_a_data_root_of_the_file_system_root_is_ignored_and_lint_says_so(include_copy):
    result = run_lint(include_copy, OPENDATA_DATA_ROOTS="/")
    assert result.returncode == 1
    assert ("settings: OPENDATA_DATA_ROOTS: '/' ignored: the file system root would let dataset files publish any "
            "file on a worker") in result.stderr


def test_at_run_time_files_outside_the_include_folder_are_never_opened(monkeypatch, tmp_path):
    from opendata.sources.base import ExtractError
    from opendata.sources.files import read_file_chunks
    from opendata.sources.sql import query_text
    from opendata.spec.dataset import FileSource, SqlSource

    monkeypatch.setenv("OPENDATA_DATA_ROOTS", str(tmp_path))
    for written in ("/etc/passwd", "../../../../../../etc/passwd"):
        with pytest.raises(ExtractError, match="source.path"):
            next(read_file_chunks(FileSource(kind="file", path=written)))
        with pytest.raises(ExtractError, match="source.query_file"):
            query_text(SqlSource(kind="sql", conn_id="x", query_file=written))


# --- 3. the project's own DAG ids are reserved --------------------------------------------------------

@pytest.mark.parametrize("dataset_id", ["opendata_freshness_monitor", "opendata_future_dag", "opendata-anything"])
def test_a_dataset_id_that_names_a_project_dag_is_refused(include_copy, dataset_id):
    source = include_copy / GOOD_FILE
    path = source.with_name(f"{dataset_id}.yaml")
    path.write_text(source.read_text().replace("id: service-requests-311", f"id: {dataset_id}"))
    catalog = load_catalog(include_copy)
    assert errors_of(catalog, path) == [
        f"{path}:2: id: {dataset_id!r} is reserved: ids starting with 'opendata_' or 'opendata-' name the project's "
        "own DAGs (a dataset with one would replace that DAG); choose another id and rename the file to match"]
    assert dataset_id not in [d.spec.id for d in catalog.datasets]


# --- 4. a duplicate id never removes the established dataset ------------------------------------------

def newcomer(include: Path) -> Path:
    """A building-and-safety file reusing sanitation's id: first by path, so only a record saves the other."""
    source = include / GOOD_FILE
    twin = include / "datasets" / "building-and-safety" / "service-requests-311.yaml"
    twin.write_text(source.read_text().replace("department: sanitation", "department: building-and-safety")
                    .replace("coordinator: samuel-okafor", "coordinator: jorge-ramos"))
    return twin


def test_the_file_that_held_the_id_keeps_it_and_the_newcomer_is_reported_naming_both(include_copy):
    established = include_copy / GOOD_FILE
    twin = newcomer(include_copy)
    catalog = load_catalog(include_copy, record={"service-requests-311": "sanitation/service-requests-311.yaml"})
    kept = catalog.get("service-requests-311")
    assert kept.path == established and kept.spec.department == "sanitation"
    assert [str(e) for e in catalog.errors] == [
        f"{twin}: id: dataset id 'service-requests-311' is already used by {established} (it held the id first), "
        "whose DAG keeps running; this file is not built: give it another id and file name, or remove one of the "
        "two files"]
    assert sorted(d.spec.id for d in catalog.datasets) == SAMPLE_IDS


def test_a_broken_established_file_does_not_hand_its_id_to_the_newcomer(include_copy):
    established = include_copy / GOOD_FILE
    edit(established, "update_frequency: daily", "update_frequency: dialy")
    twin = newcomer(include_copy)
    catalog = load_catalog(include_copy, record={"service-requests-311": "sanitation/service-requests-311.yaml"})
    assert "service-requests-311" not in [d.spec.id for d in catalog.datasets]
    assert {e.file for e in catalog.errors} == {established, twin}


def test_tasks_load_the_file_that_holds_the_id(include_copy, tmp_path, monkeypatch):
    from opendata.lifecycle.context import load_spec
    from opendata.registry.stage_snapshot import record_dataset_files

    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include_copy))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    record_dataset_files({"service-requests-311": "sanitation/service-requests-311.yaml"})
    newcomer(include_copy)
    assert load_spec("service-requests-311").department == "sanitation"


def test_without_a_record_tasks_refuse_to_guess_which_file_holds_the_id(include_copy, tmp_path, monkeypatch):
    from opendata.lifecycle.context import load_spec
    from opendata.spec.errors import SpecFileError

    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include_copy))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "empty-state"))
    twin = newcomer(include_copy)
    with pytest.raises(SpecFileError) as refused:
        load_spec("service-requests-311")
    assert [e.file for e in refused.value.errors] == [twin, include_copy / GOOD_FILE]
    assert "no record of which one holds it; nothing runs until one is removed or renamed" in str(refused.value)


# --- 5. duplicate keys -----------------------------------------------------------------------------

def test_duplicate_keys_are_refused_with_both_lines(include_copy):
    path = include_copy / GOOD_FILE
    edit(path, "coordinator: samuel-okafor\n", "coordinator: samuel-okafor\nname: Something Else Entirely\n")
    edit(path, "    type: text\n    description: Unique service request number",
         "    type: text\n    type: number\n    description: Unique service request number")
    catalog = load_catalog(include_copy)
    assert errors_of(catalog, path) == [
        f"{path}:13: name: duplicate key 'name' (lines 4 and 13): YAML keeps only the last one and drops the other "
        "silently; keep one",
        f"{path}:51: columns[0].type: duplicate key 'type' (lines 50 and 51): YAML keeps only the last one and drops "
        "the other silently; keep one"]
    assert "service-requests-311" not in [d.spec.id for d in catalog.datasets]


def test_duplicate_keys_in_the_governance_file_are_refused(include_copy):
    path = include_copy / "governance.yaml"
    edit(path, "chief_data_officer: maria-alvarez\n",
         "chief_data_officer: maria-alvarez\nchief_data_officer: tom-becker\n")
    catalog = load_catalog(include_copy)
    assert [str(e) for e in catalog.errors if e.file == path] == [
        f"{path}:48: chief_data_officer: duplicate key 'chief_data_officer' (lines 47 and 48): YAML keeps only the "
        "last one and drops the other silently; keep one"]


# --- 6. size and shape limits; each file parsed once per change ---------------------------------------

def test_a_file_over_the_size_limit_is_refused_naming_the_file_before_it_is_read(include_copy):
    path = include_copy / "datasets" / "sanitation" / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(26 * 1024 * 1024)  # 26 MB, sparse: what once took lint 45 s
    catalog = load_catalog(include_copy)
    assert errors_of(catalog, path) == [
        f"{path}: (file): the file is 27,262,976 bytes, over the 1,048,576-byte limit for dataset files "
        "(OPENDATA_MAX_DATASET_FILE_BYTES); a dataset file describes data, it does not hold it: put rows in a "
        "source file"]
    assert sorted(d.spec.id for d in catalog.datasets) == SAMPLE_IDS


def test_the_size_limit_is_a_deployment_setting(include_copy, monkeypatch):
    path = include_copy / GOOD_FILE
    glossary = "".join(f"  TERM{i}: {'a plain-English definition ' * 8}\n" for i in range(400))
    edit(path, "glossary:\n", "glossary:\n" + glossary)
    assert path.stat().st_size > 64 * 1024
    assert errors_of(load_catalog(include_copy), path) == []
    monkeypatch.setenv("OPENDATA_MAX_DATASET_FILE_BYTES", str(64 * 1024))
    [error] = errors_of(load_catalog(include_copy), path)
    assert "over the 65,536-byte limit for dataset files (OPENDATA_MAX_DATASET_FILE_BYTES)" in error


def test_a_document_of_too_many_values_is_refused_before_validation(include_copy):
    path = include_copy / GOOD_FILE
    path.write_text(path.read_text() + "glossary_extra: [" + ", ".join(["1"] * 60_000) + "]\n")
    assert errors_of(load_catalog(include_copy), path) == [
        f"{path}: (file): the document holds more than 50,000 values; a dataset file describes data, it does not "
        "hold it"]


@pytest.mark.parametrize("text, message", [
    ("id: &a x\nname: *a\n", "2: (file): YAML aliases (*a) are not allowed: write the value out"),
    ("a: &a {b: 1}\n<<: *a\n", "2: (file): merge keys (<<) are not allowed"),
    ("x: {a: 1}\n<<: {name: y}\n", "2: (file): merge keys (<<) are not allowed: write the keys out"),
    ("a: " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels deep"),
    ("a: 1" + "0" * 5000 + "\n", "invalid YAML: a value cannot be read (ValueError"),
    ("name: caf\xe9\n".encode("latin-1"), "1: (file): not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    ("id: x\nname: \u202eevil\n", "2: (file): contains the invisible Unicode control U+202E"),
])
def test_yaml_that_could_stall_or_mislead_a_parse_is_refused(include_copy, text, message):
    path = include_copy / "datasets" / "sanitation" / "hostile.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    errors = errors_of(load_catalog(include_copy), path)
    assert len(errors) == 1 and message in errors[0], errors


def test_a_billion_laughs_file_is_refused_at_once(include_copy):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = include_copy / "datasets" / "sanitation" / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    [error] = errors_of(load_catalog(include_copy), path)
    assert "2: (file): YAML aliases (*a0) are not allowed" in error


@pytest.mark.timeout(60)
def test_a_pipe_or_a_folder_named_like_a_dataset_file_is_refused_without_waiting(include_copy):
    pipe = include_copy / "datasets" / "sanitation" / "pipe.yaml"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    folder = include_copy / "datasets" / "sanitation" / "folder.yaml"
    folder.mkdir()
    catalog = load_catalog(include_copy)
    for path in (pipe, folder):
        assert errors_of(catalog, path) == [
            f"{path}: (file): not a regular file (a folder, pipe or device named like a dataset file); dataset "
            "files must be plain text files"]
    assert sorted(d.spec.id for d in catalog.datasets) == SAMPLE_IDS


def test_a_dataset_file_linking_outside_the_include_folder_is_not_read(include_copy, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("id: " + SECRET + "\n")
    path = include_copy / "datasets" / "sanitation" / "linked.yaml"
    path.symlink_to(outside)
    assert errors_of(load_catalog(include_copy), path) == [
        f"{path}: (file): a symbolic link to a file outside the include folder; dataset files must be in the include "
        "folder itself"]


def test_an_unchanged_file_is_not_parsed_again(include_copy, tmp_path, monkeypatch):
    from opendata.spec import cache as cache_module
    from opendata.spec import loader
    from opendata.spec.cache import ParseCache

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0)  # the copies were just written
    state = tmp_path / "state"
    first = ParseCache.for_include(include_copy, state)
    assert sorted(d.spec.id for d in load_catalog(include_copy, cache=first).datasets) == SAMPLE_IDS
    first.save()
    assert first.misses == 4  # the three samples and the planned one

    parsed: list[Path] = []
    real_parse = loader.parse_dataset_file
    monkeypatch.setattr(loader, "parse_dataset_file", lambda path, include: (parsed.append(path),
                                                                             real_parse(path, include))[1])
    again = ParseCache.for_include(include_copy, state)  # as a new DAG processor subprocess would
    assert sorted(d.spec.id for d in load_catalog(include_copy, cache=again).datasets) == SAMPLE_IDS
    assert parsed == [] and again.hits == 4

    edit(include_copy / GOOD_FILE, "update_frequency: daily", "update_frequency: dialy")
    third = ParseCache.for_include(include_copy, state)
    catalog = load_catalog(include_copy, cache=third)
    assert parsed == [include_copy / GOOD_FILE]  # only the changed file
    assert [e.field for e in catalog.errors] == ["update_frequency"]


def test_checks_against_other_files_run_on_every_load_even_from_the_cache(include_copy, tmp_path, monkeypatch):
    from opendata.spec import cache as cache_module
    from opendata.spec.cache import ParseCache

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0)
    state = tmp_path / "state"
    cache = ParseCache.for_include(include_copy, state)
    load_catalog(include_copy, cache=cache)
    cache.save()
    (include_copy / "sql" / "building_permits.sql").unlink()
    edit(include_copy / "governance.yaml", "coordinators: [samuel-okafor]", "coordinators: [helen-wu]")
    catalog = load_catalog(include_copy, cache=ParseCache.for_include(include_copy, state))
    assert sorted(e.field for e in catalog.errors) == ["coordinator", "source.query_file"]
    assert [str(e).split(": ", 1)[0] for e in catalog.errors if e.field == "coordinator"] == [
        f"{include_copy / GOOD_FILE}:12"]


# --- 7. a go-live date in the past ---------------------------------------------------------------------

def test_a_past_not_before_is_a_warning_that_it_publishes_at_once(include_copy):
    path = include_copy / INSPECTIONS
    edit(path, "\npublication:\n", "\npublication:\n  not_before: 2024-03-01T09:00:00-08:00\n")
    catalog = load_catalog(include_copy, now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    assert [str(w) for w in catalog.warnings] == [
        f"{path}:40: publication.not_before: 2024-03-01T09:00:00-08:00 is in the past: there is no scheduled "
        "go-live, the dataset goes public as soon as the Chief Data Officer approves it; give the planned date, or "
        "remove not_before"]
    assert catalog.errors == [] and "restaurant-inspections" in [d.spec.id for d in catalog.datasets]
    # Once the dataset is approved or public, the date is history, not a mistake.
    assert load_catalog(include_copy, stages={"restaurant-inspections": "stage-2"}).warnings == []
    # A future date is what not_before is for.
    assert load_catalog(include_copy, now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)).warnings == []


def test_lint_prints_the_warning_and_still_passes(include_copy):
    path = include_copy / INSPECTIONS
    edit(path, "\npublication:\n", "\npublication:\n  not_before: 2020-01-01T09:00:00-08:00\n")
    result = run_lint(include_copy)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"warning: {path}:40: publication.not_before: 2020-01-01T09:00:00-08:00 is in "
                                    "the past")
    assert result.stdout.startswith("3 dataset file(s) valid, 1 planned, 0 error(s) in 0 file(s), 1 warning(s)")
