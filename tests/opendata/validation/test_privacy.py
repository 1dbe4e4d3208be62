"""The privacy gate: personal data blocks the run, named by column and kind, and no value ever
reaches the log, the report or the XCom result."""

from __future__ import annotations

import json
import logging

import pyarrow.parquet as pq
import pytest

from opendata.spec.privacy import PiiKind
from opendata.validation.findings import Status
from tests.opendata.validation.helpers import by_label, make_spec, stage, validate

ROWS = 250

# Ten kinds of personal data: six found by value (in columns whose names give nothing away),
# four by column name.
SEEDED = {
    "reference": ("ssn", lambda i: f"{100 + i}-{10 + i % 80:02d}-{1000 + i:04d}"),
    "contact": ("email", lambda i: f"resident{i}@mail.example.org"),
    "callback": ("phone", lambda i: f"(213) 555-{1000 + i:04d}"),
    "payment": ("credit_card", lambda i: "4111 1111 1111 1111" if i % 2 else "5500 0000 0000 0004"),
    "notes": ("street_address", lambda i: f"Caller lives at {100 + i} W Sunset Blvd, wants pickup"),
    "device": ("ip_address", lambda i: f"10.0.{i % 250}.{1 + i % 200}"),
    "date_of_birth": ("date_of_birth", lambda i: f"19{50 + i % 50}-0{1 + i % 9}-1{i % 9}"),
    "drivers_license": ("drivers_license", lambda i: f"D{4000000 + i}"),
    "passport_number": ("passport", lambda i: f"X{9100000 + i}"),
    "first_name": ("person_name", lambda i: ["Maria", "Tomasz", "Keiko", "Oluwaseun"][i % 4]),
}
COLUMNS = {"id": "text", "request_type": "text"} | {
    name: ("floating_timestamp" if name == "date_of_birth" else "text") for name in SEEDED}


def seeded_rows() -> list[dict]:
    return [{"id": f"P{i:04d}", "request_type": "Bulky Items"} | {name: make(i) for name, (_, make) in SEEDED.items()}
            for i in range(ROWS)]


