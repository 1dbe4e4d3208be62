"""PostgreSQL read through COPY into Arrow (the ADBC PostgreSQL driver), in pandas chunks that
are value for value what the general path (SQLAlchemy + psycopg + pandas) gives.

Why: the general path builds a Python object per value and then a DataFrame from them; that was
85 % of a refresh (a 1M-row, 20-column table: 28 s, where ``COPY ... TO STDOUT`` takes 3.8 s).
The ADBC driver runs the query as ``COPY (query) TO STDOUT (FORMAT binary)`` and decodes it
into Arrow in C.

What must not change is what the chunks hold: the rest of the pipeline (typing to the data
dictionary, row hashes, fingerprints stored by earlier runs) sees pandas values, so each Arrow
column is turned into what psycopg would have given for it (numeric as ``Decimal``, float4 as
the double of its shortest text, timestamptz in the session's time zone, uuid as ``UUID``,
json parsed). Only the PostgreSQL types listed in ``FAST_TYPES`` are handled so; a query with
a column of any other type (arrays, intervals, inet, money, ...) is read by the general path,
decided from the result's schema before a row is read.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

# PostgreSQL type names (``POSTGRESQL:type`` in the driver's field metadata) this path reads.
FAST_TYPES = frozenset({"text", "varchar", "bpchar", "name", "int2", "int4", "int8", "float4", "float8",
                        "numeric", "bool", "timestamp", "timestamptz", "date", "time", "uuid", "json", "jsonb"})



def postgres_type(field: pa.Field) -> str:
    return (field.metadata or {}).get(b"POSTGRESQL:type", b"").decode()


def unsupported_columns(schema: pa.Schema) -> list[str]:
    """Result columns whose PostgreSQL type this path does not read ("name (type)")."""
    return [f"{f.name} ({postgres_type(f) or f.type})" for f in schema if postgres_type(f) not in FAST_TYPES]


def rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly ``rows`` rows (the last one shorter), whatever sizes come in: the
    driver cuts by bytes, the dataset file asks for a number of rows per chunk."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == rows:
                yield _combine(pending)
                pending, held = [], 0
    if held:
        yield _combine(pending)


def _combine(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


def to_frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """One chunk as the general path's DataFrame: same dtypes, same values."""
    columns: dict[str, pa.Array | pd.Series] = {}
    for i, field in enumerate(batch.schema):
        columns[field.name] = _series(batch.column(i), postgres_type(field))
    # The columns Arrow converts as pandas would are converted together (one conversion per chunk,
    # not one per column: its fixed cost is most of the time for a 10,000-row chunk).
    plain = {name: value for name, value in columns.items() if isinstance(value, pa.Array)}
    if plain:
        converted = pa.table(plain).to_pandas(date_as_object=True)
        columns.update({name: converted[name] for name in plain})
    frame = pd.DataFrame(columns, index=pd.RangeIndex(batch.num_rows))
    return frame


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    """No rows: the general path gives one empty chunk (so missing columns are still named)."""
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in schema.names})


def _series(array: pa.Array, kind: str) -> pd.Series | pa.Array:
    """The column as pandas would hold psycopg's values, or an Arrow array whose own
    conversion to pandas does that."""
    # pandas builds the general path's chunk from psycopg's Python values (from_records, with
    # coerce_float): what it makes of them is what is mirrored here, type by type.
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    if array.null_count == len(array):
        # A column with only NULLs in a chunk is a column of None, whatever its type.
        return pd.Series([None] * len(array), dtype=object)
    if kind == "numeric":
        # psycopg's Decimal becomes float64 (pandas coerces decimals); the driver's text for the
        # specials is "nan", "inf", "-inf", which Arrow's parser reads as float() does, and its
        # correctly rounded parse equals float(Decimal(text)).
        return _plain(pc.cast(array, pa.float64()))
    if kind == "uuid":
        return _objects([None if v is None else uuid.UUID(bytes=v) for v in array.to_pylist()])
    if kind in ("json", "jsonb"):
        return _objects([None if v is None else json.loads(v) for v in array.to_pylist()])
    if kind == "float4":
        # psycopg reads the server's shortest text of the float4 ("0.1") as a double (0.1), not the
        # float4 itself widened (0.10000000149011612); numpy's shortest text of a float32 is that text.
        narrow = np.asarray(pc.fill_null(array, 0).to_numpy(zero_copy_only=False), dtype=np.float32)
        return _plain(pa.array(narrow.astype(str).astype(np.float64), mask=_nulls(array)))
    if kind in ("int2", "int4"):
        # Python ints: int64 (float64 with NULLs, as the conversion below does).
        return _plain(pc.cast(array, pa.int64()))
    return _plain(array)


