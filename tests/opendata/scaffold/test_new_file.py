"""`opendata new --file` on a CSV and an Excel file in the include folder."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.scaffold.command import NewRequest, run_new
from opendata.scaffold.errors import ScaffoldError
from tests.opendata.scaffold.conftest import column, load

HEADER = "SR Number,Created Date,Email,Phone,Address,Zip Code,Amount,Closed,Notes\n"


def _csv_rows(n: int = 30) -> str:
    return "".join(f"1-{i:010d},2025-01-{(i % 28) + 1:02d},caller{i}@example.org,(213) 555-{1000 + i},"
                   f"{100 + i} N Main St,{90012 + i % 3:05d},\"1,{i:03d}.50\",{'true' if i % 2 else 'false'},"
                   f"note {i}\n" for i in range(1, n + 1))


def _new(include_dir, path, dataset_id="requests", **kwargs) -> dict:
    run_new(NewRequest(dataset_id=dataset_id, department="sanitation", include_dir=include_dir, file=path, **kwargs))
    return load(include_dir / "datasets" / "sanitation" / f"{dataset_id}.yaml")


def test_a_csv_file(include_dir):
    path = include_dir / "sample_sources" / "requests.csv"
    path.write_text(HEADER + _csv_rows())
    data = _new(include_dir, path)
    assert [(c["field_name"], c["type"], c.get("source_column")) for c in data["columns"]] == [
        ("sr_number", "text", "SR Number"), ("created_date", "floating_timestamp", "Created Date"),
        ("email", "text", "Email"), ("phone", "text", "Phone"), ("address", "text", "Address"),
        ("zip_code", "text", "Zip Code"), ("amount", "number", "Amount"), ("closed", "checkbox", "Closed"),
        ("notes", "text", "Notes")]
    assert data["source"] == {"kind": "file", "path": "sample_sources/requests.csv"}
    # No declared key: a unique, id-like column of the sample, said to be inferred; no watermark for a file.
    assert data["publishing"]["row_identifier"] == "sr_number"
    text = (include_dir / "datasets" / "sanitation" / "requests.yaml").read_text()
    assert "inferred from a sample: all 30 sampled values of SR Number are present and different" in text
    # E-mails and phones wait for a person; addresses are masked to hundred blocks.
    privacy = data["privacy"]
    assert privacy["allowed"]["email"]["kinds"] == ["email"] and privacy["allowed"]["phone"]["kinds"] == ["phone"]
    assert privacy["mask"] == {"address": {"method": "hundred_block"}}
    assert "values look like street addresses (30 of 30 sampled)" in text
    assert "address" not in privacy["allowed"]
    assert data["coverage"]["start_date"] == dt.date(2025, 1, 1)
    assert data["coverage"]["geographic_granularity"] == "address"
    assert data["source_system"] == "CSV file requests.csv"
    assert column(data, "notes")["description"].startswith("TODO: describe Notes")


def test_a_csv_file_with_other_delimiter_and_encoding(include_dir):
    path = include_dir / "sample_sources" / "caf\u00e9s.csv"
    path.write_bytes("Caf\u00e9 Id;Name\n1;Le Caf\u00e9\n2;Bistro\n".encode("cp1252"))
    data = _new(include_dir, path, dataset_id="cafes")
    assert data["source"] == {"kind": "file", "path": "sample_sources/caf\u00e9s.csv", "encoding": "cp1252",
                              "delimiter": ";"}
    assert [c["field_name"] for c in data["columns"]] == ["cafe_id", "name"]


def test_an_excel_file(include_dir):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Inspection ID", "Inspected At", "Owner Email", "Score", "Passed"])
    for i in range(1, 21):
        sheet.append([f"DAJ{i:08d}", dt.datetime(2025, 2, i, 9, 30), f"owner{i}@example.org", 80 + i, i % 3 != 0])
    path = include_dir / "sample_sources" / "inspections.xlsx"
    book.save(path)
    data = _new(include_dir, path, dataset_id="inspections")
    assert [(c["field_name"], c["type"]) for c in data["columns"]] == [
        ("inspection_id", "text"), ("inspected_at", "floating_timestamp"), ("owner_email", "text"),
        ("score", "number"), ("passed", "checkbox")]
    assert data["publishing"]["row_identifier"] == "inspection_id"
    assert data["privacy"]["allowed"]["owner_email"]["kinds"] == ["email"]
    assert data["source"] == {"kind": "file", "path": "sample_sources/inspections.xlsx"}
    assert data["coverage"]["start_date"] == dt.date(2025, 2, 1)


def test_social_security_numbers_are_left_out_and_dropped_on_read(include_dir):
    path = include_dir / "sample_sources" / "people.csv"
    path.write_text("case_id,ssn_value,status\n" + "".join(f"C{i},123-45-{6000 + i},open\n" for i in range(10)))
    data = _new(include_dir, path, dataset_id="cases")
    assert [c["field_name"] for c in data["columns"]] == ["case_id", "status"]
    assert data["privacy"] == {"remove": ["ssn_value"]}
    comments = " ".join(line.strip().removeprefix("# ") for line in
                        (include_dir / "datasets" / "sanitation" / "cases.yaml").read_text().splitlines()
                        if line.strip().startswith("#"))
    assert ("ssn_value: values look like social security numbers (10 of 10 sampled); the column name says social "
            "security numbers: never open data; dropped as soon as it is read") in comments


@pytest.mark.parametrize(("name", "message"), [
    ("../outside.csv", "is outside the include folder"),
    ("${HOME}/x.csv", "no such file"),
    ("missing.csv", "no such file"),
])
def test_paths_that_cannot_be_a_source(include_dir, tmp_path, monkeypatch, name, message):
    monkeypatch.delenv("OPENDATA_DATA_ROOTS")  # the tests name the temporary folder a data root
    (tmp_path / "outside.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ScaffoldError, match="^.*" + message.replace("$", r"\$")):
        run_new(NewRequest(dataset_id="x", department="sanitation", include_dir=include_dir,
                           file=include_dir / name))


def test_a_file_in_a_data_root_is_named_by_its_absolute_path(include_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_DATA_ROOTS", str(tmp_path / "exports"))
    (tmp_path / "exports").mkdir()
    path = tmp_path / "exports" / "trees.csv"
    path.write_text("tree_id,species\nT1,Oak\nT2,Elm\n")
    data = _new(include_dir, include_dir / ".." / "exports" / "trees.csv", dataset_id="trees")
    assert data["source"]["path"] == str(path.resolve())


def test_a_dollar_in_a_file_name_is_refused_as_the_loader_would(include_dir):
    path = include_dir / "sample_sources" / "${HOME}.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ScaffoldError, match=r"environment variables are never expanded"):
        run_new(NewRequest(dataset_id="x", department="sanitation", include_dir=include_dir, file=path))


def test_an_empty_file_and_a_folder(include_dir):
    empty = include_dir / "sample_sources" / "empty.csv"
    empty.write_text("")
    with pytest.raises(ScaffoldError, match="no header row"):
        run_new(NewRequest(dataset_id="x", department="sanitation", include_dir=include_dir, file=empty))
    with pytest.raises(ScaffoldError, match="not a regular file"):
        run_new(NewRequest(dataset_id="x", department="sanitation", include_dir=include_dir,
                           file=include_dir / "sample_sources"))
