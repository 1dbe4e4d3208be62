"""Bring the portal's copy of a dataset in line with a staged extract, sending only changes.

A fingerprint (row identifier -> hash of the row) of what the portal last confirmed is kept
next to the state; the next load compares the new extract against it and upserts only new
and changed rows, plus ``:deleted`` rows for identifiers gone from the source. An incremental
extract (rows past a watermark) is compared the same way but deletes nothing. The
fingerprint is replaced only after the portal confirmed every request, so a crash half way
leaves the old fingerprint and the next attempt re-sends (idempotent upserts) what may be
missing. Deletions are capped by the dataset file (the shrink guard) and checked before the
portal is touched. A dataset without a row identifier (or whose file asks for it) is replaced
as a whole through a portal revision, atomically, never appended to; an unchanged extract
(same content checksum) is not sent at all.

Diffing works on 8-byte keys (hashes of the row identifiers) with sort and binary search, not
Python sets or string hash tables. Fingerprints larger than one bucket are compared bucket by
bucket (split by key hash into files next to the extract, ``fingerprint_partition``), so memory
stays flat as tables grow: what is kept whole is one byte per extracted row (which rows changed)
and the identifiers to delete.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opendata.portal.revisions import APPROVAL_SUBMITTED
from opendata.sources.fingerprint import (
    FINGERPRINT_SCHEMA,
    fingerprint_table,
    id_keys,
    read_fingerprint,
    row_fingerprint,
    sidecar_path,
    write_fingerprint,
)
from opendata.sources.fingerprint_partition import (
    BUCKET_ROWS,
    POSITION,
    bucket_count,
    count_rows,
    fingerprint_batches,
    partition,
    read_bucket,
)
from opendata.sources.staged import staged_batches
from opendata.spec.dataset import DatasetSpec

if TYPE_CHECKING:
    from opendata.portal.hook import SocrataHook
    from opendata.registry import DatasetState
    from opendata.sources.stage import StagedExtract

log = logging.getLogger(__name__)

#: The audience the pipeline expects the portal's copy to have while it loads (private at
#: Stage 1, public after): a replace refuses to change it silently.
LoadAudience = Literal["private", "public"]


class SyncMode(StrEnum):
    """How a load reaches the portal."""

    UPSERT = "upsert"      # new and changed rows by row identifier, ``:deleted`` rows for the gone
    REPLACE = "replace"    # the whole dataset, atomically, through a revision
    NONE = "none"          # nothing changed: nothing sent
    HELD = "held"          # a replace the portal holds for its reviewer: nothing changed yet


class ShrinkGuardError(RuntimeError):
    """A refresh would delete more of the published rows than the dataset file allows."""


@dataclass(frozen=True)
class ChangeSet:
    changed_ids: pa.Array | None   # new or different rows to upsert (None: only changed_rows is known)
    deleted_ids: pa.Array   # published rows gone from the source
    unchanged: int
    # One flag per row of the extract, in its order: upsert this row (how the load finds them).
    changed_rows: np.ndarray | None = None

    @property
    def changed(self) -> int:
        if self.changed_rows is not None:
            return int(self.changed_rows.sum())
        return len(self.changed_ids) if self.changed_ids is not None else 0

    @property
    def deleted(self) -> int:
        return len(self.deleted_ids)


@dataclass
class SyncPlan:
    """What a load would do, worked out before anything is sent."""

    mode: SyncMode            # upsert, replace or none (nothing changed); never held
    rows_in_extract: int
    changed: int
    unchanged: int
    deleted: int
    published: int
    shrink_problem: str | None
    changes: ChangeSet | None = None
    fingerprint: pa.Table | None = None
    merged_fingerprint: pa.Table | None = None
    # A fingerprint too large to hold: the file to record as confirmed instead (the extract's own).
    merged_fingerprint_file: Path | None = None

    def counts(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "rows_in_extract": self.rows_in_extract, "changed": self.changed,
                "unchanged": self.unchanged, "deleted": self.deleted, "published": self.published,
                "shrink_problem": self.shrink_problem}


@dataclass(frozen=True)
class SyncResult:
    mode: SyncMode
    rows_in_extract: int
    rows_changed: int
    rows_unchanged: int
    rows_created: int
    rows_updated: int
    rows_deleted: int
    errors: int
    requests: int
    fingerprint_path: str | None
    rows_published: int = 0   # rows the portal holds after the load
    #: A replace the portal holds for a reviewer (its revision number): nothing changed yet.
    held_revision: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able (XCom): the mode as its text."""
        return {**asdict(self), "mode": self.mode.value}


