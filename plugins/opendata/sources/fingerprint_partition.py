"""Fingerprints split into buckets by key hash, on disk, so two of any size are compared one
bucket at a time in bounded memory.

A row identifier's key (its 64-bit hash) decides its bucket, so an identifier lands in the same
bucket in both fingerprints and each bucket pair is compared on its own. Files are read batch by
batch into ordinary memory, not memory-mapped: a mapped file's touched pages stay resident (and
count) until it is closed, so a whole 10M-row fingerprint would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from opendata.sources.fingerprint import FINGERPRINT_SCHEMA, fingerprint_table

# Rows per bucket: one bucket pair (with the sort arrays of the comparison) costs a few tens of
# megabytes at this size; the number of buckets grows with the table instead.
BUCKET_ROWS = 250_000
# Rows gathered before they are split into buckets: fewer, larger writes.
SPLIT_ROWS = 200_000

POSITION = "pos"


def bucket_count(rows: int, bucket_rows: int = BUCKET_ROWS) -> int:
    return max(1, math.ceil(rows / bucket_rows))


def is_parquet(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def fingerprint_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """A fingerprint file's batches (Arrow IPC, or the Parquet of earlier versions), each with
    the ``key`` column (computed when a file of an earlier version has none)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        batches = (b for group in range(parquet.num_row_groups) for b in parquet.iter_batches(row_groups=[group]))
    else:
        reader = pa.ipc.open_file(pa.OSFile(str(path), "rb"))
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if "key" not in batch.schema.names:
            batch = fingerprint_table(batch.column(batch.schema.get_field_index("id")),
                                      batch.column(batch.schema.get_field_index("hash"))).to_batches()[0]
        yield pa.RecordBatch.from_arrays([batch.column(batch.schema.get_field_index(n)).cast(f.type)
                                          for n, f in zip(FINGERPRINT_SCHEMA.names, FINGERPRINT_SCHEMA, strict=True)],
                                         schema=FINGERPRINT_SCHEMA)


def count_rows(path: Path) -> int:
    if is_parquet(path):
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    reader = pa.ipc.open_file(pa.OSFile(str(path), "rb"))
    return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


def partition(batches: Iterator[pa.RecordBatch], buckets: int, directory: Path, name: str, *,
              positions: bool) -> list[Path]:
    """Write the batches into ``buckets`` files by key; with ``positions``, each row keeps its
    position in the input (which row of the staged extract it is)."""
    schema = FINGERPRINT_SCHEMA.append(pa.field(POSITION, pa.int64())) if positions else FINGERPRINT_SCHEMA
    paths = [directory / f"{name}-{b:04d}.arrow" for b in range(buckets)]
    sinks = [pa.OSFile(str(p), "wb") for p in paths]
    writers = [pa.ipc.new_file(s, schema) for s in sinks]
    try:
        seen = 0
        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in batches:
            if positions:
                batch = pa.RecordBatch.from_arrays(
                    batch.columns + [pa.array(np.arange(seen, seen + batch.num_rows, dtype=np.int64))], schema=schema)
            seen += batch.num_rows
            pending.append(batch)
            held += batch.num_rows
            if held >= SPLIT_ROWS:
                _split(pa.Table.from_batches(pending, schema=schema), buckets, writers)
                pending, held = [], 0
        if pending:
            _split(pa.Table.from_batches(pending, schema=schema), buckets, writers)
    finally:
        for writer, sink in zip(writers, sinks, strict=True):
            writer.close()
            sink.close()
    return paths


def _split(table: pa.Table, buckets: int, writers: list) -> None:
    table = table.combine_chunks()
    which = table["key"].to_numpy() % np.uint64(buckets)
    order = np.argsort(which, kind="stable")
    ordered = table.take(pa.array(order))
    bounds = np.searchsorted(which[order], np.arange(buckets + 1, dtype=np.uint64))
    for b in range(buckets):
        if bounds[b + 1] > bounds[b]:
            writers[b].write_table(ordered.slice(int(bounds[b]), int(bounds[b + 1] - bounds[b])))


def read_bucket(path: Path) -> pa.Table:
    reader = pa.ipc.open_file(pa.OSFile(str(path), "rb"))
    return reader.read_all()
