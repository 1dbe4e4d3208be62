"""History: every version the portal confirmed is archived, so none is ever lost.

The staged extract (already a zstd-compressed Parquet file) is copied to the archive in the
store (``OPENDATA_ARCHIVE_DIR``, by default ``<store>/archive``: a local folder, or an object
store where the copy is made by the store itself, never through the worker) with its checksum,
run id and stored location recorded in the registry. Archives older than the dataset's
``history.retention_days`` are removed, never the newest full version and the increments on
top of it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from opendata import storage
from opendata.registry import PublishedVersion, Registry

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import ObjectStoragePath

    from opendata.sources.stage import StagedExtract

log = logging.getLogger(__name__)


def archive_version(registry: Registry, dataset_id: str, *, run_id: str, staged: StagedExtract, kind: str,
                    retention_days: int, now: dt.datetime | None = None) -> ObjectStoragePath:
    """Keep the staged extract of a version the portal just confirmed; prune old archives."""
    now = now or dt.datetime.now(dt.UTC)
    target = storage.join(storage.archive_root(), dataset_id,
                          f"{now:%Y%m%dT%H%M%SZ}_{storage.safe_part(run_id)}.parquet")
    storage.copy(storage.resolve(staged.path), target)
    registry.record_version(dataset_id, run_id=run_id, kind=kind, rows=staged.rows, checksum=staged.checksum,
                            archive_path=storage.recorded(target))
    log.info("Archived %s rows (%s, checksum %s) to %s", f"{staged.rows:,}", kind, staged.checksum[:12],
             storage.recorded(target))
    prune(registry, dataset_id, retention_days=retention_days, now=now)
    return target


def expired(versions: list[PublishedVersion], *, retention_days: int, now: dt.datetime) -> list[PublishedVersion]:
    """Archived versions that may go (pure).

    Versions come in segments: a full extract and the incremental ones applied after it, which
    are restored on top of it. A segment goes only as a whole, once all of it is older than
    the retention, and the newest segment always stays.
    """
    archived = [v for v in versions if v.archive_path]
    segments: list[list[PublishedVersion]] = []
    for version in archived:
        if version.kind == "full" or not segments:
            segments.append([])
        segments[-1].append(version)
    limit = now - dt.timedelta(days=retention_days)
    return [v for segment in segments[:-1] if all(v.published_at < limit for v in segment) for v in segment]


def restore(registry: Registry, dataset_id: str, run_id: str, row_identifier: str | None) -> pa.Table:
    """The dataset as published by ``run_id``, as a pyarrow Table: that run's full extract, or
    the full extract before it with every increment up to it applied by row identifier. Archives
    in a remote store are downloaded into a scratch folder first (removed after)."""
    with storage.scratch():
        return _restore(registry, dataset_id, run_id, row_identifier)


def _restore(registry: Registry, dataset_id: str, run_id: str, row_identifier: str | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    versions = [v for v in registry.versions(dataset_id) if v.archive_path]
    position = next((i for i, v in enumerate(versions) if v.run_id == run_id), None)
    if position is None:
        known = ", ".join(v.run_id for v in versions) or "none"
        raise LookupError(f"no archived version of {dataset_id} from run {run_id!r}; archived runs: {known}")
    base = max((i for i in range(position + 1) if versions[i].kind == "full"), default=None)
    if base is None:
        raise LookupError(f"the full extract that run {run_id!r} builds on is no longer archived")
    table = pq.read_table(_archived(versions[base]))
    for version in versions[base + 1:position + 1]:
        increment = pq.read_table(_archived(version))
        if row_identifier is None:
            table = increment
            continue
        keep = pc.invert(pc.is_in(table[row_identifier], value_set=increment[row_identifier]))
        table = pa.concat_tables([table.filter(keep), increment.cast(table.schema)])
    return table


def prune(registry: Registry, dataset_id: str, *, retention_days: int, now: dt.datetime) -> int:
    gone = expired(registry.versions(dataset_id), retention_days=retention_days, now=now)
    for version in gone:
        if version.archive_path:  # expired() names archived versions only
            storage.delete(storage.resolve(version.archive_path))
        registry.mark_pruned(dataset_id, version.run_id)
    if gone:
        log.info("Removed %d archived version(s) of %s older than %d days", len(gone), dataset_id, retention_days)
    return len(gone)


def _archived(version: PublishedVersion) -> str:
    """A local file of an archived version (read whole by pyarrow: a restore builds the table)."""
    assert version.archive_path is not None  # restore() looks at archived versions only
    try:
        path = storage.local_copy(version.archive_path)
    except storage.StoredFileMissing:
        path = None
    if path is None or not path.is_file():
        raise LookupError(f"the archive of run {version.run_id!r} is missing from the store: {version.archive_path}")
    return str(path)
