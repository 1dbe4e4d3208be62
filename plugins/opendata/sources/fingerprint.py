"""Row fingerprints: (row identifier, 64-bit hash of the whole row).

Computed once, while the extract is staged (the rows are in memory then anyway), and kept in a
small sidecar file next to the staged extract; the load compares it with the fingerprint of
what the portal last confirmed, without reading the extract a second time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# id: the row identifier; hash: the whole row's hash; key: the identifier's hash, so lookups
# between two fingerprints work on 8-byte numbers (memory flat as tables grow).
FINGERPRINT_SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("hash", pa.uint64()),
                                pa.field("key", pa.uint64())])


def row_hashes(batch: pa.RecordBatch) -> np.ndarray:
    """A 64-bit hash of every row's values (the same values give the same hash, always)."""
    return pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy()


def id_keys(ids: pa.Array | pa.ChunkedArray | list) -> np.ndarray:
    """A 64-bit hash of each row identifier (its text)."""
    values = ids.to_pylist() if hasattr(ids, "to_pylist") else list(ids)
    return pd.util.hash_array(np.asarray(values, dtype=object))


def fingerprint_table(ids: pa.Array, hashes: pa.Array | np.ndarray) -> pa.Table:
    ids = pc.cast(ids, pa.string())
    return pa.table([ids, pa.array(hashes, type=pa.uint64()), pa.array(id_keys(ids), type=pa.uint64())],
                    schema=FINGERPRINT_SCHEMA)


def row_fingerprint(batch: pa.RecordBatch, row_id: str, hashes: np.ndarray | None = None) -> pa.Table:
    if hashes is None:
        hashes = row_hashes(batch)
    return fingerprint_table(batch.column(batch.schema.get_field_index(row_id)), hashes)


def sidecar_path(staged_path: Path | str) -> Path:
    """Where the fingerprint of a staged extract is kept."""
    staged = Path(staged_path)
    return staged.with_name(staged.stem + ".fingerprint.parquet")
