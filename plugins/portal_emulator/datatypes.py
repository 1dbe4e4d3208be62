"""Column data types: validating/normalizing incoming values and rendering them like SODA2.

Rows are stored in their SODA2 JSON output form (numbers as strings, checkboxes as booleans,
floating timestamps as ``2014-10-13T00:00:00.000``, points as GeoJSON, nulls omitted), so a read
can return stored rows without converting every value again.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class BadValue(ValueError):
    """A value that does not fit its column type: the row counts in the upsert report's Errors."""


# View-JSON dataTypeName -> SODA2 type name used in X-SODA2-Types (docs/datatypes, reference §2.5).
SODA2_TYPE = {
    "text": "text",
    "number": "number",
    "checkbox": "checkbox",
    "calendar_date": "floating_timestamp",
    "date": "fixed_timestamp",
    "url": "url",
    "point": "point",
    "multipoint": "multipoint",
    "line": "line",
    "multiline": "multiline",
    "polygon": "polygon",
    "multipolygon": "multipolygon",
    "location": "location",
    "money": "money",
    "percent": "number",
    "double": "double",
    "email": "text",
    "phone": "text",
    "html": "text",
}
# Names accepted at create time that mean one of the canonical view types above.
ALIASES = {
    "floating_timestamp": "calendar_date",
    "fixed_timestamp": "date",
    "string": "text",
    "bool": "checkbox",
    "boolean": "checkbox",
}
GEO_TYPES = {
    "point": "Point",
    "multipoint": "MultiPoint",
    "line": "LineString",
    "multiline": "MultiLineString",
    "polygon": "Polygon",
    "multipolygon": "MultiPolygon",
}


def canonical_type(name: str) -> str:
    t = ALIASES.get(str(name).lower(), str(name).lower())
    if t not in SODA2_TYPE:
        raise ValueError(f"unsupported dataTypeName {name!r}")
    return t


# ---- normalizers: input value (JSON or CSV string) -> stored SODA2 form; None means null ----


def normalize_text(v: Any) -> Any:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return _number(v)
    raise BadValue(f"expected text, got {type(v).__name__}")


_PLAIN_INT = re.compile(r"^-?\d{1,15}$")


def _number(v: Any) -> str:
    if isinstance(v, bool):
        raise BadValue("expected a number, got a boolean")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise BadValue("numbers must be finite")
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        v = repr(v)
        if "e" not in v:
            return v  # the shortest round-trip repr is already canonical ("1.5", "-0.25")
    if isinstance(v, str):
        s = v.strip().replace(",", "") if "," in v else v.strip()
        if _PLAIN_INT.match(s):
            return str(int(s))
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise BadValue(f"{v!r} is not a number") from None
        if not d.is_finite():
            raise BadValue("numbers must be finite")
        if d == d.to_integral_value():
            return str(int(d))
        return format(d.normalize(), "f")
    raise BadValue(f"expected a number, got {type(v).__name__}")


_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _checkbox(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise BadValue(f"{v!r} is not a checkbox value")


_FLOATING_OUT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d\d)(?::(\d\d))?\s*([AaPp][Mm])?)?$")


def parse_timestamp(v: Any) -> datetime:
    if not isinstance(v, str):
        raise BadValue(f"expected a timestamp string, got {type(v).__name__}")
    s = v.strip()
    m = _US_DATE.match(s)
    if m:  # MM/DD/YYYY [hh:mm[:ss] [AM|PM]], common in exported CSV
        mo, d, y, hh, mi, ss, ampm = m.groups()
        hour = int(hh or 0)
        if ampm:
            hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
        try:
            return datetime(int(y), int(mo), int(d), hour, int(mi or 0), int(ss or 0))
        except ValueError:
            raise BadValue(f"{v!r} is not a valid date") from None
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        raise BadValue(f"{v!r} is not an ISO-8601 timestamp") from None


