"""History: every version the portal confirmed is archived, so none is ever lost.

The staged extract (already a zstd-compressed Parquet file) is copied to the archive folder
(``OPENDATA_ARCHIVE_DIR``, by default ``<state>/archive``; any mounted or synced folder works)
with its checksum and run id recorded in the registry. Archives older than the dataset's
``history.retention_days`` are removed, never the newest full version and the increments on
top of it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from opendata import settings
from opendata.registry import PublishedVersion, Registry

if TYPE_CHECKING:
    import pyarrow as pa

    from opendata.sources.stage import StagedExtract

log = logging.getLogger(__name__)


def archive_dir() -> Path:
    return settings.archive_dir()


def archive_version(registry: Registry, dataset_id: str, *, run_id: str, staged: StagedExtract, kind: str,
                    retention_days: int, now: dt.datetime | None = None) -> Path:
    """Keep the staged extract of a version the portal just confirmed; prune old archives."""
    now = now or dt.datetime.now(dt.UTC)
    safe_run = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    target = archive_dir() / dataset_id / f"{now:%Y%m%dT%H%M%SZ}_{safe_run}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copyfile(staged.path, partial)
    os.replace(partial, target)
    registry.record_version(dataset_id, run_id=run_id, kind=kind, rows=staged.rows, checksum=staged.checksum,
                            archive_path=str(target))
    log.info("Archived %s rows (%s, checksum %s) to %s", f"{staged.rows:,}", kind, staged.checksum[:12], target)
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
    the full extract before it with every increment up to it applied by row identifier."""
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
    table = pq.read_table(versions[base].archive_path)
    for version in versions[base + 1:position + 1]:
        increment = pq.read_table(version.archive_path)
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
            Path(version.archive_path).unlink(missing_ok=True)
        registry.mark_pruned(dataset_id, version.run_id)
    if gone:
        log.info("Removed %d archived version(s) of %s older than %d days", len(gone), dataset_id, retention_days)
    return len(gone)