# --- pure parts ----------------------------------------------------------------------------------

def _keys(table: pa.Table) -> np.ndarray:
    if "key" in table.column_names:
        return table["key"].to_numpy()
    return id_keys(table["id"])


def _lookup(keys: np.ndarray, among: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each key: whether it is in ``among`` and its position there (sort + binary search
    on 8-byte keys: a few arrays of the table's length, no hash table of strings)."""
    if len(among) == 0:
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    order = np.argsort(among, kind="stable")
    ordered = among[order]
    slot = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
    return ordered[slot] == keys, order[slot]


def _matches(table: pa.Table, other: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``table`` whose identifier is in ``other``, and where. Keys are hashes, so a key
    match is confirmed on the identifiers themselves."""
    found, where = _lookup(_keys(table), _keys(other))
    hits = np.flatnonzero(found)
    # In slices: comparing a million identifiers at once would copy both string columns.
    for start in range(0, len(hits), 50_000):
        part = hits[start:start + 50_000]
        same = pc.equal(table["id"].take(pa.array(part)), other["id"].take(pa.array(where[part])))
        found[part[~same.to_numpy(zero_copy_only=False)]] = False
    return found, where


def diff_fingerprints(current: pa.Table, previous: pa.Table) -> ChangeSet:
    """Which rows to upsert and which to delete to turn ``previous`` into ``current``."""
    unchanged, still_there = _diff_masks(current, previous)
    changed = current["id"].filter(pa.array(~unchanged)).combine_chunks()
    gone = previous["id"].filter(pa.array(~still_there)).combine_chunks()
    return ChangeSet(changed_ids=changed, deleted_ids=gone, unchanged=int(unchanged.sum()), changed_rows=~unchanged)


def _diff_masks(current: pa.Table, previous: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``current``: unchanged (same identifier, same hash); per row of ``previous``:
    its identifier is still in ``current``."""
    found, where = _matches(current, previous)
    previous_hash = previous["hash"]
    known_hash = pc.fill_null(previous_hash, 0).to_numpy()[where] if len(previous) else np.zeros(0, np.uint64)
    hash_missing = previous_hash.is_null().to_numpy(zero_copy_only=False)[where] if len(previous) \
        else np.zeros(0, bool)
    unchanged = found & ~hash_missing & (current["hash"].to_numpy() == known_hash) if len(previous) \
        else np.zeros(len(current), dtype=bool)
    still_there, _ = _matches(previous, current)
    return unchanged, still_there


def diff_fingerprint_files(current: Path, previous: Path, *, current_rows: int, previous_rows: int,
                           workdir: Path, bucket_rows: int = BUCKET_ROWS) -> ChangeSet:
    """``diff_fingerprints`` for two fingerprint files of any size, in bounded memory: both are
    split by key hash into buckets on disk (in a temporary folder in ``workdir``, removed after)
    and compared bucket by bucket. Which rows changed is kept as one flag per extracted row."""
    buckets = bucket_count(max(current_rows, previous_rows), bucket_rows)
    changed_rows = np.zeros(current_rows, dtype=bool)
    gone: list[pa.Array] = []
    unchanged_total = 0
    with tempfile.TemporaryDirectory(prefix=".fingerprint-buckets-", dir=workdir) as tmp:
        ours = partition(fingerprint_batches(current), buckets, Path(tmp), "current", positions=True)
        theirs = partition(fingerprint_batches(previous), buckets, Path(tmp), "previous", positions=False)
        for mine, other in zip(ours, theirs, strict=True):
            now, before = read_bucket(mine), read_bucket(other)
            unchanged, still_there = _diff_masks(now, before)
            changed_rows[now[POSITION].to_numpy()[~unchanged]] = True
            unchanged_total += int(unchanged.sum())
            if not still_there.all():
                gone.append(before["id"].filter(pa.array(~still_there)).combine_chunks())
            del now, before
    deleted = pa.concat_arrays(gone) if gone else pa.array([], type=pa.string())
    return ChangeSet(changed_ids=None, deleted_ids=deleted, unchanged=unchanged_total, changed_rows=changed_rows)


def shrink_problem(deleted: int, published: int, max_share: float, *, remaining: int) -> str | None:
    """Why a load must not go ahead without a person's approval, or None: it would empty the
    dataset, or delete a larger share of the published rows than the dataset file allows."""
    if published and remaining == 0:
        return f"the refresh would empty the dataset ({published:,} published rows, 0 left)"
    if published and deleted / published > max_share:
        return (f"the refresh would delete {deleted:,} of {published:,} published rows "
                f"({deleted / published:.1%}), more than the {max_share:.0%} the dataset file allows "
                f"(refresh.max_deleted_share)")
    return None


def check_shrink(deleted: int, published: int, max_share: float, *, remaining: int) -> None:
    problem = shrink_problem(deleted, published, max_share, remaining=remaining)
    if problem:
        raise ShrinkGuardError(problem + "; nothing was sent")


def merge_fingerprints(previous: pa.Table, current: pa.Table) -> pa.Table:
    """The published fingerprint after an incremental load: current rows replace their ids."""
    replaced, _ = _matches(previous, current)
    kept = previous.filter(pa.array(~replaced))
    if "key" not in kept.column_names:
        kept = fingerprint_table(kept["id"].combine_chunks(), kept["hash"].combine_chunks())
    return pa.concat_tables([kept.select(FINGERPRINT_SCHEMA.names).cast(FINGERPRINT_SCHEMA), current])


# --- I/O -------------------------------------------------------------------------------------------

def fingerprint_extract(staged_path: Path, row_id: str) -> pa.Table:
    """The extract's fingerprint: the sidecar written while staging, else computed now."""
    sidecar = sidecar_path(staged_path)
    if sidecar.is_file():
        return read_fingerprint(sidecar)
    tables = [row_fingerprint(batch, row_id) for batch in staged_batches(staged_path)]
    return pa.concat_tables(tables) if tables else FINGERPRINT_SCHEMA.empty_table()


def portal_fingerprint(hook: SocrataHook, portal_id: str, row_id: str) -> pa.Table:
    """Without a fingerprint, what the portal holds: its identifiers, with hashes that never
    match, so every extracted row is sent once and vanished ones are known."""
    ids = [str(row[row_id]) for row in hook.iter_rows(portal_id, select=row_id) if row.get(row_id) is not None]
    return pa.table([pa.array(ids, type=pa.string()), pa.nulls(len(ids), type=pa.uint64()),
                     pa.array(id_keys(ids), type=pa.uint64())], schema=FINGERPRINT_SCHEMA)


def _changed_frames(staged_path: Path, row_id: str, changes: ChangeSet) -> Iterator[pd.DataFrame]:
    """The extract's rows the change set flags, in order (the flags follow the extract's rows);
    a change set of identifiers only is looked up by identifier."""
    seen = 0
    for batch in staged_batches(staged_path):
        if changes.changed_rows is None:
            ids = pc.cast(batch.column(batch.schema.get_field_index(row_id)), pa.string())
            flags = pc.is_in(ids, value_set=changes.changed_ids).to_numpy(zero_copy_only=False)
        else:
            flags = changes.changed_rows[seen:seen + batch.num_rows]
        seen += batch.num_rows
        if flags.any():
            yield batch.filter(pa.array(flags)).to_pandas()


def _all_frames(staged_path: Path) -> Iterator[pd.DataFrame]:
    for batch in staged_batches(staged_path):
        yield batch.to_pandas()


def _write_fingerprint(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    write_fingerprint(table, partial)
    os.replace(partial, path)


def _copy_fingerprint(source: Path, path: Path) -> None:
    # The extract's fingerprint is the confirmed one now: copied whole (never read into memory),
    # under a temporary name first, so a crash leaves the previous one.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, path)


def same_file(path: Path, other: Path, block: int = 1 << 20) -> bool:
    """Whether two files hold the same bytes (read a block at a time; different sizes: no)."""
    if path.stat().st_size != other.stat().st_size:
        return False
    with open(path, "rb") as mine, open(other, "rb") as theirs:
        while True:
            a, b = mine.read(block), theirs.read(block)
            if a != b:
                return False
            if not a:
                return True


def plan_sync(hook: SocrataHook, spec: DatasetSpec, portal_id: str, staged_path: Path, *,
              previous_fingerprint: Path | None, published_rows: int | None, published_checksum: str | None,
              staged_checksum: str, incremental: bool = False, compare_portal_rows: bool = False) -> SyncPlan:
    """Work out the load without sending anything (the shrink guard looks at this).

    ``compare_portal_rows``: the pipeline has no record of a load it made (a dataset taken over
    from the portal): the extract is compared with the rows the portal holds, read and typed as
    the extract is (:mod:`opendata.lifecycle.portal_rows`), instead of sending every row."""
    total = pq.read_metadata(staged_path).num_rows
    max_share = spec.refresh.max_deleted_share
    if spec.refresh_mode == SyncMode.REPLACE:
        published = published_rows or 0
        if published_checksum is not None and published_checksum == staged_checksum:
            return SyncPlan(SyncMode.NONE, total, 0, total, 0, published, None)
        if compare_portal_rows and published_checksum is None:
            same, published = _same_as_portal(hook, spec, portal_id, staged_path, total)
            if same:
                return SyncPlan(SyncMode.NONE, total, 0, total, 0, published, None)
        gone = max(published - total, 0)
        return SyncPlan(SyncMode.REPLACE, total, total, 0, gone, published,
                        shrink_problem(gone, published, max_share, remaining=total))

    row_id = _row_identifier(spec)
    sidecar = sidecar_path(staged_path)
    if compare_portal_rows and previous_fingerprint is None and not incremental:
        return _plan_upsert_against_portal(hook, spec, portal_id, staged_path, total, row_id)
    if (not incremental and previous_fingerprint is not None and previous_fingerprint.is_file()
            and sidecar.is_file()):
        if same_file(sidecar, previous_fingerprint):
            # The extract's fingerprint is byte for byte the confirmed one: the same rows, the same
            # hashes, in the same order. Nothing to send, nothing gone; nothing to compare.
            log.info("The %s extracted rows are those of the last confirmed load (same fingerprint): "
                     "nothing changed", f"{total:,}")
            published = published_rows if published_rows is not None else total
            changes = ChangeSet(changed_ids=None, deleted_ids=pa.array([], type=pa.string()), unchanged=total,
                                changed_rows=np.zeros(total, dtype=bool))
            return SyncPlan(SyncMode.NONE, total, 0, total, 0, published,
                            shrink_problem(0, published, max_share, remaining=total), changes,
                            merged_fingerprint_file=sidecar)
        # Both on disk: compared bucket by bucket when larger than one (memory flat to any size).
        previous_rows = count_rows(previous_fingerprint)
        if max(total, previous_rows) > BUCKET_ROWS:
            log.info("Comparing %s extracted rows with the fingerprint of the last confirmed load (%s rows), "
                     "in buckets", f"{total:,}", f"{previous_rows:,}")
            changes = diff_fingerprint_files(sidecar, previous_fingerprint, current_rows=total,
                                             previous_rows=previous_rows, workdir=staged_path.parent)
            published = published_rows if published_rows is not None else previous_rows
            problem = shrink_problem(changes.deleted, published, max_share, remaining=total)
            mode = SyncMode.UPSERT if changes.changed or changes.deleted else SyncMode.NONE
            return SyncPlan(mode, total, changes.changed, changes.unchanged, changes.deleted, published, problem,
                            changes, merged_fingerprint_file=sidecar)
    current = fingerprint_extract(staged_path, row_id)
    if previous_fingerprint is not None and previous_fingerprint.is_file():
        previous = read_fingerprint(previous_fingerprint)
        log.info("Comparing %s extracted rows with the fingerprint of the last confirmed load",
                 f"{current.num_rows:,}")
    elif incremental:
        previous = FINGERPRINT_SCHEMA.empty_table()
    else:
        previous = portal_fingerprint(hook, portal_id, row_id)
        log.info("No fingerprint of a confirmed load: the portal holds %s rows; sending every row",
                 f"{previous.num_rows:,}")
    changes = diff_fingerprints(current, previous)
    if incremental:
        # Rows past the watermark are all there is to know: absence means "unchanged".
        changes = replace(changes, deleted_ids=pa.array([], type=pa.string()))
        merged = merge_fingerprints(previous, current)
    else:
        merged = current
    published = published_rows if published_rows is not None else previous.num_rows
    problem = None if incremental else shrink_problem(changes.deleted, published, max_share,
                                                      remaining=current.num_rows)
    mode = SyncMode.UPSERT if changes.changed or changes.deleted else SyncMode.NONE
    return SyncPlan(mode, current.num_rows, changes.changed, changes.unchanged, changes.deleted, published, problem,
                    changes, current, merged)


def _plan_upsert_against_portal(hook: SocrataHook, spec: DatasetSpec, portal_id: str, staged_path: Path,
                                total: int, row_id: str) -> SyncPlan:
    """The extract against every row the portal holds (no fingerprint of a load of the pipeline's
    own): both sides typed and hashed alike, compared bucket by bucket on disk. The extract's own
    fingerprint (the sidecar) is what is recorded as confirmed afterwards."""
    from opendata.lifecycle.portal_rows import extract_pages, portal_pages, write_comparison_fingerprint

    sidecar = sidecar_path(staged_path)
    with tempfile.TemporaryDirectory(prefix=".portal-rows-", dir=staged_path.parent) as tmp:
        portal_file, extract_file = Path(tmp) / "portal.arrow", Path(tmp) / "extract.arrow"
        published = write_comparison_fingerprint(portal_pages(hook, portal_id, spec), row_id, portal_file)
        write_comparison_fingerprint(extract_pages(staged_path, spec), row_id, extract_file)
        log.info("No load of the pipeline's own yet (taken over from the portal): comparing the %s extracted rows "
                 "with the %s rows the portal holds", f"{total:,}", f"{published:,}")
        changes = diff_fingerprint_files(extract_file, portal_file, current_rows=total, previous_rows=published,
                                         workdir=Path(tmp))
    problem = shrink_problem(changes.deleted, published, spec.refresh.max_deleted_share, remaining=total)
    mode = SyncMode.UPSERT if changes.changed or changes.deleted else SyncMode.NONE
    return SyncPlan(mode, total, changes.changed, changes.unchanged, changes.deleted, published, problem, changes,
                    merged_fingerprint_file=sidecar if sidecar.is_file() else None)


def _same_as_portal(hook: SocrataHook, spec: DatasetSpec, portal_id: str, staged_path: Path,
                    total: int) -> tuple[bool, int]:
    """A dataset without a row identifier, taken over from the portal: whether its rows (as a
    multiset) are the extract's (then nothing is sent; else it is replaced whole), and how many
    the portal holds."""
    from opendata.lifecycle.portal_rows import same_content

    same, published = same_content(hook, portal_id, spec, staged_path)
    log.info("No load of the pipeline's own yet (taken over from the portal): the portal's %s rows are %s the "
             "%s extracted", f"{published:,}", "the same as" if same else "not those", f"{total:,}")
    return same, published


def apply_sync(hook: SocrataHook, spec: DatasetSpec, portal_id: str, staged_path: Path, plan: SyncPlan, *,
               fingerprint_path: Path, audience: LoadAudience) -> SyncResult:
    """Send what the plan says; record the new fingerprint once the portal confirmed it all."""
    log.info("%s new or changed rows, %s unchanged, %s gone from the source (%s)", f"{plan.changed:,}",
             f"{plan.unchanged:,}", f"{plan.deleted:,}", plan.mode)
    if plan.mode is SyncMode.REPLACE:
        # The audience the pipeline expects (private at Stage 1, public after): the hook refuses a
        # revision that would silently change it.
        revision = hook.replace_via_revision(portal_id, _all_frames(staged_path), total=plan.rows_in_extract,
                                             audience=audience, column_types=_column_types(spec))
        if revision.status == APPROVAL_SUBMITTED:
            # The portal holds changes to public datasets for its reviewer: nothing is live yet,
            # so nothing is recorded as published; the next run looks at the revision again.
            return SyncResult(SyncMode.HELD, plan.rows_in_extract, plan.changed, 0, 0, 0, 0, 0, revision.requests,
                              None, plan.published, held_revision=revision.revision_seq)
        return SyncResult(SyncMode.REPLACE, plan.rows_in_extract, plan.changed, 0, revision.rows_created,
                          revision.rows_updated, plan.deleted, revision.errors, revision.requests, None,
                          plan.rows_in_extract)
    if plan.mode is SyncMode.NONE and plan.merged_fingerprint is None and plan.merged_fingerprint_file is None:
        return SyncResult(SyncMode.NONE, plan.rows_in_extract, 0, plan.unchanged, 0, 0, 0, 0, 0, None, plan.published)

    created = updated = deleted = errors = requests = 0
    row_id = _row_identifier(spec)
    if plan.changes is not None and plan.changed:
        # Everything changed (a first load): no need to look each row up in the changed set.
        frames = (_all_frames(staged_path) if plan.changed == plan.rows_in_extract
                  else _changed_frames(staged_path, row_id, plan.changes))
        result = hook.upsert(portal_id, frames, total=plan.changed)
        created, updated, errors, requests = (result.rows_created, result.rows_updated, result.errors,
                                              result.requests)
    if plan.changes is not None and plan.deleted:
        result = hook.upsert_deletions(portal_id, row_id, plan.changes.deleted_ids.to_pylist())
        deleted, errors, requests = result.rows_deleted, errors + result.errors, requests + result.requests
    fingerprint = None
    published = plan.published
    if plan.merged_fingerprint is not None:
        _write_fingerprint(plan.merged_fingerprint, fingerprint_path)
        fingerprint = str(fingerprint_path)
        published = plan.merged_fingerprint.num_rows
    elif plan.merged_fingerprint_file is not None:
        _copy_fingerprint(plan.merged_fingerprint_file, fingerprint_path)
        fingerprint = str(fingerprint_path)
        published = plan.rows_in_extract
    return SyncResult(plan.mode, plan.rows_in_extract, plan.changed, plan.unchanged, created, updated, deleted,
                      errors, requests, fingerprint, published)


def _row_identifier(spec: DatasetSpec) -> str:
    """The row identifier an upsert keys on (a dataset without one is replaced, never upserted)."""
    row_id = spec.publishing.row_identifier
    if row_id is None:
        raise ValueError(f"{spec.id}: an upsert needs publishing.row_identifier; the dataset is replaced instead")
    return row_id


def _column_types(spec: DatasetSpec) -> dict[str, str]:
    """The dataset file's type of each column, in ``/api/views`` terms: a replace loads the rows
    as these, never as the portal's guess."""
    return {c.field_name: c.type.views_api_name for c in spec.columns}


def sync_to_portal(hook: SocrataHook, spec: DatasetSpec, portal_id: str, staged_path: Path, *,
                   fingerprint_path: Path, previous_fingerprint: Path | None, published_rows: int | None,
                   apply_shrink_guard: bool, audience: LoadAudience, published_checksum: str | None = None,
                   staged_checksum: str = "", incremental: bool = False,
                   compare_portal_rows: bool = False) -> SyncResult:
    """Load the staged extract into portal dataset ``portal_id``, sending only what changed."""
    plan = plan_sync(hook, spec, portal_id, staged_path, previous_fingerprint=previous_fingerprint,
                     published_rows=published_rows, published_checksum=published_checksum,
                     staged_checksum=staged_checksum, incremental=incremental,
                     compare_portal_rows=compare_portal_rows)
    if apply_shrink_guard and plan.shrink_problem:
        raise ShrinkGuardError(plan.shrink_problem + "; nothing was sent")
    return apply_sync(hook, spec, portal_id, staged_path, plan, fingerprint_path=fingerprint_path,
                      audience=audience)


@dataclass(frozen=True)
class SyncArguments:
    """What a load is measured against, from the registry's state and the staged extract: the
    fingerprint and counts of the last load the portal confirmed, and the new extract. Built
    once (:func:`sync_arguments`) for the Stage 1 push, the shrink guard and the refresh."""

    staged_path: Path
    staged_checksum: str
    incremental: bool
    previous_fingerprint: Path | None = None
    published_rows: int | None = None
    published_checksum: str | None = None
    #: Taken over from the portal with no load of the pipeline's own yet: compare with its rows.
    compare_portal_rows: bool = False

    def plan(self, hook: SocrataHook, spec: DatasetSpec, portal_id: str) -> SyncPlan:
        """:func:`plan_sync` of this load: nothing is sent."""
        return plan_sync(hook, spec, portal_id, self.staged_path, previous_fingerprint=self.previous_fingerprint,
                         published_rows=self.published_rows, published_checksum=self.published_checksum,
                         staged_checksum=self.staged_checksum, incremental=self.incremental,
                         compare_portal_rows=self.compare_portal_rows)

    def sync(self, hook: SocrataHook, spec: DatasetSpec, portal_id: str, *, fingerprint_path: Path,
             apply_shrink_guard: bool, audience: LoadAudience) -> SyncResult:
        """:func:`sync_to_portal` of this load."""
        return sync_to_portal(hook, spec, portal_id, self.staged_path, fingerprint_path=fingerprint_path,
                              previous_fingerprint=self.previous_fingerprint, published_rows=self.published_rows,
                              apply_shrink_guard=apply_shrink_guard, audience=audience,
                              published_checksum=self.published_checksum, staged_checksum=self.staged_checksum,
                              incremental=self.incremental, compare_portal_rows=self.compare_portal_rows)


def sync_arguments(state: DatasetState | None, staged: StagedExtract) -> SyncArguments:
    """The load of ``staged`` measured against what the registry recorded (``state`` None:
    nothing yet, a first load). Both files are local ones: kept in a remote store, they are
    downloaded into the task's scratch folder (:mod:`opendata.lifecycle.staging`)."""
    from opendata.lifecycle.staging import local_fingerprint, local_staged

    return SyncArguments(
        staged_path=local_staged(staged), staged_checksum=staged.checksum, incremental=staged.since is not None,
        previous_fingerprint=local_fingerprint(state.fingerprint_path if state else None),
        published_rows=state.published_rows if state else None,
        published_checksum=state.published_checksum if state else None,
        compare_portal_rows=bool(state and state.adopted and state.fingerprint_path is None
                                 and state.published_checksum is None))
