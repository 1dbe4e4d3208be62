"""The portal's rows typed and hashed as the extract is (a dataset taken over from the portal):
an unchanged row hashes the same on both sides, for every type the project publishes."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from opendata.lifecycle.columns import compare_columns, file_type
from opendata.lifecycle.portal_rows import comparable, portal_batch
from opendata.portal.models import ColumnInfo
from opendata.sources.coerce import CoercionReport, coerce_chunk
from opendata.sources.fingerprint import row_fingerprint, row_hashes
from opendata.spec.dataset import DatasetSpec
from opendata.spec.vocab import SocrataType
from tests.conftest import REPO_ROOT

COLUMNS = [("rid", "text"), ("count", "number"), ("share", "number"), ("day", "floating_timestamp"),
           ("at", "fixed_timestamp"), ("open", "checkbox"), ("place", "point"), ("site", "url"), ("note", "text")]


def every_type_spec() -> DatasetSpec:
    data = yaml.safe_load((REPO_ROOT / "include/datasets/environmental-health/restaurant-inspections.yaml").read_text())
    data["columns"] = [{"field_name": name, "display_name": name.title(), "type": kind, "description": f"The {name}."}
                       for name, kind in COLUMNS]
    data["publishing"]["row_identifier"] = "rid"
    data.pop("quality", None)
    data.pop("privacy", None)
    return DatasetSpec.model_validate(data)


# The source as a CSV or a database hands it over (text, mostly), typed by the extract...
SOURCE = pd.DataFrame({
    "rid": ["A1", "A2", "A3", "A4"],
    "count": ["27", "1,200", None, "0"],
    "share": ["0.25", "1e-7", "33.333333333333336", ""],
    "day": ["2024-01-01", "2023-06-03T10:20:30.123", None, "2024-02-29 00:00:00"],
    "at": ["2024-01-01T08:00:00Z", "2024-06-30T23:59:59.999-07:00", None, "2024-01-01T00:00:00+00:00"],
    "open": ["true", "no", None, "1"],
    "place": ["POINT (-118.24 34.05)", "POINT(-118.2400 34.0500)", None, "POINT (0 0)"],
    "site": ["https://example.gov/a", None, "https://example.gov/c", ""],
    "note": ["plain", "", None, "ünïcode ✓"],
})
# ...and the same rows as SODA's JSON returns them: numbers as strings, floating timestamps with
# milliseconds, fixed ones in UTC with Z, checkboxes as booleans, points as GeoJSON, URLs as
# objects, nulls (and empty text) omitted.
PORTAL_ROWS = [
    {"rid": "A1", "count": "27", "share": "0.25", "day": "2024-01-01T00:00:00.000", "at": "2024-01-01T08:00:00.000Z",
     "open": True, "place": {"type": "Point", "coordinates": [-118.24, 34.05]},
     "site": {"url": "https://example.gov/a"}, "note": "plain"},
    {"rid": "A2", "count": "1200", "share": "0.0000001", "day": "2023-06-03T10:20:30.123",
     "at": "2024-07-01T06:59:59.999Z", "open": False, "place": {"type": "Point", "coordinates": [-118.24, 34.05]}},
    {"rid": "A3", "share": "33.333333333333336", "site": {"url": "https://example.gov/c", "description": "C"}},
    {"rid": "A4", "count": "0", "day": "2024-02-29T00:00:00.000", "at": "2024-01-01T00:00:00.000Z", "open": True,
     "place": {"type": "Point", "coordinates": [0, 0]}, "note": "ünïcode ✓"},
]


def test_every_type_hashes_the_same_read_back_from_the_portal():
    spec = every_type_spec()
    staged = coerce_chunk(spec, SOURCE, CoercionReport())
    read_back = portal_batch(PORTAL_ROWS, spec)
    assert read_back.schema == staged.schema
    mine, theirs = comparable(staged, spec), comparable(read_back, spec)
    for name in mine.schema.names:  # column by column first, for a readable failure
        assert mine.column(name).to_pylist() == theirs.column(name).to_pylist(), name
    assert list(row_hashes(mine)) == list(row_hashes(theirs))
    assert row_fingerprint(mine, "rid").equals(row_fingerprint(theirs, "rid"))


@pytest.mark.parametrize(("column", "value"), [("count", "28"), ("share", "0.26"), ("day", "2024-01-02T00:00:00.000"),
                                               ("at", "2024-01-01T08:00:01.000Z"), ("open", False),
                                               ("place", {"type": "Point", "coordinates": [-118.25, 34.05]}),
                                               ("site", {"url": "https://example.gov/b"}), ("note", "Plain")])
def test_any_changed_value_changes_the_row_hash(column, value):
    spec = every_type_spec()
    staged = comparable(coerce_chunk(spec, SOURCE, CoercionReport()), spec)
    changed = [dict(PORTAL_ROWS[0], **{column: value}), *PORTAL_ROWS[1:]]
    theirs = comparable(portal_batch(changed, spec), spec)
    hashes, other = row_hashes(staged), row_hashes(theirs)
    assert hashes[0] != other[0]
    assert list(hashes[1:]) == list(other[1:])


def test_a_column_the_portal_leaves_out_is_null():
    spec = every_type_spec()
    batch = portal_batch([{"rid": "X"}], spec)
    assert batch.num_rows == 1
    assert [batch.column(n)[0].as_py() for n in batch.schema.names[1:]] == [None] * (len(COLUMNS) - 1)


def test_portal_types_and_the_files_types():
    assert file_type("calendar_date") is SocrataType.FLOATING_TIMESTAMP
    assert file_type("date") is SocrataType.FIXED_TIMESTAMP
    assert file_type("money") is SocrataType.NUMBER
    assert file_type("multipolygon") is None
    portal = [ColumnInfo("rid", "Rid", "text", None, 1), ColumnInfo("n", "N", "text", None, 2),
              ColumnInfo("extra", "Extra", "number", None, 3), ColumnInfo("d", "D", "calendar_date", None, 4)]
    mine = [("rid", SocrataType.TEXT), ("n", SocrataType.NUMBER), ("d", SocrataType.FLOATING_TIMESTAMP),
            ("new", SocrataType.TEXT)]
    mismatch = compare_columns(mine, "rid", portal, None)
    assert mismatch.lines() == ["in the dataset file only: new (text)", "on the portal only: extra (number)",
                                "n is number in the dataset file, text on the portal",
                                "the row identifier is rid in the dataset file, none on the portal"]
    same = compare_columns([("rid", SocrataType.TEXT), ("d", SocrataType.FLOATING_TIMESTAMP)], "rid",
                           [portal[0], portal[3]], "rid")
    assert not same and same.lines() == []
