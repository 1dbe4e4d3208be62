from __future__ import annotations

import datetime as dt

import pytest
import yaml

from opendata.scaffold.render import render_dataset_file

HOSTILE = [
    "a: b", "key #not a comment", "# leading hash", "'single'", '"double"', "it's", "line\nbreak", "two\n\nblank\n",
    "  leading spaces", "trailing spaces  ", "yes", "no", "null", "~", "1e3", "0x1F", "12", "3.5", "true", "Off",
    "2024-01-01", "=", "<<", "- dash", "? question", "@at", "`tick`", "%percent", "!tag", "&anchor", "*alias",
    "[flow]", "{map}", "ünïcødé ✓ 東京", "${HOME} and ${VARS}", "tab\there", "back\\slash", "nel\x85sep", "ls\u2028",
    "\ufeffbom", "ctrl\x07bell", "", " ", "ends with colon:", "x" * 500, ("word " * 60).strip(),
    ("double  spaces " * 20).strip(), "SELECT a,\n       b\nFROM t\nWHERE c = 'x'", "last line\n", "{{ jinja }}",
]


def _doc(value):
    return {"id": "x", "name": value, "nested": {"list": [value, {"deeper": value}], value or "k": value},
            "tags": [value, "plain"], "schema_version": 1}


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_read_back_as_given(value):
    data = _doc(value)
    text = render_dataset_file(data)
    assert yaml.safe_load(text) == data


def test_layout_order_comments_dates_and_schema_version_last():
    data = {"schema_version": 1, "id": "permits", "department": "building-and-safety",
            "description": ("Building, electrical, plumbing and pool permits issued by the Department of Building "
                            "and Safety since 2019: what work was permitted, where."),
            "coverage": {"start_date": dt.date(2019, 1, 1), "end_date": "current"},
            "publishing": {"tags": ["permits", "construction"], "row_identifier": "permit_nbr"},
            "columns": [{"field_name": "permit_nbr", "type": "text"}, {"field_name": "email", "type": "text"}],
            "privacy": {}}
    comments = {(): "Drafted by opendata new.", ("columns", 1): "suggested: values look like e-mail addresses\n"
                "(37 of 40 sampled)", ("columns", 0, "type"): "from VARCHAR(20)", ("coverage", "start_date"): "x"}
    text = render_dataset_file(data, comments=comments)
    assert yaml.safe_load(text) == data
    lines = text.splitlines()
    assert lines[0] == "# Drafted by opendata new."
    assert lines[-1] == "schema_version: 1" and lines[-3] == ""
    assert [line.split(":")[0] for line in lines if line and line[0].isalpha()] == [
        "id", "department", "description", "coverage", "publishing", "columns", "privacy", "schema_version"]
    assert "description: >-" in lines and all(len(line) <= 100 for line in lines)
    assert "  start_date: 2019-01-01" in lines and "  tags: [permits, construction]" in lines
    at = lines.index("  # suggested: values look like e-mail addresses")
    assert lines[at + 1] == "  # (37 of 40 sampled)" and lines[at + 2] == "  - field_name: email"
    assert lines[lines.index("  - field_name: permit_nbr") + 1] == "    # from VARCHAR(20)"
    assert "privacy: {}" in lines


def test_a_comment_cannot_break_out_into_yaml():
    data = {"id": "x", "schema_version": 1}
    text = render_dataset_file(data, comments={("id",): "one\rtwo\x85id: evil\u2028three"})
    assert yaml.safe_load(text) == data


def test_a_thousand_columns_render_quickly():
    import time

    data = {"id": "wide", "columns": [{"field_name": f"c{i}", "display_name": f"C {i}", "type": "text",
                                       "description": f"TODO: describe column {i} in plain English"}
                                      for i in range(1000)], "schema_version": 1}
    start = time.perf_counter()
    assert yaml.safe_load(render_dataset_file(data)) == data
    assert time.perf_counter() - start < 5
