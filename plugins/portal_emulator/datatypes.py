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
