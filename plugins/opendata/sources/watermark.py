"""Incremental extraction: which rows lie past the last confirmed watermark (pure helpers).

A watermark is kept as text in the registry (ISO 8601 for timestamps, a number otherwise) and
turned back into the column's type here, so comparisons are typed, never textual.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opendata.spec.dataset import Column
from opendata.spec.vocab import SocrataType

#: A watermark in its column's type: a number, or a timestamp (aware UTC for fixed_timestamp).
Bound = float | pd.Timestamp


def parse_watermark(column: Column, text: str) -> Bound:
    if column.type is SocrataType.NUMBER:
        return float(text)
    moment = pd.Timestamp(text)
    if column.type is SocrataType.FIXED_TIMESTAMP:
        return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.tz_localize(None) if moment.tzinfo is not None else moment


def format_watermark(value) -> str:
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return pd.Timestamp(value).isoformat()
    return repr(float(value))


def past(batch: pa.RecordBatch, field_name: str, since) -> pa.RecordBatch:
    """Only the rows whose watermark column is greater than ``since`` (nulls are left out:
    a row without a watermark cannot be tracked incrementally)."""
    column = batch.column(batch.schema.get_field_index(field_name))
    bound = pa.scalar(since, type=column.type)
    return batch.filter(pc.fill_null(pc.greater(column, bound), False))


def batch_max(batch: pa.RecordBatch, field_name: str):
    column = batch.column(batch.schema.get_field_index(field_name))
    value = pc.max(column).as_py()
    return value
