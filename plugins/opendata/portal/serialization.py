"""Turn Python, numpy and pandas values into the JSON SODA expects, and cut rows into chunks.

Value rules (:func:`to_soda_value`):

* ``None``, ``NaN``, ``pd.NA``, ``pd.NaT`` and numpy ``NaT`` become JSON ``null`` (in an upsert a
  null clears the cell).
* numpy/pandas integers, floats and booleans become plain ``int``/``float``/``bool``;
  ``±inf`` raises ``ValueError`` (JSON has no infinity and SODA would reject it).
* ``Decimal`` becomes a string, so no precision is lost (SODA accepts numbers as strings).
* naive ``datetime``/``pd.Timestamp``/``numpy.datetime64`` become floating timestamps
  ``YYYY-MM-DDTHH:MM:SS.fff``; a ``date`` becomes ``YYYY-MM-DDT00:00:00.000``.
* timezone-aware datetimes become fixed timestamps in UTC, ``YYYY-MM-DDTHH:MM:SS.fffZ``.
  Convert to naive local time first if the column is a ``floating_timestamp``.
* ``dict``/``list``/``tuple``/numpy arrays are converted recursively (GeoJSON points etc.);
  objects with ``__geo_interface__`` (shapely) become their GeoJSON mapping.
* ``UUID`` becomes a string. Anything else (bytes, timedeltas, …) raises ``TypeError`` rather
  than being published in a surprising form.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

DELETED_FIELD = ":deleted"


def format_floating_timestamp(value: dt.datetime) -> str:
    """``2014-10-13T00:00:00.000``: millisecond precision, no zone."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _format_datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None and value.utcoffset() is not None:
        utc = value.astimezone(dt.UTC).replace(tzinfo=None)
        return format_floating_timestamp(utc) + "Z"
    return format_floating_timestamp(value.replace(tzinfo=None))


def is_null(value: Any) -> bool:
    """True for None, NaN, pd.NA, pd.NaT and numpy NaT (scalars only)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def to_soda_value(value: Any) -> Any:
    """Convert one value to a JSON-ready Python value (see module docstring)."""
    if is_null(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isinf(number):
            raise ValueError("Infinite numbers cannot be published to Socrata")
        return number
    if isinstance(value, Decimal):
        if not value.is_finite():
            if value.is_nan():
                return None
            raise ValueError("Infinite numbers cannot be published to Socrata")
        return str(value)
    if isinstance(value, pd.Timestamp):
        return _format_datetime(value.to_pydatetime(warn=False))
    if isinstance(value, dt.datetime):
        return _format_datetime(value)
    if isinstance(value, dt.date):
        return format_floating_timestamp(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, np.datetime64):
        return _format_datetime(pd.Timestamp(value).to_pydatetime(warn=False))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_soda_value(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_soda_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [to_soda_value(v) for v in value]
    geo = getattr(value, "__geo_interface__", None)
    if isinstance(geo, Mapping):
        return to_soda_value(geo)
    raise TypeError(f"Cannot publish a value of type {type(value).__name__} to Socrata")


def serialize_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Convert every value of one row; keys must be the API field names."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        try:
            out[str(key)] = to_soda_value(value)
        except (TypeError, ValueError) as err:
            raise type(err)(f"column {key!r}: {err}") from None
    return out


def deletion_rows(row_id_field: str, ids: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Rows that delete ``ids`` in an upsert: ``{"<row_id_field>": id, ":deleted": true}``."""
    for value in ids:
        yield {row_id_field: to_soda_value(value), DELETED_FIELD: True}


def _frame_records(frame: pd.DataFrame, chunk_size: int) -> Iterator[list[dict[str, Any]]]:
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise ValueError("DataFrame has duplicate column names")
    for start in range(0, len(frame), chunk_size):
        part = frame.iloc[start : start + chunk_size]
        # itertuples keeps numpy/pandas scalars; to_soda_value handles them.
        yield [
            serialize_row(dict(zip(columns, values, strict=True)))
            for values in part.itertuples(index=False, name=None)
        ]


def iter_chunks(
    rows: Iterable[Mapping[str, Any]] | Iterable[pd.DataFrame] | pd.DataFrame, chunk_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of serialised rows of at most ``chunk_size`` from rows or DataFrames.

    ``rows`` may be one DataFrame, an iterable of DataFrames, an iterable of row mappings, or a
    mix. Rows from consecutive small inputs are packed into full chunks; nothing is held in
    memory beyond one chunk.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    if isinstance(rows, pd.DataFrame):
        rows = [rows]
    buffer: list[dict[str, Any]] = []
    for item in rows:
        if isinstance(item, pd.DataFrame):
            for part in _frame_records(item, chunk_size):
                for row in part:
                    buffer.append(row)
                    if len(buffer) >= chunk_size:
                        yield buffer
                        buffer = []
        elif isinstance(item, Mapping):
            buffer.append(serialize_row(item))
            if len(buffer) >= chunk_size:
                yield buffer
                buffer = []
        else:
            raise TypeError(f"Rows must be mappings or DataFrames, got {type(item).__name__}")
    if buffer:
        yield buffer


def known_total(rows: Any) -> int | None:
    """Row count when it is known without consuming ``rows`` (DataFrame or sized collection)."""
    if isinstance(rows, pd.DataFrame):
        return len(rows)
    if isinstance(rows, (list, tuple)):
        if all(isinstance(item, pd.DataFrame) for item in rows):
            return sum(len(item) for item in rows)
        if not any(isinstance(item, pd.DataFrame) for item in rows):
            return len(rows)
    return None
