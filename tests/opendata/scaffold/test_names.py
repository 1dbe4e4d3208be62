from __future__ import annotations

import re

import pytest

from opendata.scaffold.names import display_name, field_name, field_names, title

_VALID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@pytest.mark.parametrize(("source", "expected"), [
    ("Permit #", "permit_number"), ("updatedAt", "updated_at"), ("HTTPStatus", "http_status"),
    ("Date Issued", "date_issued"), ("2024 total", "c_2024_total"), ("déclaré", "declare"), ("Straße", "strasse"),
    ("東京", "column"), ("", "column"), ("___", "column"), ("select", "select"), ("it's", "its"),
    ("% Complete", "percent_complete"), ("a" * 100, "a" * 63), ("x" + "_" * 70 + "y", "x_y"),
    ("a" * 62 + "_b", "a" * 62),
])
def test_field_names_are_socrata_names(source, expected):
    assert field_name(source) == expected
    assert _VALID.fullmatch(field_name(source))


def test_unique_in_order_even_at_the_length_limit():
    names = field_names(["Total", "total", "TOTAL!", "a" * 70, "a" * 80, "東京", "大阪"])
    assert names[:3] == ["total", "total_2", "total_3"]
    assert names[3] == "a" * 63 and names[4] == "a" * 61 + "_2" and names[5:] == ["column", "column_2"]
    assert all(_VALID.fullmatch(n) for n in names) and len(set(names)) == len(names)


def test_a_thousand_columns_stay_unique():
    names = field_names(["same"] * 1000)
    assert len(set(names)) == 1000 and names[-1] == "same_1000"


def test_display_names_and_titles():
    assert display_name("zip_code", "zip_code") == "ZIP Code"
    assert display_name("Date Issued", "date_issued") == "Date Issued"
    assert display_name("permit_nbr", "permit_nbr") == "Permit Nbr"
    assert title("building_permits") == "Building Permits"
    assert title("service_requests_311.csv") == "Service Requests 311"