def test_ten_kinds_of_personal_data_block_the_run_each_named_and_no_value_leaks(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    # Quality checks that fail on the personal data too: pandera's failure cases hold the values.
    spec = make_spec(COLUMNS, quality={"columns": {"contact": {"pattern": {"regex": "x"}},
                                                   "first_name": {"allowed_values": {"values": ["Ann"]}},
                                                   "reference": {"unique": {}}}})
    rows = seeded_rows()
    rows[7]["reference"] = rows[3]["reference"]
    staged = stage(spec, rows, tmp_path)
    result = validate(spec, staged, tmp_path)

    assert not result.passed
    assert {r.label for r in result.errors if r.area.value == "quality"} == {
        "pattern(contact)", "allowed_values(first_name)", "unique(reference)"}
    found = {(r.column, r.kind) for r in result.privacy_findings}
    assert found == {(column, kind) for column, (kind, _) in SEEDED.items()}
    assert len({kind for _, kind in found}) == 10
    for r in result.privacy_findings:
        assert r.status is Status.FAILED
        assert r.checked == ROWS
    notes = {r.column: r.note for r in result.privacy_findings}
    assert notes["contact"] == "found by 250 cells (100.0% of non-empty)"
    assert notes["first_name"] == "found by column name"
    assert result.summary.endswith(
        "privacy: 10 findings (credit_card, date_of_birth, drivers_license, email, ip_address, passport, "
        "person_name, phone, ssn, street_address)")

    # Every kind is named in the log and in both reports...
    log_text = "\n".join(record.getMessage() for record in caplog.records)
    markdown = result.report_markdown.read_text()
    page = result.report_html.read_text()
    xcom = json.dumps(result.as_dict())
    for kind in {k for _, k in found}:
        for text in (log_text, markdown, page, xcom):
            assert kind in text
    # ...and no seeded value appears anywhere: not in the log, the reports or the XCom result.
    values = {str(row[name]) for row in rows for name in SEEDED}
    values |= {v[:10] for v in values if len(v) > 10}  # not even the start of one
    for text in (log_text, markdown, page, xcom):
        leaked = sorted(v for v in values if v in text)
        assert leaked == [], leaked[:5]


def test_allowed_column_passes_with_its_justification_in_the_report(tmp_path):
    justification = "Addresses of city facilities, not of people; published since 2015."
    spec = make_spec({"id": "text", "site": "text"},
                     privacy={"allowed": {"site": {"kinds": ["street_address"], "justification": justification}}})
    staged = stage(spec, [{"id": f"S{i}", "site": f"{200 + i} N Spring St"} for i in range(ROWS)], tmp_path)
    result = validate(spec, staged, tmp_path)
    assert result.passed
    finding = by_label(result)["pii:street_address(site)"]
    assert finding.status is Status.PASSED
    assert finding.note == f"found by 250 cells (100.0% of non-empty); allowed: {justification}"
    assert justification in result.report_markdown.read_text()


def test_allowing_one_kind_does_not_allow_another(tmp_path):
    spec = make_spec({"id": "text", "site": "text"},
                     privacy={"allowed": {"site": {"kinds": ["street_address"],
                                                   "justification": "Facility addresses, public record."}}})
    rows = [{"id": f"S{i}", "site": f"{200 + i} N Spring St"} for i in range(ROWS)]
    rows[17]["site"] = "call 213-555-0199"
    result = validate(spec, stage(spec, rows, tmp_path), tmp_path)
    assert [(r.label, r.failing, r.samples) for r in result.privacy_findings] == [("pii:phone(site)", 1, ("S17",))]


def test_one_phone_number_in_free_text_is_a_finding_unless_below_the_files_share(tmp_path):
    rows = [{"id": f"S{i}", "comment": "Mattress left by the curb"} for i in range(ROWS)]
    rows[40]["comment"] = "Please call me back at 818-555-0142"
    spec = make_spec({"id": "text", "comment": "text"})
    result = validate(spec, stage(spec, rows, tmp_path / "a"), tmp_path / "a")
    assert [(r.label, r.failing) for r in result.privacy_findings] == [("pii:phone(comment)", 1)]
    tolerant = make_spec({"id": "text", "comment": "text"}, privacy={"min_match_share": 0.01})
    result = validate(tolerant, stage(tolerant, rows, tmp_path / "b"), tmp_path / "b")
    assert result.passed
    assert by_label(result)["pii:phone(comment)"].note.endswith("below the file's min_match_share 1.0%")


def test_personal_data_in_the_row_identifier_hides_every_row_identifier(tmp_path, caplog):
    spec = make_spec({"email": "text", "amount": "number"}, row_identifier="email",
                     quality={"columns": {"amount": {"range": {"min": 0}}}})
    rows = [{"email": f"person{i}@mail.example.org", "amount": str(i)} for i in range(ROWS)]
    rows[30]["amount"] = "-1"
    result = validate(spec, stage(spec, rows, tmp_path), tmp_path)
    labels = by_label(result)
    # Not even positions for the identifier's own finding; positions, not e-mails, elsewhere.
    assert labels["pii:email(email)"].samples == ()
    assert labels["range(amount)"].samples == ("row 30",)
    everything = result.report_markdown.read_text() + json.dumps(result.as_dict()) + caplog.text
    assert "mail.example.org" not in everything


def test_remove_and_mask_happen_before_anything_is_written(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    spec = make_spec({"id": "text", "location": "text", "zip_code": "text", "reported": "floating_timestamp",
                      "caller": "text"},
                     privacy={"remove": ["caller_ssn"],
                              "mask": {"location": {"method": "hundred_block"}, "caller": {"method": "redact"},
                                       "zip_code": {"method": "keep_first", "keep": 3},
                                       "reported": {"method": "month"}}})
    rows = [{"id": f"M{i}", "caller_ssn": f"123-45-{1000 + i}", "location": f"{1200 + i} W Olympic Blvd",
             "zip_code": "90015", "reported": "2026-05-17T10:30:00", "caller": f"Caller {i}"} for i in range(ROWS)]
    staged = stage(spec, rows, tmp_path)
    assert staged.privacy == {"removed": ["caller_ssn"], "masked": {
        "location": "hundred_block", "caller": "redact", "zip_code": "keep_first", "reported": "month"}}
    assert staged.unpublished_source_columns == []
    table = pq.read_table(staged.path)
    assert table.column_names == ["id", "location", "zip_code", "reported", "caller"]
    assert table.column("caller").null_count == ROWS
    assert set(table.column("location").to_pylist()) == {"12XX W Olympic Blvd", "13XX W Olympic Blvd",
                                                         "14XX W Olympic Blvd"}
    assert set(table.column("zip_code").to_pylist()) == {"900"}
    assert {str(v) for v in table.column("reported").to_pylist()} == {"2026-05-01 00:00:00"}
    result = validate(spec, staged, tmp_path)
    assert result.passed, result.summary
    report = result.report_markdown.read_text()
    assert "| caller_ssn | removed on read |" in report
    assert "| location | masked before staging: hundred_block |" in report
    assert "123-45-" not in caplog.text


@pytest.mark.parametrize("k,passed", [(5, True), (50, False)])
def test_small_cells_on_quasi_identifiers(tmp_path, k, passed):
    spec = make_spec({"id": "text", "zip_code": "text", "age_group": "text"},
                     privacy={"quasi_identifiers": {"columns": ["zip_code", "age_group"], "k": k}})
    rows = [{"id": f"Q{i}", "zip_code": ["90012", "90015"][i % 2], "age_group": ["18-34", "35-64", "65+"][i % 3]}
            for i in range(240)]
    rows += [{"id": "Q-odd", "zip_code": "90012", "age_group": None}]   # a cell of one
    result = validate(spec, stage(spec, rows, tmp_path), tmp_path)
    cells = by_label(result)["small_cells:k_anonymity(zip_code, age_group)"]
    if k == 5:
        # The lone row with no age group is a cell of one: it fails even the small k.
        assert (cells.status, cells.failing) == (Status.FAILED, 1)
        assert cells.note == "1 of 7 combinations occur in fewer than 5 rows (smallest: 1)"
    else:
        assert (cells.status, cells.failing) == (Status.FAILED, 241)
    assert not result.passed
    rows.pop()
    clean = validate(spec, stage(spec, rows, tmp_path / "clean"), tmp_path / "clean")
    assert clean.passed is passed


def test_level_2_needs_a_recorded_approval(tmp_path):
    classification = {"category": "sensitive", "level": 2, "details": "Likely to attract media attention."}
    rows = [{"id": f"C{i}"} for i in range(ROWS)]
    spec = make_spec({"id": "text"}, classification=classification)
    result = validate(spec, stage(spec, rows, tmp_path / "a"), tmp_path / "a")
    assert [(r.check, r.status) for r in result.findings] == [("classification", Status.FAILED)]
    assert "record it under classification.approval" in result.findings[0].note
    approved = make_spec({"id": "text"}, classification=classification | {
        "approval": {"approved_by": "maria-alvarez", "approved_at": "2026-11-02"}})
    result = validate(approved, stage(approved, rows, tmp_path / "b"), tmp_path / "b")
    assert result.passed
    assert by_label(result)["classification"].note == "level 2, approved by maria-alvarez on 2026-11-02"


def test_personal_data_is_a_finding_even_when_the_column_is_not_text(tmp_path):
    spec = make_spec({"id": "text", "birth_date": "floating_timestamp", "ssn": "number"})
    rows = [{"id": f"N{i}", "birth_date": "1980-01-01", "ssn": None} for i in range(ROWS)]
    result = validate(spec, stage(spec, rows, tmp_path), tmp_path)
    assert {(r.column, r.kind, r.failing) for r in result.privacy_findings} == {
        ("birth_date", PiiKind.DATE_OF_BIRTH.value, 250), ("ssn", PiiKind.SSN.value, 0)}
