"""Bring a chunk of source data to the data dictionary's columns and types.

Every source (a database, a CSV read as text, a JSON API) is staged with the same Arrow
schema, derived from the dataset file, so later steps never guess types chunk by chunk.
A value that does not fit its declared type becomes null and is counted per column, with a
few row identifiers as samples; validation turns those counts into findings. The values
themselves are never kept: they may be exactly the personal data a check is looking for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from opendata.sources.masking import mask
from opendata.spec.dataset import Column, DatasetSpec
from opendata.spec.errors import did_you_mean
from opendata.spec.vocab import SocrataType

ARROW_TYPES: dict[SocrataType, pa.DataType] = {
    SocrataType.TEXT: pa.string(),
    SocrataType.NUMBER: pa.float64(),
    SocrataType.CHECKBOX: pa.bool_(),
    SocrataType.FLOATING_TIMESTAMP: pa.timestamp("ms"),
    SocrataType.FIXED_TIMESTAMP: pa.timestamp("ms", tz="UTC"),
    SocrataType.POINT: pa.string(),
    SocrataType.URL: pa.string(),
}

MAX_SAMPLES = 5


class SchemaMismatch(ValueError):
    """The source lacks columns the data dictionary promises."""


def arrow_schema(spec: DatasetSpec) -> pa.Schema:
    return pa.schema([pa.field(c.field_name, ARROW_TYPES[c.type], nullable=True) for c in spec.columns])


@dataclass
class CoercionReport:
    """Values per column that did not fit the declared type, with sample row identifiers."""

    failures: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, column: str, count: int, samples: list[str]) -> None:
        self.failures[column] = self.failures.get(column, 0) + count
        kept = self.samples.setdefault(column, [])
        kept.extend(samples[: MAX_SAMPLES - len(kept)])

    def as_dict(self) -> dict:
        return {"failures": dict(self.failures), "samples": {k: list(v) for k, v in self.samples.items()}}


def check_columns(spec: DatasetSpec, source_columns: list[str]) -> list[str]:
    """Raise if a dictionary column is missing; return source columns that are not published."""
    present = set(source_columns)
    missing = [c for c in spec.columns if c.source_name not in present]
    if missing:
        parts = []
        for column in missing:
            hint = did_you_mean(column.source_name, source_columns)
            parts.append(column.source_name + (f" (did you mean '{hint}'?)" if hint else ""))
        raise SchemaMismatch(
            f"the source has no column {', '.join(parts)}; it has: {', '.join(source_columns)}"
        )
    wanted = {c.source_name for c in spec.columns}
    return [name for name in source_columns if name not in wanted]


def coerce_chunk(spec: DatasetSpec, chunk: pd.DataFrame, report: CoercionReport) -> pa.RecordBatch:
    """Rename, reorder and type one chunk; record values that could not be converted; mask
    the columns the file's privacy section says to mask, before the batch goes anywhere."""
    row_ids = _row_ids(spec, chunk)
    arrays = []
    for column in spec.columns:
        raw = chunk[column.source_name]
        converted = _CONVERTERS[column.type](raw)
        # Only when conversion made new nulls is it worth finding which (the common case is
        # a clean column, and this check is per cell).
        lost = (raw.notna() & _is_present(raw) & converted.isna()) if converted.isna().sum() > raw.isna().sum() \
            else None
        if lost is not None and lost.any():
            report.add(column.field_name, int(lost.sum()), [str(v) for v in row_ids[lost].head(MAX_SAMPLES)])
        rule = spec.privacy.mask.get(column.field_name)
        if rule is not None:
            converted = mask(converted, rule)
        arrays.append(pa.array(converted, type=ARROW_TYPES[column.type], from_pandas=True))
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(spec))


def _row_ids(spec: DatasetSpec, chunk: pd.DataFrame) -> pd.Series:
    row_id = spec.publishing.row_identifier
    if row_id:
        source_name = next(c.source_name for c in spec.columns if c.field_name == row_id)
        return chunk[source_name].astype("string")
    # Without a row identifier the best pointer is the row's position in the extract.
    return pd.Series([f"row {i}" for i in chunk.index], index=chunk.index)


def _is_present(raw: pd.Series) -> pd.Series:
    """Blank text counts as missing, not as a value that failed to convert."""
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        return raw.astype("string").str.strip().fillna("") != ""
    return pd.Series(True, index=raw.index)


def _to_text(raw: pd.Series) -> pd.Series:
    # Always a string dtype, even for a chunk where the column is entirely empty (pandas reads
    # that as float NaN), so every chunk converts to the same Arrow type.
    if pd.api.types.is_float_dtype(raw):
        # 90012.0 read from a numeric column is the text "90012".
        text = raw.map(lambda v: None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v)))
    elif pd.api.types.is_bool_dtype(raw) or pd.api.types.is_integer_dtype(raw):
        text = raw
    elif pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        # Text already (the usual case for databases and files): no per-value work.
        text = raw
    else:
        text = raw.map(lambda v: v if v is None or isinstance(v, str) or pd.isna(v) else _scalar_text(v))
    return text.astype("string")


def _scalar_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _to_number(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("float64")
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        raw = raw.map(lambda v: v.strip().replace(",", "") if isinstance(v, str) else v)
    return pd.to_numeric(raw, errors="coerce").astype("float64")


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _to_checkbox(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean")

    def convert(value: object) -> bool | None:
        # pd.isna takes any cell; pandas-stubs' overloads name only scalars and containers.
        if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
            return None
        text = str(value).strip().lower()
        if text.endswith(".0"):
            text = text[:-2]
        return True if text in _TRUE else False if text in _FALSE else None

    return raw.map(convert).astype("boolean")


def _to_floating(raw: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601") if not _is_datetime(raw) else raw
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ms]")


def _to_fixed(raw: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601", utc=True)
    return parsed.astype("datetime64[ms, UTC]")


def _is_datetime(raw: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(raw)


_WKT_POINT = re.compile(r"^\s*POINT\s*\(\s*-?\d+(\.\d+)?\s+-?\d+(\.\d+)?\s*\)\s*$", re.IGNORECASE)


def _to_point(raw: pd.Series) -> pd.Series:
    text = _to_text(raw)
    return text.where(text.isna() | text.astype("string").str.match(_WKT_POINT).fillna(False), None)


_CONVERTERS: dict[SocrataType, Callable[[pd.Series], pd.Series]] = {
    SocrataType.TEXT: _to_text,
    SocrataType.NUMBER: _to_number,
    SocrataType.CHECKBOX: _to_checkbox,
    SocrataType.FLOATING_TIMESTAMP: _to_floating,
    SocrataType.FIXED_TIMESTAMP: _to_fixed,
    SocrataType.POINT: _to_point,
    SocrataType.URL: _to_text,
}


def column_by_field(spec: DatasetSpec) -> dict[str, Column]:
    return {c.field_name: c for c in spec.columns}


def typed_values(column_type: SocrataType, raw: pd.Series) -> pa.Array:
    """``raw`` typed exactly as :func:`coerce_chunk` types a column of ``column_type`` (no
    renaming, no masking, no report): for values read back from the portal, to compare them with
    a staged extract."""
    return pa.array(_CONVERTERS[column_type](raw), type=ARROW_TYPES[column_type], from_pandas=True)
