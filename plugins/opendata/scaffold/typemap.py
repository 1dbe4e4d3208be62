"""Which Socrata type a column is published as: from its SQL type, or from sampled values (pure).

The pipeline converts every source value to the column's declared type (opendata.sources.coerce):
numbers with ``pd.to_numeric`` (commas allowed), timestamps from ISO 8601 text only, checkboxes
from true/false, yes/no, t/f, y/n, 1/0. So a guess from text is only made when every sampled
value would convert; anything else stays text, which never loses a value.

Rules (and why):

* dates and timestamps -> ``floating_timestamp`` (the city's local time, as the source keeps it);
  values that carry a time zone (``TIMESTAMP WITH TIME ZONE``, ``...Z``, ``+02:00``) ->
  ``fixed_timestamp``, which publishes the instant: as floating they would show UTC clock times;
* integers and decimals -> ``number``, except labels made of digits (ZIP codes, phone numbers,
  FIPS, parcel numbers: not quantities, and a leading zero must survive) and integers beyond
  2^53 (staged as 64-bit floats, they would lose digits), which are ``text``;
* booleans -> ``checkbox``; everything else (UUIDs, JSON, arrays, intervals, times) -> ``text``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from opendata.scaffold.profile import ValueKind
from opendata.spec.vocab import SocrataType

# Integers beyond this lose digits as float64, the number columns' staged type.
MAX_EXACT_INTEGER = 2**53

_LABEL = re.compile(r"(?:^|_)(?:zip|zipcode|zip5|postal|postcode|fips|phone|tel|fax|ssn|code|apn|ain|parcel|"
                    r"tract|census_tract|block_group)(?:_|$)")
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?")
_US_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{2,4}(?: .*)?")
_CHECKBOX_WORDS = {"true", "false", "yes", "no"}
_CHECKBOX_LETTERS = {"t", "f", "y", "n"}


@dataclass(frozen=True)
class TypeGuess:
    socrata_type: SocrataType
    kind: ValueKind
    # Why, when the choice is not the obvious one (shown as a comment in the draft).
    note: str | None = None


TEXT = TypeGuess(SocrataType.TEXT, "text")


def is_label(field: str) -> bool:
    """A column whose digits are a label, not a quantity (zip_code, phone, fips, parcel ...)."""
    return bool(_LABEL.search(field))


def guess_sql(sa_type: Any, field: str, samples: Sequence[Any]) -> TypeGuess:
    """The type of a column the database describes (``samples``: its non-null sampled values)."""
    if isinstance(sa_type, sa.Boolean):
        return TypeGuess(SocrataType.CHECKBOX, "boolean")
    if isinstance(sa_type, sa.Integer):
        return _integer(field, samples, f"{sa_type.__class__.__name__.upper()}")
    if isinstance(sa_type, (sa.Numeric, sa.Float)):
        return _numeric(field, "decimal")
    if isinstance(sa_type, sa.DateTime):
        if getattr(sa_type, "timezone", False):
            return TypeGuess(SocrataType.FIXED_TIMESTAMP, "timestamp", _ZONED)
        return TypeGuess(SocrataType.FLOATING_TIMESTAMP, "timestamp")
    if isinstance(sa_type, sa.Date):
        return TypeGuess(SocrataType.FLOATING_TIMESTAMP, "date")
    if isinstance(sa_type, (sa.JSON, sa.ARRAY)):
        return TypeGuess(SocrataType.TEXT, "other", _NESTED)
    if isinstance(sa_type, (sa.String, sa.Enum, sa.Uuid, sa.Time, sa.Interval, sa.LargeBinary)):
        return TypeGuess(SocrataType.TEXT, "text" if isinstance(sa_type, (sa.String, sa.Enum)) else "other")
    # A type SQLAlchemy does not know (NullType) or a database's own: what the values are.
    return guess_values(field, samples, infer_text=False)


def guess_values(field: str, samples: Sequence[Any], *, infer_text: bool = True) -> TypeGuess:
    """The type of a column from its non-null sampled values (Python values from JSON, Excel or
    a query's rows; text from a CSV). ``infer_text``: text that is all numbers, ISO dates or
    true/false is typed as such (a file's cells are all text; a database's text is text)."""
    values = [v for v in samples if not (isinstance(v, str) and not v.strip())]
    if not values:
        return TypeGuess(SocrataType.TEXT, "text", "no value in the sample: typed as text; check the source")
    kinds = {_kind_of(v) for v in values}
    if kinds == {"boolean"}:
        return TypeGuess(SocrataType.CHECKBOX, "boolean")
    if kinds == {"integer"}:
        return _integer(field, values, "integers")
    if kinds <= {"integer", "decimal"}:
        return _numeric(field, "decimal")
    if kinds <= {"date", "timestamp"}:
        zoned = any(isinstance(v, dt.datetime) and v.tzinfo is not None for v in values)
        kind: ValueKind = "timestamp" if "timestamp" in kinds else "date"
        if zoned:
            return TypeGuess(SocrataType.FIXED_TIMESTAMP, kind, _ZONED)
        return TypeGuess(SocrataType.FLOATING_TIMESTAMP, kind)
    if kinds == {"nested"}:
        return TypeGuess(SocrataType.TEXT, "other", _NESTED)
    if kinds == {"other"}:  # times, intervals, UUIDs, bytes: their text
        return TypeGuess(SocrataType.TEXT, "other")
    if kinds == {"text"}:
        return guess_text(field, [str(v) for v in values]) if infer_text else TEXT
    return TypeGuess(SocrataType.TEXT, "text", f"mixed kinds of values in the sample ({', '.join(sorted(kinds))}): "
                                               f"typed as text")


def guess_text(field: str, values: Sequence[str]) -> TypeGuess:
    """The type of a text column from its sampled cells (a CSV's, a JSON API's strings)."""
    stripped = [v.strip() for v in values]
    lowered = {v.lower() for v in stripped}
    if lowered <= _CHECKBOX_WORDS | _CHECKBOX_LETTERS and (
            lowered & _CHECKBOX_WORDS or lowered == {"t", "f"} or lowered == {"y", "n"}):
        return TypeGuess(SocrataType.CHECKBOX, "boolean")
    if all(_NUMBER.fullmatch(v) and any(c.isdigit() for c in v) for v in stripped):
        if any(len(v) > 1 and v[0] == "0" and v[1].isdigit() for v in stripped):
            return TypeGuess(SocrataType.TEXT, "text", "digits with leading zeros (a code, not a quantity): text "
                                                       "keeps the zeros")
        if all(re.fullmatch(r"[+-]?[\d,]+", v) for v in stripped):
            return _integer(field, [int(v.replace(",", "")) for v in stripped], "integers")
        return _numeric(field, "decimal")
    iso = [_ISO.fullmatch(v) for v in stripped]
    if all(iso) and all(_valid_iso(v) for v in stripped):
        zoned = all(m is not None and m.group("zone") for m in iso)
        kind: ValueKind = "timestamp" if any(len(v) > 10 for v in stripped) else "date"
        if zoned:
            return TypeGuess(SocrataType.FIXED_TIMESTAMP, kind, _ZONED)
        return TypeGuess(SocrataType.FLOATING_TIMESTAMP, kind)
    if all(_US_DATE.fullmatch(v) for v in stripped):
        return TypeGuess(SocrataType.TEXT, "text", "values look like dates (MM/DD/YYYY), and the pipeline reads dates "
                                                   "in ISO 8601 (YYYY-MM-DD) only: typed as text; convert them at the "
                                                   "source to publish a date column")
    return TEXT


_ZONED = ("values carry a time zone: fixed_timestamp publishes the instant (as floating_timestamp they would "
          "show UTC clock times); floating_timestamp if the local clock time is what matters")
_NESTED = "nested values (JSON objects or lists): published as their text; flatten them at the source to publish parts"


def _integer(field: str, values: Sequence[Any], what: str) -> TypeGuess:
    if is_label(field):
        return TypeGuess(SocrataType.TEXT, "text", f"digits, but a label ({field}: not a quantity): text keeps "
                                                   f"leading zeros")
    if any(isinstance(v, int) and abs(v) > MAX_EXACT_INTEGER for v in values):
        return TypeGuess(SocrataType.TEXT, "integer", f"{what} beyond 2^53 in the sample: as number they would lose "
                                                      f"digits (staged as 64-bit floats), so text")
    return TypeGuess(SocrataType.NUMBER, "integer")


def _numeric(field: str, kind: ValueKind) -> TypeGuess:
    if is_label(field):
        return TypeGuess(SocrataType.TEXT, "text", f"digits, but a label ({field}: not a quantity): text")
    return TypeGuess(SocrataType.NUMBER, kind)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, decimal.Decimal)):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (dict, list, tuple)):
        return "nested"
    return "other"


def _valid_iso(text: str) -> bool:
    try:
        if len(text) == 10:
            dt.date.fromisoformat(text)
        else:
            dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return False
    return True
