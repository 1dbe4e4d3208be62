"""Row fingerprints: (row identifier, 64-bit hash of the whole row).

Computed once, while the extract is staged (the rows are in memory then anyway), and kept in a
small sidecar file next to the staged extract; the load compares it with the fingerprint of
what the portal last confirmed, without reading the extract a second time.

Fingerprints are Arrow IPC files read through a memory map: a million-row fingerprint then
costs a few megabytes of resident memory, where decoding the same data from Parquet costs
more than a hundred.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.core.util import hashing as pandas_hashing
from pandas.core.util.hashing import hash_array

# id: the row identifier; hash: the whole row's hash; key: the identifier's hash, so lookups
# between two fingerprints work on 8-byte numbers (memory flat as tables grow).
FINGERPRINT_SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("hash", pa.uint64()),
                                pa.field("key", pa.uint64())])


def row_hashes(batch: pa.RecordBatch) -> np.ndarray:
    """A 64-bit hash of every row's values (the same values give the same hash, always).

    By definition ``pd.util.hash_pandas_object(batch.to_pandas(), index=False)``; computed
    column by column from the Arrow arrays, each as the pandas column would be hashed."""
    return _row_hashes(batch)[0]


def _row_hashes(batch: pa.RecordBatch) -> tuple[np.ndarray, list[np.ndarray]]:
    """The row hashes and each column's own hashes (a text column's are its values' keys)."""
    if batch.num_columns == 0:
        return pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy(), []
    columns = [_column_hash(array) for array in batch.columns]
    # How pandas itself combines column hashes (hash_pandas_object); pandas-stubs do not declare it.
    combined = pandas_hashing.combine_hash_arrays(iter(columns), len(columns))  # type: ignore[attr-defined]
    return combined, columns


def _column_hash(array: pa.Array) -> np.ndarray:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        # As pandas hashes its Arrow-backed text: each distinct value's hash, nulls the largest uint64.
        return _text_hash(array)
    if pa.types.is_floating(kind):
        # A float in pandas, NULL as NaN.
        return hash_array(pc.fill_null(array, float("nan")).to_numpy(zero_copy_only=False))
    if pa.types.is_timestamp(kind) and kind.tz is None:
        # datetime64 in pandas, NULL as NaT (the smallest int64).
        values = pc.fill_null(array.view(pa.int64()), np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)
        return hash_array(values.view(f"datetime64[{kind.unit}]"))
    if (pa.types.is_boolean(kind) or pa.types.is_integer(kind)) and not array.null_count:
        return hash_array(array.to_numpy(zero_copy_only=False))
    return hash_array(pa.table({"c": array}).to_pandas()["c"]._values)


def _text_hash(array: pa.Array) -> np.ndarray:
    if len(array) > _SAMPLE and pc.count_distinct(array.slice(0, _SAMPLE)).as_py() > _SAMPLE * 3 // 4:
        # Mostly distinct values (identifiers, addresses): each hashed as it comes is the same
        # hash as through the distinct values, without building them.
        hashed = hash_array(pc.fill_null(array, "").to_numpy(zero_copy_only=False), categorize=False)
        if array.null_count:
            hashed[array.is_null().to_numpy(zero_copy_only=False)] = np.iinfo(np.uint64).max
        return hashed
    encoded = pc.dictionary_encode(array)
    hashed = hash_array(encoded.dictionary.to_numpy(zero_copy_only=False), categorize=False)
    indices = encoded.indices
    result = hashed.take(pc.fill_null(indices, 0).to_numpy()) if len(hashed) \
        else np.zeros(len(array), dtype=np.uint64)
    if indices.null_count:
        result[indices.is_null().to_numpy(zero_copy_only=False)] = np.iinfo(np.uint64).max
    return result


_SAMPLE = 256


def id_keys(ids: pa.Array | pa.ChunkedArray | list) -> np.ndarray:
    """A 64-bit hash of each row identifier (its text)."""
    values = ids.to_pylist() if hasattr(ids, "to_pylist") else list(ids)
    return pd.util.hash_array(np.asarray(values, dtype=object))


def fingerprint_table(ids: pa.Array, hashes: pa.Array | np.ndarray, keys: np.ndarray | None = None) -> pa.Table:
    ids = pc.cast(ids, pa.string())
    return pa.table([ids, pa.array(hashes, type=pa.uint64()),
                     pa.array(id_keys(ids) if keys is None else keys, type=pa.uint64())], schema=FINGERPRINT_SCHEMA)


def row_fingerprint(batch: pa.RecordBatch, row_id: str, hashes: np.ndarray | None = None) -> pa.Table:
    """The batch's fingerprint (``hashes``: its row hashes, if known)."""
    position = batch.schema.get_field_index(row_id)
    ids = batch.column(position)
    keys = None
    if hashes is None:
        hashes, columns = _row_hashes(batch)
        if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
            # A text identifier's key is its column's hash (what id_keys gives for it).
            keys = columns[position]
    return fingerprint_table(ids, hashes, keys)


def row_fingerprint_and_hashes(batch: pa.RecordBatch, row_id: str | None) -> tuple[pa.Table | None, np.ndarray]:
    """The row hashes, and the fingerprint (None without a row identifier), hashing once."""
    if not row_id:
        return None, row_hashes(batch)
    table = row_fingerprint(batch, row_id)
    return table, table["hash"].to_numpy()


def sidecar_path(staged_path: Path | str) -> Path:
    """Where the fingerprint of a staged extract is kept."""
    staged = Path(staged_path)
    return staged.with_name(staged.stem + ".fingerprint.arrow")


class FingerprintWriter:
    """Appends fingerprint batches to an Arrow IPC file."""

    def __init__(self, path: Path):
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_file(self._sink, FINGERPRINT_SCHEMA)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def write_fingerprint(table: pa.Table, path: Path) -> None:
    writer = FingerprintWriter(path)
    try:
        writer.write(table.cast(FINGERPRINT_SCHEMA))
    finally:
        writer.close()


def read_fingerprint(path: Path) -> pa.Table:
    """A fingerprint file, memory-mapped (Parquet files of earlier versions are read too)."""
    with open(path, "rb") as handle:
        parquet = handle.read(4) == b"PAR1"
    if parquet:
        import pyarrow.parquet as pq

        return pq.read_table(path)
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()