def format_floating(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def _floating(v: Any) -> str:
    if isinstance(v, str) and _FLOATING_OUT.match(v):
        return v
    dt = parse_timestamp(v)
    return format_floating(dt.replace(tzinfo=None))  # floating: wall-clock time, offset dropped


def _fixed(v: Any) -> str:
    dt = parse_timestamp(v)
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return format_floating(dt) + "Z"


def _url(v: Any) -> dict:
    if isinstance(v, str):
        return {"url": v}
    if isinstance(v, dict) and set(v) <= {"url", "description"}:
        return {k: str(x) for k, x in v.items() if x is not None}
    raise BadValue("expected a URL string or {url, description}")


_WKT_POINT = re.compile(r"^\s*POINT\s*\(\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\)\s*$", re.I)
_WKT = re.compile(r"^\s*([A-Za-z]+)\s*(\(.*\))\s*$", re.S)
_WKT_PAIR = re.compile(r"(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)")
_WKT_TYPES = {t.upper(): t for t in GEO_TYPES.values()}


def _wkt(text: str) -> dict | None:
    """``LINESTRING (1 2, 3 4)``, ``POLYGON ((...))``, ``MULTI...``: WKT, as CSV uploads carry it."""
    m = _WKT.match(text)
    if not m or m.group(1).upper() not in _WKT_TYPES:
        return None
    try:
        coords = json.loads(_WKT_PAIR.sub(r"[\1,\2]", m.group(2)).replace("(", "[").replace(")", "]"))
    except ValueError:
        return None
    geo_type = _WKT_TYPES[m.group(1).upper()]
    if geo_type == "Point":
        coords = coords[0]  # POINT (1 2): the pair inside the parentheses
    elif geo_type == "MultiPoint" and coords and isinstance(coords[0][0], list):
        coords = [c[0] for c in coords]  # MULTIPOINT ((1 2), (3 4))
    return {"type": geo_type, "coordinates": coords}


def _geo(kind: str) -> Callable[[Any], dict]:
    geo_type = GEO_TYPES[kind]

    def normalize(v: Any) -> dict:
        if isinstance(v, str):
            m = _WKT_POINT.match(v)
            if kind == "point" and m:
                return {"type": "Point", "coordinates": [float(m.group(1)), float(m.group(2))]}
            wkt = _wkt(v)
            if wkt is not None:
                v = wkt
            else:
                try:
                    v = json.loads(v)
                except ValueError:
                    raise BadValue(f"expected GeoJSON or WKT for a {kind}") from None
        if isinstance(v, dict) and v.get("type") == geo_type and isinstance(v.get("coordinates"), list):
            return {"type": geo_type, "coordinates": v["coordinates"]}
        raise BadValue(f"expected a GeoJSON {geo_type}")

    return normalize


def _location(v: Any) -> dict:
    if isinstance(v, str):  # CSV: the object as JSON, or a WKT point (a DSMAPI to_location input)
        m = _WKT_POINT.match(v)
        if m:
            return {"latitude": m.group(2), "longitude": m.group(1)}
        try:
            v = json.loads(v)
        except ValueError:
            raise BadValue("expected a location object or a WKT point") from None
    if isinstance(v, dict):
        return v
    raise BadValue("expected a location object {latitude, longitude, human_address}")


NORMALIZERS: dict[str, Callable[[Any], Any]] = {
    "text": normalize_text,
    "email": normalize_text,
    "phone": normalize_text,
    "html": normalize_text,
    "number": _number,
    "money": _number,
    "percent": _number,
    "double": _number,
    "checkbox": _checkbox,
    "calendar_date": _floating,
    "date": _fixed,
    "url": _url,
    "location": _location,
    **{k: _geo(k) for k in GEO_TYPES},
}


def normalizer(data_type: str) -> Callable[[Any], Any]:
    return NORMALIZERS[data_type]


# ---- rendering stored values for CSV output ----


def to_csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        if v.get("type") == "Point":
            x, y = v["coordinates"][:2]
            return f"POINT ({x} {y})"
        if "url" in v and set(v) <= {"url", "description"}:
            return v["url"]
    return json.dumps(v)


# ---- DSMAPI: guessing column types from an upload, and transform expressions ----

# A DSMAPI soql type (``output_soql_type``) and the view ``dataTypeName`` it becomes: the same
# name except the two timestamp types (docs/datatypes: floating_timestamp is ``calendar_date``).
def view_type(soql: str) -> str:
    return canonical_type(soql)


def soql_type(data_type: str) -> str:
    return SODA2_TYPE.get(data_type, "text")


# The transform functions the emulator evaluates (publishing.json's transform reference), each
# applied to one input column, and the type each produces.
TRANSFORM_FUNCTIONS = {
    "to_text": "text",
    "to_number": "number",
    "to_floating_timestamp": "floating_timestamp",
    "to_fixed_timestamp": "fixed_timestamp",
    "to_boolean": "checkbox",
    "to_checkbox": "checkbox",
    "to_point": "point",
    "to_multipoint": "multipoint",
    "to_line": "line",
    "to_multiline": "multiline",
    "to_polygon": "polygon",
    "to_multipolygon": "multipolygon",
    "to_location": "location",
    "to_url": "url",
}
# The function that makes a column of a soql type (what a guessed or mirrored column shows).
FUNCTION_FOR_TYPE = {
    "text": "to_text",
    "number": "to_number",
    "checkbox": "to_boolean",
    "floating_timestamp": "to_floating_timestamp",
    "fixed_timestamp": "to_fixed_timestamp",
    "point": "to_point",
    "multipoint": "to_multipoint",
    "line": "to_line",
    "multiline": "to_multiline",
    "polygon": "to_polygon",
    "multipolygon": "to_multipolygon",
    "location": "to_location",
    "url": "to_url",
}
_COLUMN_REF = r"`(?P<{0}>[^`]+)`|(?P<{0}_plain>[A-Za-z_][A-Za-z0-9_]*)"
_EXPR = re.compile(
    r"^\s*(?:(?P<fn>[A-Za-z_][A-Za-z0-9_]*)\s*\(\s*(?:" + _COLUMN_REF.format("arg") + r")\s*\)"
    r"|(?:" + _COLUMN_REF.format("ref") + r"))\s*$"
)


@dataclass(frozen=True)
class Transform:
    """A compiled transform expression: which input column it reads (None: the null expression)
    and the soql type it produces."""

    expr: str
    column: str | None
    output_type: str

    def function(self) -> Callable[[str], Any]:
        """Input cell (text, never empty) -> stored value; raises BadValue."""
        return normalizer(view_type(self.output_type))


def function_expr(soql: str, column: str) -> str:
    return f"{FUNCTION_FOR_TYPE.get(soql, 'to_text')}(`{column}`)"


def compile_transform(expr: Any, input_types: dict[str, str], null_type: str = "text") -> Transform:
    """``to_number(`zip`)``, ``to_text(zip)``, a bare ``zip`` / `` `zip` `` (the input column in
    its input type) or ``null``. Anything else (operators, other functions, literals) is refused
    with a ValueError naming the expression: the emulator does not pretend to evaluate it."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"Transform expression {expr!r} is not a string")
    if expr.strip().lower() == "null":  # a column of nulls, of the type it had (text if unknown)
        return Transform(expr, None, null_type if null_type in FUNCTION_FOR_TYPE else "text")
    m = _EXPR.match(expr)
    if m is None:
        raise ValueError(
            f"Transform expression {expr!r} is not supported by this emulator (supported: "
            f"{', '.join(sorted(TRANSFORM_FUNCTIONS))} of one input column, a column reference, null)"
        )
    column = m["arg"] or m["arg_plain"] or m["ref"] or m["ref_plain"]
    if column not in input_types:
        raise ValueError(f"Transform expression {expr!r} names {column!r}, which is not an input column")
    if m["fn"] is None:
        return Transform(expr, column, input_types[column])
    output = TRANSFORM_FUNCTIONS.get(m["fn"])
    if output is None:
        raise ValueError(f"Transform function {m['fn']!r} in {expr!r} is not supported by this emulator")
    return Transform(expr, column, output)


_GUESS_BOOLEAN = {"true", "false"}
_GUESS_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GUESS_FLOATING = re.compile(r"^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?$")
_GUESS_FIXED = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$")
_GUESS_GEO = {
    "point": "POINT",
    "multipoint": "MULTIPOINT",
    "line": "LINESTRING",
    "multiline": "MULTILINESTRING",
    "polygon": "POLYGON",
    "multipolygon": "MULTIPOLYGON",
}


def _wkt_kind(s: str) -> str | None:
    m = _WKT.match(s)
    return m.group(1).upper() if m else None


# Candidate guesses, most specific first; text always fits. A number-looking value such as the
# ZIP code "02134" fits "number", which is exactly the guess the reference warns about.
_GUESSES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("checkbox", lambda s: s.lower() in _GUESS_BOOLEAN),
    ("number", lambda s: _GUESS_NUMBER.match(s) is not None),
    ("floating_timestamp", lambda s: _GUESS_FLOATING.match(s) is not None),
    ("fixed_timestamp", lambda s: _GUESS_FIXED.match(s) is not None),
    *((t, lambda s, w=w: _wkt_kind(s) == w) for t, w in _GUESS_GEO.items()),
)


class TypeGuesser:
    """Guesses each column's soql type from the values of an upload, as Socrata does: the first
    type that every non-empty value of the column fits, else text (a column without values too)."""

    def __init__(self, width: int):
        self._candidates = [list(_GUESSES) for _ in range(width)]
        self._seen = [False] * width

    def see(self, cells: list[str]) -> None:
        for i, cell in enumerate(cells):
            candidates = self._candidates[i]
            if not cell or not candidates:
                continue  # empty, or nothing but text fits any more
            value = cell.strip()
            self._seen[i] = True
            self._candidates[i] = [(t, fits) for t, fits in candidates if fits(value)]

    def types(self) -> list[str]:
        return [c[0][0] if c and seen else "text" for c, seen in zip(self._candidates, self._seen, strict=True)]
