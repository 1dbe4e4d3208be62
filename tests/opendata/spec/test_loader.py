"""The dataset and governance files: good files load, each kind of mistake is reported exactly."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.spec.loader import load_catalog
from opendata.spec.vocab import UpdateFrequency
from tests.opendata.spec.conftest import GOOD_FILE, edit

SAMPLE_IDS = ["building-permits", "restaurant-inspections", "service-requests-311"]


def test_repository_files_are_valid():
    catalog = load_catalog()
    assert catalog.errors == []
    assert sorted(d.spec.id for d in catalog.datasets) == SAMPLE_IDS
    assert catalog.governance is not None
    assert catalog.governance.cdo.email == "cdo@opendata.lacity.example"


def test_good_file_is_fully_typed(include_copy):
    spec = load_catalog(include_copy).get("service-requests-311").spec
    assert spec.update_frequency is UpdateFrequency.DAILY
    # Daily at the dataset's own time of day (spec/schedule.py), not at midnight with every other.
    assert spec.schedule == "36 12 * * *"
    assert spec.publishing.tags == ["311", "service requests", "sanitation"]
    assert spec.publishing.row_identifier == "sr_number"
    assert spec.source.kind == "file"
    assert spec.coverage.end_date == "current"
    assert spec.field_names[:2] == ["sr_number", "created_date"]


# Each case: (what the engineer got wrong, the text edit, the exact error line after the path).
MISTAKES = [
    ("misspelt top-level key", "update_frequency: daily", "update_frequncy: daily",
     ["update_frequency: required field is missing",
      "19: update_frequncy: unknown field (did you mean 'update_frequency'?)"]),
    ("misspelt nested key", "  license: PUBLIC_DOMAIN", "  licence: PUBLIC_DOMAIN",
     ["33: publishing.license: required field is missing",
      "36: publishing.licence: unknown field (did you mean 'license'?)"]),
    ("value outside the vocabulary", "update_frequency: daily", "update_frequency: dialy",
     ["19: update_frequency: Input should be 'hourly', 'daily', 'weekly', 'biweekly', 'monthly', 'quarterly', "
      "'semiannually', 'annually', 'irregular' or 'historical' (did you mean 'daily'?)"]),
    ("unknown column type", "    type: floating_timestamp\n    description: When the request was made",
     "    type: timestamp\n    description: When the request was made",
     ["53: columns[1].type: Input should be 'text', 'number', 'checkbox', 'floating_timestamp', "
      "'fixed_timestamp', 'point' or 'url' (did you mean 'fixed_timestamp'?)"]),
    ("unknown source kind", "  kind: file", "  kind: flie",
     ["42: source: unknown kind 'flie'; expected one of 'sql', 'file', 'http' (did you mean 'file'?)"]),
    ("key of another source kind", "  path: sample_sources/service_requests_311.csv",
     "  path: sample_sources/service_requests_311.csv\n  query: SELECT 1",
     ["45: source.query: unknown field"]),
    ("level 3 data", "  category: public\n  level: 1", "  category: sensitive\n  level: 3\n  details: medical",
     ["29: classification.level: level 3 data is restricted by PII, HIPAA, state or federal law and will NOT "
      "be accessible through the Open Data Portal; remove this dataset from the publication inventory or "
      "publish a de-identified level 1 derivative instead"]),
    ("protected data without details", "  category: public\n  level: 1", "  category: protected\n  level: 2",
     ["27: classification: details are required for protected data"]),
    ("invalid e-mail", "  email: grace.park@lasan.lacity.example", "  email: grace.park-at-lasan",
     ["11: steward.email: value is not a valid email address: An email address must have an @-sign."]),
    ("number where text is expected", 'tags: ["311", service requests', "tags: [311, service requests",
     ["35: publishing.tags[0]: expected text, found 311; put it in quotes"]),
    ("wrong date", "  start_date: 2025-01-01", "  start_date: 2025-13-01",
     ["15: coverage.start_date: Input should be a valid date or datetime, month value is outside expected "
      "range of 1-12"]),
    ("end before start", "  end_date: current", "  end_date: 2024-06-30",
     ["14: coverage: end_date is before start_date"]),
    ("row identifier not in the dictionary", "  row_identifier: sr_number", "  row_identifier: sr_numbr",
     ["41: publishing.row_identifier: 'sr_numbr' is not a column of the data dictionary "
      "(did you mean 'sr_number'?)"]),
    ("coordinator from another department", "coordinator: samuel-okafor", "coordinator: samuel-okafr",
     ["12: coordinator: 'samuel-okafr' is not a coordinator of sanitation in governance.yaml "
      "(did you mean 'samuel-okafor'?)"]),
    ("bad field name", "  - field_name: sr_number", "  - field_name: SR Number",
     ["47: columns[0].field_name: must be a Socrata API field name: lower-case letters, digits and '_', "
      "starting with a letter, at most 63 characters"]),
    ("missing description", "    description: Open, Pending, Closed or Cancelled.\n", "",
     ["63: columns[4].description: required field is missing"]),
    ("id that is not the file name", "id: service-requests-311", "id: service-requests",
     ["2: id: must match the file name 'service-requests-311' (did you mean 'service-requests-311'?)"]),
    ("broken YAML", "  tags: [", "  tags: [[",
     ["36: (file): invalid YAML: expected ',' or ']', but got '<scalar>'"]),
    # quality and privacy sections: column names checked against the dictionary, checks against types
    ("quality check on an unknown column", "    zip_code:\n      pattern:", "    zip_cod:\n      pattern:",
     ["111: quality.columns.zip_cod: 'zip_cod' is not a column of the data dictionary (did you mean 'zip_code'?)"]),
    ("range on a text column", "    zip_code:\n      pattern: {regex: '\\d{5}', severity: warning}",
     "    zip_code:\n      range: {min: 0}",
     ["112: quality.columns.zip_code.range: range applies to number columns; zip_code is text"]),
    ("unknown severity", "      pattern: {regex: '1-\\d{10}', severity: warning}",
     "      pattern: {regex: '1-\\d{10}', severity: warnig}",
     ["97: quality.columns.sr_number.pattern.severity: Input should be 'error' or 'warning' "
      "(did you mean 'warning'?)"]),
    ("invalid regular expression", "      pattern: {regex: '1-\\d{10}', severity: warning}",
     "      pattern: {regex: '1-[0-9', severity: warning}",
     ["97: quality.columns.sr_number.pattern.regex: not a valid regular expression: unterminated character set "
      "at position 2"]),
    ("number among a text column's allowed values", "{values: [Open, Pending, Closed, Cancelled]}",
     "{values: [Open, 1]}",
     ["106: quality.columns.status.allowed_values.values: status is a text column: give every value as text "
      "(quote numbers, '311')"]),
    ("comparison with an unknown column", "other: created_date", "other: created_dat",
     ["123: quality.table.comparisons[0].other: 'created_dat' is not a column of the data dictionary "
      "(did you mean 'created_date'?)"]),
    ("misspelt table check", "  table:\n    row_count:", "  table:\n    row_cout:",
     ["120: quality.table.row_cout: unknown field (did you mean 'row_count'?)"]),
    ("allowed personal data in an unknown column", "  allowed:\n    address:", "  allowed:\n    adress:",
     ["126: privacy.allowed.adress: 'adress' is not a column of the data dictionary (did you mean 'address'?)"]),
    ("unknown kind of personal data", "      kinds: [street_address]", "      kinds: [street_adress]",
     ["127: privacy.allowed.address.kinds[0]: Input should be 'ssn', 'email', 'phone', 'credit_card', "
      "'date_of_birth', 'street_address', 'drivers_license', 'passport', 'government_id', 'person_name', "
      "'medical_record', 'bank_account', 'tax_id' or 'ip_address' (did you mean 'street_address'?)"]),
    ("removing a published column", "privacy:\n", "privacy:\n  remove: [zip_code]\n",
     ["125: privacy.remove[0]: 'zip_code' is a published column (columns[7]); take it out of the data dictionary, "
      "or mask it instead"]),
    ("mask that does not suit the column", "privacy:\n",
     "privacy:\n  mask:\n    council_district: {method: hundred_block}\n",
     ["126: privacy.mask.council_district.method: hundred_block masks text columns; council_district is number"]),
    ("keep_first without keep", "privacy:\n", "privacy:\n  mask:\n    zip_code: {method: keep_first}\n",
     ["126: privacy.mask.zip_code: keep_first needs keep: the number of characters to keep"]),
    ("quasi-identifier misspelt", "privacy:\n",
     "privacy:\n  quasi_identifiers: {columns: [zip_code, council_distrct], k: 5}\n",
     ["125: privacy.quasi_identifiers.columns[1]: 'council_distrct' is not a column of the data dictionary "
      "(did you mean 'council_district'?)"]),
    ("level 2 approved by a coordinator", "  category: public\n  level: 1",
     "  category: sensitive\n  level: 2\n  details: Media interest.\n"
     "  approval: {approved_by: samuel-okafor, approved_at: 2026-11-01}",
     ["31: classification.approval.approved_by: 'samuel-okafor' may not approve level 2 data: the Chief Data "
      "Officer or the department's leadership in governance.yaml may"]),
    # freshness section: the date column against the dictionary, thresholds against the promised frequency
    ("newest date column misspelt", "privacy:\n", "freshness:\n  newest_date_column: created_dat\nprivacy:\n",
     ["125: freshness.newest_date_column: 'created_dat' is not a column of the data dictionary "
      "(did you mean 'created_date'?)"]),
    ("newest date column that holds no dates", "privacy:\n", "freshness:\n  newest_date_column: status\nprivacy:\n",
     ["125: freshness.newest_date_column: must be a date column (floating_timestamp or fixed_timestamp); "
      "status is text"]),
    ("misspelt no-update day", "privacy:\n", "freshness:\n  no_updates_on: [saterday, 12-25]\nprivacy:\n",
     ["125: freshness.no_updates_on: 'saterday' is not a weekday (saturday or sat), 'weekends', a date "
      "(2026-11-26) or a yearly date (12-25) (did you mean 'saturday'?)"]),
    ("impossible holiday", "privacy:\n", "freshness:\n  no_updates_on: [2026-02-30]\nprivacy:\n",
     ["125: freshness.no_updates_on: '2026-02-30' is not a valid date: day is out of range for month"]),
    ("misspelt threshold period", "privacy:\n", "freshness:\n  due_after: {count: 3, period: days}\nprivacy:\n",
     ["125: freshness.due_after.period: Input should be 'minute', 'hour' or 'day' (did you mean 'day'?)"]),
    ("misspelt freshness key", "privacy:\n", "freshness:\n  overdue_afer: {count: 9, period: day}\nprivacy:\n",
     ["125: freshness.overdue_afer: unknown field (did you mean 'overdue_after'?)"]),
    ("due later than the default overdue", "privacy:\n",
     "freshness:\n  due_after: {count: 5, period: day}\nprivacy:\n",
     ["125: freshness.due_after: must be shorter than overdue_after (4 days, the daily default); "
      "give overdue_after too"]),
    ("thresholds in the wrong order", "privacy:\n",
     "freshness:\n  due_after: {count: 3, period: day}\n  overdue_after: {count: 48, period: hour}\nprivacy:\n",
     ["124: freshness: overdue_after (48 hours) must be longer than due_after (3 days)"]),
]


@pytest.mark.parametrize("mistake,old,new,expected", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_reported_with_file_field_and_hint(include_copy, mistake, old, new, expected):
    path = include_copy / GOOD_FILE
    edit(path, old, new)
    catalog = load_catalog(include_copy)
    assert sorted(str(e) for e in catalog.errors) == sorted(
        f"{path}:{line}" if line[0].isdigit() else f"{path}: {line}" for line in expected)
    # The broken file never stops the others.
    assert sorted(d.spec.id for d in catalog.datasets) == ["building-permits", "restaurant-inspections"]


def test_duplicate_dataset_id_keeps_one_file_and_reports_the_other_naming_both(include_copy):
    # Without a record of which file held the id first, the first by path keeps it (the record
    # case is in test_hostile_files.py): one DAG stays, the other file is an error naming both.
    source = include_copy / GOOD_FILE
    twin = include_copy / "datasets" / "building-and-safety" / "service-requests-311.yaml"
    twin.write_text(source.read_text().replace("department: sanitation", "department: building-and-safety")
                    .replace("coordinator: samuel-okafor", "coordinator: jorge-ramos"))
    catalog = load_catalog(include_copy)
    assert [(e.file, e.field) for e in catalog.errors] == [(source, "id")]
    assert f"dataset id 'service-requests-311' is already used by {twin}" in catalog.errors[0].message
    assert [d.path for d in catalog.datasets if d.spec.id == "service-requests-311"] == [twin]


def test_file_outside_a_department_folder(include_copy):
    stray = include_copy / "datasets" / "loose.yaml"
    stray.write_text("id: loose\n")
    assert [str(e) for e in load_catalog(include_copy).errors] == [
        f"{stray}: (file): dataset files belong in a department folder: datasets/<department>/<dataset id>.yaml"
    ]


def test_unknown_department_folder(include_copy):
    folder = include_copy / "datasets" / "parks"
    folder.mkdir()
    moved = folder / "service-requests-311.yaml"
    (include_copy / GOOD_FILE).rename(moved)
    edit(moved, "department: sanitation", "department: parks")
    assert [str(e) for e in load_catalog(include_copy).errors] == [
        f"{moved}:3: department: unknown department 'parks' in governance.yaml"
    ]


def test_governance_reference_to_unknown_person(include_copy):
    governance = include_copy / "governance.yaml"
    edit(governance, "chief_data_officer: maria-alvarez", "chief_data_officer: maria-alvares")
    errors = [str(e) for e in load_catalog(include_copy).errors]
    assert errors == [f"{governance}:47: chief_data_officer: unknown person 'maria-alvares'; add them under "
                      f"people (did you mean 'maria-alvarez'?)"]


def test_empty_file(include_copy):
    path = include_copy / GOOD_FILE
    path.write_text("")
    assert [str(e) for e in load_catalog(include_copy).errors] == [
        f"{path}:1: (file): expected a mapping of keys to values, found an empty file"
    ]


def test_thresholds_do_not_apply_to_irregular_data(include_copy):
    path = include_copy / GOOD_FILE
    edit(path, "update_frequency: daily", "update_frequency: irregular")
    edit(path, "privacy:\n", "freshness:\n  overdue_after: {count: 30, period: day}\nprivacy:\n")
    assert [str(e) for e in load_catalog(include_copy).errors] == [
        f"{path}:125: freshness.overdue_after: update_frequency is irregular: the monitor lists this dataset but "
        f"never alerts, so thresholds do not apply; remove overdue_after or promise an update frequency"]


def test_freshness_section_is_typed(include_copy):
    path = include_copy / GOOD_FILE
    edit(path, "privacy:\n", "freshness:\n  due_after: {count: 36, period: hour}\n"
         "  no_updates_on: [weekends, Sun, 2026-11-26, 12-25]\n  newest_date_column: created_date\nprivacy:\n")
    catalog = load_catalog(include_copy)
    assert catalog.errors == []
    section = catalog.get("service-requests-311").spec.freshness
    assert str(section.due_after) == "36 hours" and section.overdue_after is None
    days = section.no_update_days
    assert days.weekdays == {5, 6}
    assert dt.date(2026, 11, 26) in days and dt.date(2031, 12, 25) in days and dt.date(2026, 11, 27) not in days
    assert section.newest_date_column == "created_date"
