"""Pure functions: value normalization, row ids, account parsing (no server needed)."""

from __future__ import annotations

import re

import pytest

from portal_emulator import ids
from portal_emulator.config import parse_account, parse_accounts
from portal_emulator.datatypes import BadValue, TypeGuesser, compile_transform, normalizer


@pytest.mark.parametrize(
    "value,expected",
    [
        (1, "1"),
        (1.0, "1"),
        (1.5, "1.5"),
        ("12.50", "12.5"),
        ("007", "7"),
        ("1e3", "1000"),
        (-0.25, "-0.25"),
        ("1,234.5", "1234.5"),
        (1e-05, "0.00001"),
    ],
)
def test_numbers_are_soda_strings(value, expected):
    assert normalizer("number")(value) == expected


@pytest.mark.parametrize("value", [True, "abc", float("nan"), [1], {"a": 1}])
def test_bad_numbers(value):
    with pytest.raises(BadValue):
        normalizer("number")(value)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2014-10-13", "2014-10-13T00:00:00.000"),
        ("2014-10-13T01:02:03.456789", "2014-10-13T01:02:03.456"),
        ("2014-10-13 01:02", "2014-10-13T01:02:00.000"),
        ("10/13/2014", "2014-10-13T00:00:00.000"),
        ("10/13/2014 01:30 PM", "2014-10-13T13:30:00.000"),
        ("2014-10-13T00:00:00Z", "2014-10-13T00:00:00.000"),
    ],
)
def test_floating_timestamps(value, expected):
    assert normalizer("calendar_date")(value) == expected


def test_fixed_timestamps_are_utc():
    assert normalizer("date")("2014-10-13T02:00:00+02:00") == "2014-10-13T00:00:00.000Z"


def test_checkbox_url_point():
    assert normalizer("checkbox")("TRUE") is True and normalizer("checkbox")(0) is False
    with pytest.raises(BadValue):
        normalizer("checkbox")("maybe")
    assert normalizer("url")("https://x.example") == {"url": "https://x.example"}
    assert normalizer("point")("POINT (-87.6 41.8)") == {"type": "Point", "coordinates": [-87.6, 41.8]}
    with pytest.raises(BadValue):
        normalizer("point")({"type": "Polygon", "coordinates": []})


def test_row_ids_round_trip_and_sort_like_sids():
    values = [ids.row_id(n) for n in (1, 2, 31, 32, 1000, 10**9)]
    assert values == sorted(values)
    assert [ids.sid_of(v) for v in values] == [1, 2, 31, 32, 1000, 10**9]
    assert all(len(v) == 18 and v.startswith("row-") for v in values)
    assert ids.sid_of("row-oooo-oooo-oooo") is None and ids.sid_of("nonsense") is None


def test_accounts():
    acc = parse_account("alice:pa:ss:word:reviewer")
    assert (acc.name, acc.password, acc.role) == ("alice", "pa:ss:word", "reviewer")
    assert "pa:ss:word" not in repr(acc)
    assert set(parse_accounts(["b:x:admin"], "a:y:publisher,c:z:reviewer")) == {"a", "b", "c"}
    for bad in ("alice:pw", "alice:pw:superuser", "alice::publisher"):
        with pytest.raises(ValueError):
            parse_account(bad)


def test_type_guesses_take_the_first_type_every_value_fits():
    guesser = TypeGuesser(8)
    for row in (
        ["02134", "true", "2024-01-02", "2024-01-02T03:04:05Z", "POINT (1 2)", "x", "", "1"],
        ["10001", "FALSE", "2024-01-03T10:00:00", "2024-01-03T10:00:00+02:00", "POINT (3 4)", "", "", "1.5e3"],
    ):
        guesser.see(row)
    assert guesser.types() == [
        "number",  # a ZIP code: the guess the reference warns about
        "checkbox",
        "floating_timestamp",
        "fixed_timestamp",
        "point",
        "text",
        "text",  # no values at all
        "number",
    ]
    mixed = TypeGuesser(1)
    for value in ("1", "one"):
        mixed.see([value])
    assert mixed.types() == ["text"]


@pytest.mark.parametrize(
    "expr,column,output",
    [
        ("to_text(`zip`)", "zip", "text"),
        ("to_number(zip)", "zip", "number"),
        (" to_floating_timestamp( `zip` ) ", "zip", "floating_timestamp"),
        ("`zip`", "zip", "number"),  # a bare reference keeps the input column's type
        ("null", None, "text"),
    ],
)
def test_supported_transforms(expr, column, output):
    t = compile_transform(expr, {"zip": "number"})
    assert (t.column, t.output_type) == (column, output)


@pytest.mark.parametrize("expr", ["upper(`zip`)", "`zip` || 'x'", "to_number(`other`)", "to_number(1)", "", None])
def test_unsupported_transforms_name_the_expression(expr):
    with pytest.raises(ValueError, match=re.escape(repr(expr))):
        compile_transform(expr, {"zip": "text"})
