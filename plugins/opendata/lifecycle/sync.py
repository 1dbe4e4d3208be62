"""Bring the portal's copy of a dataset in line with a staged extract, sending only changes.

A fingerprint (row identifier -> hash of the row) of what the portal last confirmed is kept
next to the state; the next load compares the new extract against it and upserts only new
and changed rows, plus ``:deleted`` rows for identifiers gone from the source. The
fingerprint is replaced only after the portal confirmed every request, so a crash half way
leaves the old fingerprint and the next attempt re-sends (idempotent upserts) what may be
missing. Deletions are capped by the dataset file (the shrink guard) and checked before the
portal is touched. A dataset without a row identifier is replaced as a whole, never appended.

Diffing happens in Arrow (joins over two columns), not Python sets, so memory stays small.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opendata.spec.dataset import DatasetSpec

log = logging.getLogger(__name__)

FINGERPRINT_SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("hash", pa.uint64())])


class ShrinkGuardError(RuntimeError):
    """A refresh would delete more of the published rows than the dataset file allows."""


@dataclass(frozen=True)
class ChangeSet:
    changed_ids: pa.Array   # new or different rows to upsert
    deleted_ids: pa.Array   # published rows gone from the source
    unchanged: int

    @property
    def changed(self) -> int:
        return len(self.changed_ids)

    @property
    def deleted(self) -> int:
        return len(self.deleted_ids)


@dataclass(frozen=True)
class SyncResult:
    mode: str                 # "upsert" or "replace"
    rows_in_extract: int
    rows_changed: int
    rows_unchanged: int
    rows_created: int
    rows_updated: int
    rows_deleted: int
    errors: int
    requests: int
    fingerprint_path: str | None

    def as_dict(self) -> dict:
        return asdict(self)


# --- pure parts ----------------------------------------------------------------------------------

def row_fingerprint(batch: pa.RecordBatch, row_id: str) -> pa.Table:
    """(row identifier, 64-bit hash of the whole row) for every row of a batch."""
    frame = batch.to_pandas()
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    ids = pc.cast(batch.column(batch.schema.get_field_index(row_id)), pa.string())
    return pa.table([ids, pa.array(hashes, type=pa.uint64())], schema=FINGERPRINT_SCHEMA)


def diff_fingerprints(current: pa.Table, previous: pa.Table) -> ChangeSet:
    """Which rows to upsert and which to delete to turn ``previous`` into ``current``."""
    joined = current.join(previous.rename_columns(["id", "previous_hash"]), keys="id", join_type="left outer")
    differs = pc.or_kleene(pc.is_null(joined["previous_hash"]),
                           pc.not_equal(joined["hash"], joined["previous_hash"]))
    changed = joined.filter(pc.fill_null(differs, True))["id"].combine_chunks()
    gone = previous.join(current.select(["id"]), keys="id", join_type="left anti")["id"].combine_chunks()
    return ChangeSet(changed_ids=changed, deleted_ids=gone, unchanged=current.num_rows - len(changed))


def check_shrink(deleted: int, published: int, max_share: float, *, remaining: int) -> None:
    """Refuse before touching the portal: emptying the dataset, or deleting too large a share."""
    if published and remaining == 0:
        raise ShrinkGuardError(f"the refresh would empty the dataset ({published:,} published rows, "
                               f"0 left); nothing was sent")
    if published and deleted / published > max_share:
        raise ShrinkGuardError(
            f"the refresh would delete {deleted:,} of {published:,} published rows "
            f"({deleted / published:.1%}), more than the {max_share:.0%} the dataset file allows "
            f"(refresh.max_deleted_share); nothing was sent")


# --- I/O -------------------------------------------------------------------------------------------

def fingerprint_extract(staged_path: Path, row_id: str) -> pa.Table:
    parquet = pq.ParquetFile(staged_path)
    tables = [row_fingerprint(batch, row_id) for batch in parquet.iter_batches(batch_size=50_000)]
    return pa.concat_tables(tables) if tables else FINGERPRINT_SCHEMA.empty_table()


def portal_fingerprint(hook, portal_id: str, row_id: str) -> pa.Table:
    """Without a fingerprint, what the portal holds: its identifiers, with hashes that never
    match, so every extracted row is sent once and vanished ones are known."""
    ids = [str(row[row_id]) for row in hook.iter_rows(portal_id, select=row_id) if row.get(row_id) is not None]
    return pa.table([pa.array(ids, type=pa.string()), pa.nulls(len(ids), type=pa.uint64())],
                    schema=FINGERPRINT_SCHEMA)


def _changed_frames(staged_path: Path, row_id: str, changed: pa.Array) -> Iterator[pd.DataFrame]:
    parquet = pq.ParquetFile(staged_path)
    for batch in parquet.iter_batches(batch_size=10_000):
        ids = pc.cast(batch.column(batch.schema.get_field_index(row_id)), pa.string())
        selected = batch.filter(pc.is_in(ids, value_set=changed))
        if selected.num_rows:
            yield selected.to_pandas()


def _all_frames(staged_path: Path) -> Iterator[pd.DataFrame]:
    for batch in pq.ParquetFile(staged_path).iter_batches(batch_size=10_000):
        yield batch.to_pandas()


def _write_fingerprint(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, path)


def sync_to_portal(hook, spec: DatasetSpec, portal_id: str, staged_path: Path, *, fingerprint_path: Path,
                   previous_fingerprint: Path | None, published_rows: int | None,
                   apply_shrink_guard: bool) -> SyncResult:
    """Load the staged extract into portal dataset ``portal_id``, sending only what changed."""
    row_id = spec.publishing.row_identifier
    total = pq.read_metadata(staged_path).num_rows
    if row_id is None:
        log.info("No row identifier: replacing all %s rows of %s", f"{total:,}", portal_id)
        result = hook.replace(portal_id, _all_frames(staged_path), total=total, require_row_identifier=False)
        return SyncResult("replace", total, total, 0, result.rows_created, result.rows_updated,
                          result.rows_deleted, result.errors, result.requests, None)

    current = fingerprint_extract(staged_path, row_id)
    if previous_fingerprint is not None and previous_fingerprint.is_file():
        previous = pq.read_table(previous_fingerprint)
        log.info("Comparing %s extracted rows with the fingerprint of the last confirmed load",
                 f"{current.num_rows:,}")
    else:
        previous = portal_fingerprint(hook, portal_id, row_id)
        log.info("No fingerprint of a confirmed load: the portal holds %s rows; sending every row",
                 f"{previous.num_rows:,}")
    changes = diff_fingerprints(current, previous)
    log.info("%s new or changed rows, %s unchanged, %s gone from the source",
             f"{changes.changed:,}", f"{changes.unchanged:,}", f"{changes.deleted:,}")
    if apply_shrink_guard:
        check_shrink(changes.deleted, published_rows if published_rows is not None else previous.num_rows,
                     spec.refresh.max_deleted_share, remaining=current.num_rows)

    created = updated = deleted = errors = requests = 0
    if changes.changed:
        result = hook.upsert(portal_id, _changed_frames(staged_path, row_id, changes.changed_ids),
                             total=changes.changed)
        created, updated, errors, requests = (result.rows_created, result.rows_updated, result.errors,
                                              result.requests)
    if changes.deleted:
        result = hook.upsert_deletions(portal_id, row_id, changes.deleted_ids.to_pylist())
        deleted, errors, requests = result.rows_deleted, errors + result.errors, requests + result.requests
    _write_fingerprint(current, fingerprint_path)
    return SyncResult("upsert", current.num_rows, changes.changed, changes.unchanged, created, updated, deleted,
                      errors, requests, str(fingerprint_path))
