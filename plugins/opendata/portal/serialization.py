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

CSV (:func:`frame_csv_lines`, :func:`csv_byte_chunks`, used by revision uploads) follows the same
rules, written the way SODA reads CSV with a header of API field names: an empty cell is null
(so an empty string is published as null too), booleans are ``true``/``false``, numbers keep
their shortest exact form (``1.5``, ``1e+20``), floating timestamps are
``YYYY-MM-DDTHH:MM:SS.fff``, fixed ones end in ``Z``, points and other geometries are WKT
(``POINT (-118.24 34.05)``), other objects JSON. Columns are converted a whole column at a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


def json_column(series: pd.Series) -> list[Any]:
    """One column of a DataFrame as JSON-ready values, converted a whole column at a time.

    The same rules as :func:`to_soda_value` (which the per-value fallback uses), but the common
    dtypes (floats, ints, booleans, naive timestamps, text) skip the per-cell type dispatch: a
    million rows of twenty columns convert in seconds instead of a minute.
    """
    name = str(series.name)
    try:
        if pd.api.types.is_datetime64_any_dtype(series) and getattr(series.dt, "tz", None) is None:
            text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.slice(0, 23)
            return text.astype(object).where(series.notna(), None).tolist()
        if pd.api.types.is_float_dtype(series):
            values = series.to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(values).any():
                raise ValueError("Infinite numbers cannot be published to Socrata")
            return series.astype(object).where(series.notna(), None).tolist()
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
            return series.astype(object).where(series.notna(), None).tolist()
        if isinstance(series.dtype, pd.StringDtype):
            return series.astype(object).where(series.notna(), None).tolist()
        values = series.tolist()
        if all(value is None or type(value) is str for value in values):
            return values
        return [to_soda_value(value) for value in values]
    except (TypeError, ValueError) as err:
        raise type(err)(f"column {name!r}: {err}") from None


def _frame_records(frame: pd.DataFrame, chunk_size: int) -> Iterator[list[dict[str, Any]]]:
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise ValueError("DataFrame has duplicate column names")
    for start in range(0, len(frame), chunk_size):
        part = frame.iloc[start : start + chunk_size]
        converted = [json_column(part.iloc[:, i].rename(columns[i])) for i in range(len(columns))]
        yield [dict(zip(columns, values, strict=True)) for values in zip(*converted, strict=True)]


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


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------

_WKT_NAMES = {
    "Point": "POINT",
    "MultiPoint": "MULTIPOINT",
    "LineString": "LINESTRING",
    "MultiLineString": "MULTILINESTRING",
    "Polygon": "POLYGON",
    "MultiPolygon": "MULTIPOLYGON",
}


def _wkt_coords(value: Any) -> str:
    if value and isinstance(value[0], (int, float)):
        return " ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in value)
    return "(" + ", ".join(_wkt_coords(v) for v in value) + ")"


def geojson_to_wkt(geo: Mapping[str, Any]) -> str | None:
    """WKT for a GeoJSON geometry mapping, or None when it is not one."""
    name = _WKT_NAMES.get(str(geo.get("type")))
    coords = geo.get("coordinates")
    if name is None or not isinstance(coords, (list, tuple)) or not coords:
        return None
    inner = _wkt_coords(coords)
    return f"{name} ({inner})" if name == "POINT" else f"{name} {inner}"


def csv_cell(value: Any) -> str:
    """One value as a SODA CSV cell (after :func:`to_soda_value`)."""
    value = to_soda_value(value)
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return geojson_to_wkt(value) or json.dumps(value, allow_nan=False)
    return json.dumps(value, allow_nan=False)


def _timestamp_strings(series: pd.Series) -> list[str]:
    suffix = ""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        suffix = "Z"
    text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.slice(0, 23)
    return [t + suffix if isinstance(t, str) else "" for t in text.tolist()]


