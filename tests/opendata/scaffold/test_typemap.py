from __future__ import annotations

import datetime as dt
import decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from opendata.scaffold.typemap import guess_sql, guess_text, guess_values
from opendata.spec.vocab import SocrataType as T


@pytest.mark.parametrize(("sa_type", "expected"), [
    (sa.Integer(), T.NUMBER), (sa.BigInteger(), T.NUMBER), (sa.Numeric(10, 2), T.NUMBER), (sa.Float(), T.NUMBER),
    (sa.Boolean(), T.CHECKBOX), (sa.Date(), T.FLOATING_TIMESTAMP), (sa.DateTime(), T.FLOATING_TIMESTAMP),
    (sa.DateTime(timezone=True), T.FIXED_TIMESTAMP), (sa.String(20), T.TEXT), (sa.Text(), T.TEXT),
    (sa.Uuid(), T.TEXT), (sa.Time(), T.TEXT), (sa.Interval(), T.TEXT), (postgresql.JSONB(), T.TEXT),
    (postgresql.ARRAY(sa.Integer()), T.TEXT), (postgresql.INET(), T.TEXT), (postgresql.MONEY(), T.TEXT),
])
def test_sql_types(sa_type, expected):
    assert guess_sql(sa_type, "value", []).socrata_type is expected


def test_labels_and_huge_integers_are_text():
    assert guess_sql(sa.Integer(), "zip_code", [90012]).socrata_type is T.TEXT
    huge = guess_sql(sa.BigInteger(), "value", [2**60])
    assert huge.socrata_type is T.TEXT and "2^53" in (huge.note or "")
    assert guess_sql(sa.BigInteger(), "value", [2**40]).socrata_type is T.NUMBER


@pytest.mark.parametrize(("values", "expected", "kind"), [
    (["1", "2", "-3"], T.NUMBER, "integer"), (["1,234.50", "2.5", "1e3"], T.NUMBER, "decimal"),
    (["007", "12"], T.TEXT, "text"), (["true", "False"], T.CHECKBOX, "boolean"), (["Y", "N"], T.CHECKBOX, "boolean"),
    (["N", "S"], T.TEXT, "text"), (["2025-01-02", "2024-12-31"], T.FLOATING_TIMESTAMP, "date"),
    (["2025-01-02T10:00:00", "2025-01-02 11:00"], T.FLOATING_TIMESTAMP, "timestamp"),
    (["2025-01-02T10:00:00Z", "2025-01-02T10:00:00+02:00"], T.FIXED_TIMESTAMP, "timestamp"),
    (["2025-13-45"], T.TEXT, "text"), (["03/15/2025"], T.TEXT, "text"), (["abc", "1"], T.TEXT, "text"),
])
def test_text_cells(values, expected, kind):
    guess = guess_text("value", values)
    assert (guess.socrata_type, guess.kind) == (expected, kind)


def test_us_dates_say_why_they_stay_text():
    assert "ISO 8601" in (guess_text("issued", ["03/15/2025"]).note or "")


@pytest.mark.parametrize(("values", "expected"), [
    ([1, 2], T.NUMBER), ([1, 2.5], T.NUMBER), ([decimal.Decimal("1.5")], T.NUMBER), ([True, False], T.CHECKBOX),
    ([dt.date(2025, 1, 1)], T.FLOATING_TIMESTAMP), ([dt.datetime(2025, 1, 1, tzinfo=dt.UTC)], T.FIXED_TIMESTAMP),
    ([{"a": 1}], T.TEXT), ([[1, 2]], T.TEXT), (["x", 1], T.TEXT), ([], T.TEXT), ([dt.time(10, 0)], T.TEXT),
])
def test_python_values(values, expected):
    assert guess_values("value", values).socrata_type is expected


def test_database_text_is_not_reinterpreted():
    assert guess_values("value", ["1", "2"], infer_text=False).socrata_type is T.TEXT
    assert guess_values("value", ["1", "2"]).socrata_type is T.NUMBER
