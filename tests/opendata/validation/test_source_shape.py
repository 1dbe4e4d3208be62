"""Bad rows never pass silently: ragged CSV rows and oversized cells are findings in the Data
Submission Checklist report, and errors among them block publication like any other error.

The two cases of the issue, on the 311 sample: a row with 7 of its 11 fields, and a 10 MB cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import pandas as pd
import pytest

from opendata.sources.stage import extract_to_stage
from opendata.spec.dataset import DatasetSpec
from opendata.spec.loader import load_catalog
from opendata.validation import validate_staged
from opendata.validation.findings import Status
from tests.conftest import SAMPLE_SOURCES
from tests.opendata.validation.helpers import NOW, by_label, make_spec, stage, validate

SAMPLE_ROWS = 50


def sample_rows() -> list[list[str]]:
    with (SAMPLE_SOURCES / "service_requests_311.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[:SAMPLE_ROWS + 1]  # the header and 50 rows


def write(path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def requests_spec(path, quality: dict | None = None, **source) -> DatasetSpec:
    data = load_catalog().get("service-requests-311").spec.model_dump(mode="json")
    data["source"] = {"kind": "file", "path": str(path), "chunk_size": 100, **source}
    # The sample file's row-count floor (1,000) does not apply to 50 rows.
    data["quality"]["table"] = {**data["quality"]["table"], "row_count": None, **(quality or {})}
    return DatasetSpec.model_validate(data)


def check(spec, tmp_path):
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    result = validate_staged(spec, staged, previous_rows=None, first_publication=False,
                             report_dir=tmp_path / "report", now=NOW)
    return staged, result


# --- ragged rows ----------------------------------------------------------------------------------

def test_a_row_with_7_of_11_fields_is_an_error_naming_its_line_and_is_never_staged(tmp_path):
    rows = sample_rows()
    short = rows[4][:7]                 # file line 5: the header is line 1
    rows[4] = short
    write(tmp_path / "requests.csv", rows)
    staged, result = check(requests_spec(tmp_path / "requests.csv"), tmp_path)

    assert staged.rows == SAMPLE_ROWS - 1
    assert staged.ragged_rows == {"count": 1, "expected": 11, "samples": ["line 5: 7 of 11 fields"]}
    finding = by_label(result)["ragged_rows"]
    assert finding.status is Status.FAILED
    assert (finding.failing, finding.checked, finding.samples) == (1, SAMPLE_ROWS, ("line 5: 7 of 11 fields",))
    assert not result.passed and finding in result.errors
    # Not padded with empty cells: the row is not in the extract at all.
    assert short[0] not in set(pd.read_parquet(staged.path)["sr_number"])
    report = result.report_markdown.read_text()
    assert ("| FAIL | schema | ragged_rows |  | error | 1 | 50 | every row has the header's 11 fields; rows that "
            "do not are left out of the extract | line 5: 7 of 11 fields | 1 source row(s) not staged: fix the "
            "source file |") in report
    assert "FAILED: 1 error(s) block publication" in report
    assert json.loads(json.dumps(result.as_dict()))["findings"][0]["sample_row_ids"] == ["line 5: 7 of 11 fields"]


def test_a_row_with_too_many_fields_is_a_finding_not_a_failed_extract(tmp_path):
    rows = sample_rows()
    rows[10] = rows[10][:6] + ["Main St", "and 5th"] + rows[10][7:]   # an unquoted comma in the address
    rows[30] = rows[30][:3]
    write(tmp_path / "requests.csv", rows)
    staged, result = check(requests_spec(tmp_path / "requests.csv", chunk_size=100), tmp_path)
    finding = by_label(result)["ragged_rows"]
    assert finding.status is Status.FAILED
    assert finding.samples == ("line 11: 12 of 11 fields", "line 31: 3 of 11 fields")
    assert staged.rows == SAMPLE_ROWS - 2


def test_the_file_may_lower_ragged_rows_to_a_warning_and_the_rows_stay_out(tmp_path):
    rows = sample_rows()
    rows[4] = rows[4][:7]
    write(tmp_path / "requests.csv", rows)
    staged, result = check(requests_spec(tmp_path / "requests.csv", {"ragged_rows": {"severity": "warning"}}),
                           tmp_path)
    assert by_label(result)["ragged_rows"].status is Status.WARNING
    assert result.passed
    assert staged.rows == SAMPLE_ROWS - 1


def test_a_clean_file_passes_the_ragged_rows_check(tmp_path):
    write(tmp_path / "requests.csv", sample_rows())
    staged, result = check(requests_spec(tmp_path / "requests.csv"), tmp_path)
    assert by_label(result)["ragged_rows"].status is Status.PASSED
    assert staged.ragged_rows == {"count": 0, "expected": None, "samples": []}


def test_an_extract_that_did_not_count_ragged_rows_is_refused(tmp_path):
    """A staged extract from before the count (an XCom of an older version): extract again."""
    write(tmp_path / "requests.csv", sample_rows())
    spec = requests_spec(tmp_path / "requests.csv")
    staged = extract_to_stage(spec, tmp_path / "extract.parquet").as_dict()
    del staged["ragged_rows"]
    result = validate_staged(spec, staged, previous_rows=None, first_publication=False,
                             report_dir=tmp_path / "report", now=NOW)
    assert by_label(result)["ragged_rows"].status is Status.FAILED
    assert "extract again" in by_label(result)["ragged_rows"].note


def test_sources_that_cannot_be_ragged_have_no_ragged_rows_check(tmp_path):
    spec = make_spec({"id": "text", "notes": "text"})
    staged = stage(spec, [{"id": f"R{i}", "notes": "fine"} for i in range(10)], tmp_path)
    sql = spec.model_dump(mode="json") | {"source": {"kind": "sql", "conn_id": "db", "query": "SELECT 1"}}
    result = validate(DatasetSpec.model_validate(sql), staged, tmp_path)
    assert "ragged_rows" not in by_label(result)


# --- cell size ------------------------------------------------------------------------------------

def test_a_10_mb_cell_is_an_error_naming_its_column_and_row(tmp_path):
    rows = sample_rows()
    rows[3][6] = "x" * 10_000_000       # address
    write(tmp_path / "requests.csv", rows)
    staged, result = check(requests_spec(tmp_path / "requests.csv"), tmp_path)
    assert staged.rows == SAMPLE_ROWS   # read whole, not a parse failure
    finding = by_label(result)["cell_size(address)"]
    assert finding.status is Status.FAILED
    assert (finding.failing, finding.checked, finding.samples) == (1, SAMPLE_ROWS, (rows[3][0],))
    assert finding.note == "largest 10,000,000 bytes"
    assert finding.rule == "at most 2,048 bytes per cell (the portal takes about 4 kB)"
    assert not result.passed and finding in result.errors
    report = result.report_markdown.read_text()
    assert "| FAIL | quality | cell_size | address | error | 1 | 50 | at most 2,048 bytes per cell" in report
    assert "xxxxxxxxxx" not in report + json.dumps(result.as_dict())
    assert by_label(result)["cell_size(request_type)"].status is Status.PASSED


def test_cell_size_counts_utf8_bytes_and_every_text_column(tmp_path):
    spec = make_spec({"id": "text", "notes": "text", "link": "url", "amount": "number"})
    rows = [{"id": f"R{i:03d}", "notes": "short", "link": "https://example.org/", "amount": "1"} for i in range(150)]
    rows[20]["notes"] = "é" * 1100                                  # 1,100 characters, 2,200 bytes
    rows[120]["link"] = "https://example.org/" + "a" * 3000
    rows[121]["notes"] = "a" * 2048                                 # exactly the limit: fine
    result = validate(spec, stage(spec, rows, tmp_path), tmp_path)
    labels = by_label(result)
    assert (labels["cell_size(notes)"].failing, labels["cell_size(notes)"].samples) == (1, ("R020",))
    assert (labels["cell_size(link)"].failing, labels["cell_size(link)"].samples) == (1, ("R120",))
    assert "cell_size(amount)" not in labels


def test_the_limit_and_severity_come_from_the_quality_section(tmp_path):
    rows = [{"id": f"R{i:03d}", "notes": "a" * 3000 if i == 7 else "ok"} for i in range(20)]
    raised = make_spec({"id": "text", "notes": "text"}, quality={"table": {"cell_size": {"max_bytes": 4000}}})
    assert by_label(validate(raised, stage(raised, rows, tmp_path / "a"), tmp_path / "a"))[
        "cell_size(notes)"].status is Status.PASSED
    lowered = make_spec({"id": "text", "notes": "text"},
                        quality={"table": {"cell_size": {"max_bytes": 100, "severity": "warning"}}})
    result = validate(lowered, stage(lowered, rows, tmp_path / "b"), tmp_path / "b")
    assert by_label(result)["cell_size(notes)"].status is Status.WARNING
    assert by_label(result)["cell_size(notes)"].rule.startswith("at most 100 bytes per cell")
    assert result.passed


def test_the_limit_cannot_be_raised_past_what_the_portal_accepts():
    with pytest.raises(ValueError, match="less than or equal to 4096"):
        make_spec({"id": "text"}, quality={"table": {"cell_size": {"max_bytes": 10_000_000}}})


def test_oversized_cells_are_found_in_every_batch_with_positions_when_ids_are_hidden(tmp_path):
    spec = make_spec({"id": "text", "notes": "text"}, row_identifier=None, refresh={"mode": "replace"})
    rows = [{"id": f"R{i:03d}", "notes": "a" * 5000 if i in (5, 150, 299) else "ok"} for i in range(300)]
    result = validate(spec, stage(spec, rows, tmp_path), tmp_path, batch_rows=100)
    finding = by_label(result)["cell_size(notes)"]
    assert (finding.failing, finding.samples) == (3, ("row 5", "row 150", "row 299"))


def test_a_sql_source_is_held_to_the_same_limit(tmp_path, monkeypatch):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'notes.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id text, notes text)")
        conn.exec_driver_sql("INSERT INTO notes VALUES ('N1', 'fine'), ('N2', ?)", ("z" * 9000,))
    engine.dispose()
    monkeypatch.setenv("AIRFLOW_CONN_NOTES_DB", url)
    spec = make_spec({"id": "text", "notes": "text"})
    sql = DatasetSpec.model_validate(spec.model_dump(mode="json") | {
        "source": {"kind": "sql", "conn_id": "notes_db", "query": "SELECT id, notes FROM notes"}})
    staged = extract_to_stage(sql, tmp_path / "extract.parquet")
    result = validate_staged(sql, staged, previous_rows=None, first_publication=False,
                             report_dir=tmp_path / "report", now=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    assert by_label(result)["cell_size(notes)"].samples == ("N2",)
    assert not result.passed