def _objects(values: list) -> pd.Series:
    # Built the way pandas builds the general path's chunk, so its inference (a chunk of json
    # numbers becomes int64, of json strings str) is the same.
    return pd.DataFrame.from_records([(v,) for v in values], columns=["v"], coerce_float=True)["v"]


def _nulls(array: pa.Array) -> np.ndarray:
    return array.is_null().to_numpy(zero_copy_only=False)


def _plain(array: pa.Array) -> pa.Array:
    # Arrow's own conversion matches pandas' for the rest: ints with NULLs become float64, bools
    # with NULLs objects, text the str dtype, timestamps datetime64[us] (timestamptz in UTC, as
    # pandas puts psycopg's zoned datetimes), dates and times datetime objects.
    return array


# --- typing to the data dictionary in Arrow --------------------------------------------------------
# (data dictionary type, PostgreSQL types) whose typing ``coerce.coerce_chunk`` does to
# ``to_frame``'s chunk is done here on the Arrow batch, value for value the same, without pandas:
# none of these conversions can fail, so nothing is counted and no row needs naming.
_TEXT = frozenset({"text", "varchar", "bpchar", "name"})
_ARROW_TYPING = {"text": _TEXT, "url": _TEXT, "number": frozenset({"float8", "numeric", "int2", "int4", "int8"}),
                 "checkbox": frozenset({"bool"}), "floating_timestamp": frozenset({"timestamp"})}
_NAT = np.iinfo(np.int64).min


def typed_batch(batch: pa.RecordBatch, columns: list[tuple[str, str, str]], schema: pa.Schema) -> pa.RecordBatch | None:
    """The batch typed to ``schema`` (``columns``: field name, source column, data dictionary
    type value, in its order), or None when a column needs the pandas typing (``coerce``)."""
    kinds = {field.name: postgres_type(field) for field in batch.schema}
    if any(kinds.get(source) not in _ARROW_TYPING.get(kind, ()) for _, source, kind in columns):
        return None
    arrays = []
    for (_, source, kind), target in zip(columns, schema, strict=True):
        array = batch.column(batch.schema.get_field_index(source))
        if isinstance(array, pa.ExtensionArray):
            array = array.storage
        arrays.append(_typed(array, kinds[source], kind, target.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _typed(array: pa.Array, pg_kind: str, kind: str, target: pa.DataType) -> pa.Array:
    if array.null_count == len(array):
        return pa.nulls(len(array), type=target)
    if kind == "number":
        # pandas' float64 (Arrow's cast of the numeric text and of ints rounds as it does); its NaN
        # became null when the series went to Arrow (from_pandas).
        values = pc.cast(array, pa.float64(), safe=False)
        nan = pc.fill_null(pc.is_nan(values), False)
        return pc.if_else(nan, pa.scalar(None, pa.float64()), values) if pc.any(nan).as_py() else values
    if kind == "floating_timestamp":
        # pandas floors microseconds to milliseconds (Arrow's cast truncates towards zero), and
        # reads the smallest int64 as NaT.
        micros = pc.fill_null(array.view(pa.int64()), 0).to_numpy(zero_copy_only=False)
        mask = _nulls(array) | (micros == _NAT)
        return pa.array(micros // 1000, type=pa.int64(), mask=mask).view(target)
    return pc.cast(array, target)