def csv_column(series: pd.Series) -> list[str]:
    """A whole column as CSV cells; fast paths for the common dtypes, :func:`csv_cell` otherwise."""
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, np.dtype) and kind == "b":
        return np.where(series.to_numpy(), "true", "false").tolist()
    if isinstance(dtype, np.dtype) and kind in "iu":
        return series.to_numpy().astype(str).tolist()
    if isinstance(dtype, np.dtype) and kind == "f":
        values = series.to_numpy()
        if np.isinf(values).any():
            raise ValueError("Infinite numbers cannot be published to Socrata")
        return ["" if v != v else repr(v) for v in values.tolist()]
    if kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        return _timestamp_strings(series)
    if isinstance(dtype, pd.StringDtype):
        return [v if isinstance(v, str) else "" for v in series.tolist()]
    return [csv_cell(v) for v in series.tolist()]


def frame_csv_lines(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """The rows of ``frame`` (in ``columns`` order) as CSV text without a header."""
    cells = []
    for name in columns:
        try:
            cells.append(csv_column(frame[name]))
        except (TypeError, ValueError) as err:
            raise type(err)(f"column {name!r}: {err}") from None
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(zip(*cells, strict=True))
    return buf.getvalue()


def csv_header(columns: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(columns)
    return buf.getvalue()


def iter_frames(
    rows: Iterable[Mapping[str, Any]] | Iterable[pd.DataFrame] | pd.DataFrame, batch_rows: int
) -> Iterator[pd.DataFrame]:
    """DataFrames of at most ``batch_rows`` rows from DataFrames and/or row mappings."""
    if isinstance(rows, pd.DataFrame):
        rows = [rows]
    pending: list[Mapping[str, Any]] = []
    for item in rows:
        if isinstance(item, pd.DataFrame):
            if pending:
                yield pd.DataFrame.from_records(pending)
                pending = []
            for start in range(0, len(item), batch_rows):
                yield item.iloc[start : start + batch_rows]
        elif isinstance(item, Mapping):
            pending.append(item)
            if len(pending) >= batch_rows:
                yield pd.DataFrame.from_records(pending)
                pending = []
        else:
            raise TypeError(f"Rows must be mappings or DataFrames, got {type(item).__name__}")
    if pending:
        yield pd.DataFrame.from_records(pending)


def csv_byte_chunks(pieces: Iterable[bytes], chunk_size: int) -> Iterator[tuple[int, int, bytes]]:
    """Cut a stream of byte pieces into ``(seq, byte_offset, data)`` chunks of exactly
    ``chunk_size`` bytes (the last one shorter), as DSMAPI chunked uploads require. Holds at most
    one chunk plus one piece in memory."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    buffer = bytearray()
    seq = offset = 0
    for piece in pieces:
        buffer += piece
        start = 0
        while len(buffer) - start >= chunk_size:
            data = bytes(buffer[start : start + chunk_size])
            start += chunk_size
            yield seq, offset, data
            seq += 1
            offset += len(data)
        if start:
            del buffer[:start]
    if buffer or seq == 0:
        yield seq, offset, bytes(buffer)


def prefetched(chunks: Iterable[Any], depth: int = 1) -> Iterator[Any]:
    """Prepare the next chunks in a background thread while the current one is being sent.

    Serialising a chunk is CPU work; sending it is mostly waiting for the portal. Overlapping
    the two takes the serialisation off the clock, for ``depth`` chunks of extra memory. An
    error while preparing is raised here, in the caller's thread, at the chunk it belongs to.
    """
    import queue
    import threading

    pipe: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False  # the consumer went away: stop preparing

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put((chunk, None)):
                    return
            put((done, None))
        except BaseException as err:  # handed to the consumer, raised there
            put((done, err))

    worker = threading.Thread(target=produce, name="socrata-chunk-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            chunk, err = pipe.get()
            if chunk is done:
                if err is not None:
                    raise err
                return
            yield chunk
    finally:
        stop.set()
