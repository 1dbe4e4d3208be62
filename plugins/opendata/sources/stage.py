"""Extract a dataset's source into a staged Parquet file, chunk by chunk.

Memory stays bounded by one chunk whatever the table size: each chunk is typed to the
data dictionary, appended to the Parquet file and dropped. The checksum is computed over
row contents (not file bytes), so the same data staged twice has the same checksum.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from opendata.sources import read_chunks
from opendata.sources.base import ExtractError
from opendata.sources.coerce import CoercionReport, SchemaMismatch, arrow_schema, check_columns, coerce_chunk
from opendata.sources.fingerprint import (
    FINGERPRINT_SCHEMA,
    FingerprintWriter,
    row_fingerprint_and_hashes,
    sidecar_path,
    write_fingerprint,
)
from opendata.sources.pg_arrow import to_frame, typed_batch
from opendata.sources.ragged import RaggedRows
from opendata.sources.watermark import batch_max, format_watermark, parse_watermark, past
from opendata.spec.dataset import DatasetSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagedExtract:
    """What the extract step hands to the next steps (small enough for XCom)."""

    dataset_id: str
    path: str
    rows: int
    checksum: str
    bytes: int
    seconds: float
    unpublished_source_columns: list[str]
    coercion: dict
    # What the privacy section did: source columns removed on read, published columns masked.
    privacy: dict = field(default_factory=dict)
    # Incremental extracts: the watermark read from, and the highest value staged (text).
    since: str | None = None
    watermark: str | None = None
    # Source rows left out because their fields did not line up with the header (count, lines).
    ragged_rows: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def extract_to_stage(spec: DatasetSpec, out_path: Path, *, since: str | None = None) -> StagedExtract:
    """Stage the source; with ``since`` only rows whose ``source.watermark`` column is past it
    (an empty increment is then normal and staged as an empty file)."""
    started = time.monotonic()
    mark = next(c for c in spec.columns if c.field_name == spec.source.watermark) if spec.source.watermark else None
    bound = parse_watermark(mark, since) if mark is not None and since is not None else None
    highest = None
    seen = 0  # source rows read, for row positions that mean the same row in every chunk
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_suffix(".partial")
    report = CoercionReport()
    ragged = RaggedRows()
    digest = hashlib.sha256()
    rows = 0
    unpublished: list[str] = []
    removed: list[str] = []
    writer: pq.ParquetWriter | None = None
    schema = arrow_schema(spec)
    typing = [(c.field_name, c.source_name, c.type.value) for c in spec.columns]
    # The row fingerprint, written alongside (the next load diffs it without a second pass).
    row_id = spec.publishing.row_identifier
    prints: FingerprintWriter | None = None
    prints_partial = sidecar_path(out_path).with_suffix(".partial")
    # Parquet encoding and compression (C++, without the GIL) run on a second thread while the
    # next chunk is read, typed and hashed; one write in flight, in order, so memory stays one
    # chunk more than before.
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage-writer")
    written: Future | None = None
    try:
        pushdown = (mark.source_name, bound) if mark is not None and bound is not None else None
        # PostgreSQL's COPY path may hand over Arrow batches: typed here without pandas when every
        # column's typing allows it (``pg_arrow.typed_batch``), else made the pandas chunk.
        arrow_typing = not spec.privacy.mask
        for chunk in read_chunks(spec.source, since=pushdown, ragged=ragged, arrow=True):
            names = chunk.schema.names if isinstance(chunk, pa.RecordBatch) else [str(c) for c in chunk.columns]
            # Columns the file marks for removal go first, before anything else sees the chunk.
            present = [name for name in spec.privacy.remove if name in names]
            if present:
                chunk = (chunk.drop_columns(present) if isinstance(chunk, pa.RecordBatch)
                         else chunk.drop(columns=present))
                names = [name for name in names if name not in present]
                removed += [name for name in present if name not in removed]
            if writer is None:
                if removed:
                    log.info("Source columns removed on read (privacy.remove): %s", ", ".join(removed))
                unpublished = check_columns(spec, names)
                if unpublished:
                    log.info("Source columns not in the data dictionary (not published): %s",
                             ", ".join(unpublished))
                writer = pq.ParquetWriter(partial, arrow_schema(spec), compression="zstd")
                if row_id:
                    prints = FingerprintWriter(prints_partial)
            batch = None
            if isinstance(chunk, pa.RecordBatch):
                if arrow_typing:
                    batch = typed_batch(chunk, typing, schema)
                if batch is None:
                    chunk = to_frame(chunk)
            if batch is None:
                # Row positions continue across chunks, so "row 12345" means the same row everywhere.
                chunk.index = pd.RangeIndex(seen, seen + len(chunk))
                batch = coerce_chunk(spec, chunk, report)
            seen += batch.num_rows
            if mark is not None and bound is not None:
                batch = past(batch, mark.field_name, bound)
            if mark is not None and batch.num_rows:
                top = batch_max(batch, mark.field_name)
                highest = top if highest is None or (top is not None and top > highest) else highest
            if written is not None:
                written.result()
            written = background.submit(writer.write_batch, batch)
            fingerprint, hashes = row_fingerprint_and_hashes(batch, row_id if prints is not None else None)
            digest.update(hashes.tobytes())
            if prints is not None and fingerprint is not None:
                prints.write(fingerprint)
            rows += batch.num_rows
            log.info("Extracted %s rows so far from %s (%.0f rows/s)", f"{rows:,}", spec.source.kind,
                     rows / max(time.monotonic() - started, 1e-6))
        if written is not None:
            written.result()  # the last chunk is on disk (an error writing it is raised here)
    except SchemaMismatch as exc:
        raise ExtractError(f"dataset {spec.id}: {exc}") from exc
    except ExtractError as exc:
        raise ExtractError(f"dataset {spec.id}: {exc}") from exc
    finally:
        if written is not None:
            written.exception()  # waited for (its error, if any, was raised above or is moot)
        background.shutdown()
        if writer is not None:
            writer.close()
        if prints is not None:
            prints.close()
    if rows == 0 and bound is None:
        partial.unlink(missing_ok=True)
        prints_partial.unlink(missing_ok=True)
        left_out = f" ({ragged} were left out)" if ragged.count else ""
        raise ExtractError(f"dataset {spec.id}: the source returned no rows{left_out}; refusing to stage an "
                           f"empty extract")
    if writer is None:
        # An empty increment (or an empty first chunk of one): still a valid, typed file.
        pq.write_table(arrow_schema(spec).empty_table(), partial, compression="zstd")
    partial.replace(out_path)
    if row_id:
        if prints is None:
            write_fingerprint(FINGERPRINT_SCHEMA.empty_table(), prints_partial)
        prints_partial.replace(sidecar_path(out_path))
    if ragged.count:
        log.warning("Left out of the extract: %s", ragged)
    for column, count in report.failures.items():
        log.warning("Column %s: %s values did not fit type %s (sample rows: %s)", column, f"{count:,}",
                    next(c.type.value for c in spec.columns if c.field_name == column),
                    ", ".join(report.samples.get(column, [])))
    seconds = time.monotonic() - started
    log.info("Staged %s rows to %s in %.1f s", f"{rows:,}", out_path, seconds)
    privacy = {"removed": removed, "masked": {name: rule.method.value for name, rule in spec.privacy.mask.items()}}
    return StagedExtract(spec.id, str(out_path), rows, digest.hexdigest(), out_path.stat().st_size,
                         round(seconds, 3), unpublished, report.as_dict(), privacy, since=since,
                         watermark=format_watermark(highest) if highest is not None else since,
                         ragged_rows=ragged.as_dict())
