"""``opendata check``: the dry run an engineer runs before committing a dataset file."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from opendata.cli import main
from opendata.dryrun.check import EXTRACT_FILE, dry_run, summary_lines
from opendata.spec.loader import load_dataset, load_governance
from tests.conftest import registry_on

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "include" / "datasets" / "sanitation" / "service-requests-311.yaml"
PLANTED_SSN = "078-05-1120"  # a well-known sample SSN (never issued to a person)


@pytest.fixture
def registry(tmp_path):
    with registry_on("postgresql", tmp_path, "opendata_check") as reg:
        yield reg


@pytest.fixture(autouse=True)
def _restore_include_setting(monkeypatch):
    # `--include` sets OPENDATA_INCLUDE_DIR for the command's process; restored after each test.
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", os.environ["OPENDATA_INCLUDE_DIR"])


def _include(tmp_path: Path, *, ssn_row: int | None = None, rows: int = 300, **changes) -> Path:
    """An include folder holding the governance file and the 311 dataset file, its source a CSV of
    the sample's first ``rows`` rows; with ``ssn_row``, that row's request_type holds an SSN."""
    include = tmp_path / "include"
    (include / "datasets" / "sanitation").mkdir(parents=True)
    (include / "sources").mkdir()
    shutil.copy(REPO / "include" / "governance.yaml", include / "governance.yaml")
    with (REPO / "include" / "sample_sources" / "service_requests_311.csv").open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        data = [row for _, row in zip(range(rows), reader, strict=False)]
        header = reader.fieldnames
    if ssn_row is not None:
        data[ssn_row]["request_type"] = f"Bulky Items (caller SSN {PLANTED_SSN})"
    with (include / "sources" / "requests.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
    spec = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    spec["source"] = {"kind": "file", "path": "sources/requests.csv", "chunk_size": 100}
    # The sample's row-count floor is for the whole file; this one is a slice.
    spec["quality"]["table"] = {}
    spec.update(changes)
    (include / "datasets" / "sanitation" / "service-requests-311.yaml").write_text(
        yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return include


def _opendata(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed command, as an engineer runs it (no deployment configured: no demo settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_REGISTRY", "AIRFLOW_CONN_"))}
    env["OPENDATA_DEMO_DIR"] = str(cwd / "no-demo")
    command = Path(sys.executable).parent / "opendata"
    return subprocess.run([str(command), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_planted_ssn_fails_the_check_naming_its_column_and_never_its_value(tmp_path):
    include = _include(tmp_path, ssn_row=137)

    done = _opendata("check", "service-requests-311", "--include", str(include), cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stdout.splitlines() if line.strip().startswith("ERROR")]
    assert len(errors) == 1 and "request_type" in errors[0] and "ssn" in errors[0].lower(), done.stdout
    assert "1 of 300 rows" in errors[0]
    assert "privacy: 1 finding (ssn)" in done.stdout
    # The value itself is never shown, in the output or the log.
    assert PLANTED_SSN not in done.stdout + done.stderr
    report = tmp_path / ".opendata" / "check" / "service-requests-311" / "report"
    assert f"Report: {report / 'data-submission-checklist.html'}" in done.stdout
    assert (report / "data-submission-checklist.html").is_file()
    assert PLANTED_SSN not in (report / "data-submission-checklist.html").read_text(encoding="utf-8")
    # The extract held the SSN: not left in the working folder.
    assert not (report.parent / EXTRACT_FILE).exists()
    assert "Extracted 300 rows" in done.stderr  # progress, as in the task log


def test_a_clean_source_passes_and_nothing_leaves_the_machine(tmp_path, monkeypatch):
    include = _include(tmp_path)
    # A portal connection that cannot be reached and a registry the check must not create: the dry
    # run touches neither.
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", "socrata://user:secret@127.0.0.1:9/")
    monkeypatch.delenv("OPENDATA_REGISTRY_URL", raising=False)
    state = tmp_path / "state"
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(state))
    monkeypatch.chdir(tmp_path)

    assert main(["check", "service-requests-311", "--include", str(include), "--out", str(tmp_path / "out"),
                 "--keep-extract"]) == 0

    assert not state.exists()
    assert (tmp_path / "out" / EXTRACT_FILE).is_file()
    assert (tmp_path / "out" / "report" / "data-submission-checklist.md").is_file()


def test_the_summary_lists_errors_before_warnings_and_says_what_was_checked(tmp_path, monkeypatch):
    include = _include(tmp_path, ssn_row=3)
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    governance, _ = load_governance(include / "governance.yaml")
    spec, errors = load_dataset(include / "datasets" / "sanitation" / "service-requests-311.yaml", governance,
                                include)
    assert spec is not None, errors

    run = dry_run(spec, tmp_path / "out", first_publication=False, previous_rows=250)
    lines = summary_lines(run)

    assert not run.passed
    assert lines[0].startswith("service-requests-311: 300 rows extracted from its file source")
    assert "validated as a refresh (published rows: 250)" in lines[0]
    statuses = [line.split()[0] for line in lines if line.startswith("  ")]
    assert statuses == sorted(statuses, key=lambda s: s != "ERROR") and statuses[0] == "ERROR"
    assert lines[-1] == "Nothing was sent to the portal; nothing was recorded in the registry."


@pytest.mark.postgres
def test_a_refresh_is_checked_against_the_rows_the_registry_recorded(tmp_path, monkeypatch, registry, capsys):
    include = _include(tmp_path)
    registry.record_portal_dataset("service-requests-311", "abcd-1234")
    registry.record_public("service-requests-311", at=_now(), rows=1000)
    before = registry.history("service-requests-311")
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", registry.engine.url.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)

    # 300 rows where 1,000 are published: the row-count-change rule of a refresh applies.
    (include / "datasets" / "sanitation" / "service-requests-311.yaml").write_text(
        (include / "datasets" / "sanitation" / "service-requests-311.yaml").read_text(encoding="utf-8").replace(
            "  table: {}", "  table:\n    row_count_change: {max_share: 0.2}"), encoding="utf-8")
    code = main(["check", "service-requests-311", "--include", str(include)])

    assert code == 1
    out = capsys.readouterr().out
    assert "validated as a refresh (published rows: 1,000)" in out
    assert "ERROR   row_count_change" in out, out
    assert registry.history("service-requests-311") == before


def test_an_unknown_dataset_gets_a_hint(tmp_path, capsys):
    include = _include(tmp_path)
    assert main(["check", "service-request-311", "--include", str(include)]) == 2
    err = capsys.readouterr().err
    assert "no dataset file for 'service-request-311'" in err and "did you mean 'service-requests-311'" in err


def test_a_file_that_does_not_pass_lint_is_not_read(tmp_path, capsys):
    include = _include(tmp_path, update_frequency="every so often")
    assert main(["check", "service-requests-311", "--include", str(include)]) == 2
    err = capsys.readouterr().err
    assert "update_frequency" in err and "does not pass lint; nothing was read" in err
    assert not (tmp_path / ".opendata").exists()


@pytest.mark.parametrize("source, expected", [
    ({"kind": "sql", "conn_id": "no_such_db", "query": "SELECT 1 AS sr_number"},
     "Airflow connection 'no_such_db' is not defined"),
    ({"kind": "file", "path": "sources/missing.csv"}, "source file not found"),
])
def test_a_source_that_cannot_be_read_says_why(tmp_path, capsys, monkeypatch, source, expected):
    include = _include(tmp_path, source=source)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "service-requests-311", "--include", str(include)]) == 1
    err = capsys.readouterr().err
    assert "the extract failed" in err and expected in err


def _now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)
