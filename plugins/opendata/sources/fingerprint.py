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
