"""A run's files in the store: where they are kept, how a task writes them there and gets them
back as local files.

Everything one task of a dataset run hands to a later task (or a later run) is kept in the
store (:mod:`opendata.storage`): the staged extract with its fingerprint sidecar, the checklist
report, the fingerprint of the last load the portal confirmed. Two tasks of one run may run on
two machines days apart (Step 1 waits for people), so nothing is read from where another worker
wrote it on its own disk. With the local default the files are used in place; with a remote
store each task works on copies in its own scratch folder, downloaded at most once per task.

Names inside the store::

    staging/<dataset id>/<run id, made safe>/extract.parquet
    staging/<dataset id>/<run id, made safe>/extract.fingerprint.arrow
    staging/<dataset id>/<run id, made safe>/report/data-submission-checklist.{md,html}
    fingerprints/<dataset id>.arrow
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from opendata import storage
from opendata.sources.fingerprint import sidecar_path

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from opendata.lifecycle.sync import SyncResult
    from opendata.sources.stage import StagedExtract
    from opendata.spec.dataset import DatasetSpec

log = logging.getLogger(__name__)

STAGED_NAME = "extract.parquet"
REPORT_FOLDER = "report"


def run_folder(dataset_id: str, run_id: str) -> ObjectStoragePath:
    """The run's folder under the staging root (the run id made safe for a name)."""
    return storage.join(storage.staging_root(), dataset_id, storage.safe_part(run_id))


def staging_location(dataset_id: str, run_id: str) -> ObjectStoragePath:
    """Where a run's extract is staged."""
    return storage.join(run_folder(dataset_id, run_id), STAGED_NAME)


def report_location(dataset_id: str, run_id: str) -> ObjectStoragePath:
    """The folder of a run's checklist report (beside its staged extract)."""
    return storage.join(run_folder(dataset_id, run_id), REPORT_FOLDER)


def fingerprint_location(dataset_id: str) -> ObjectStoragePath:
    """The fingerprint of the dataset's last load the portal confirmed."""
    return storage.join(storage.fingerprints_root(), f"{dataset_id}.arrow")


def _sidecar_of(staged: ObjectStoragePath) -> ObjectStoragePath:
    return storage.join(staged.parent, sidecar_path(staged.name).name)


def stage_extract(spec: DatasetSpec, run_id: str, *, since: str | None = None) -> StagedExtract:
    """Extract the source and keep the staged file (and its fingerprint sidecar) in the store;
    the result names the stored location. Staged locally first (in place for a local store),
    so the extract is never held in memory."""
    from opendata.sources.stage import extract_to_stage

    target = staging_location(spec.id, run_id)
    written = storage.work_file(target)
    staged = extract_to_stage(spec, written, since=since)
    storage.store(written, target)
    sidecar = sidecar_path(written)
    if sidecar.is_file():
        storage.store(sidecar, _sidecar_of(target))
    return dataclasses.replace(staged, path=storage.recorded(target))


def local_staged(staged: StagedExtract, *, with_fingerprint: bool = True) -> Path:
    """The staged extract as a local file, with its fingerprint sidecar beside it when it has one
    and ``with_fingerprint`` (downloaded into the task's scratch folder from a remote store, once
    per task)."""
    where = storage.resolve(staged.path)
    local = storage.local_copy(where)
    if with_fingerprint and not storage.is_local(where):
        try:
            storage.local_copy(_sidecar_of(where))
        except storage.StoredFileMissing:
            pass  # a dataset without a row identifier has none; the load computes what it needs
    return local


def local_fingerprint(recorded: str | None) -> Path | None:
    """The confirmed fingerprint the registry names, as a local file to memory-map; None when
    there is none (or the stored one is gone: the load then compares with the portal's rows)."""
    if not recorded:
        return None
    try:
        return storage.local_copy(recorded)
    except storage.StoredFileMissing:
        log.warning("The fingerprint of the last confirmed load, %s, is gone; comparing with the portal's rows",
                    recorded)
        return None


def fingerprint_work_file(dataset_id: str) -> Path:
    """Where a load writes the new confirmed fingerprint (then :func:`keep_fingerprint`)."""
    return storage.work_file(fingerprint_location(dataset_id))


def keep_fingerprint(dataset_id: str, result: SyncResult) -> SyncResult:
    """After the portal confirmed a load: its fingerprint kept in the store, and the result
    naming the stored location (what the registry records)."""
    if result.fingerprint_path is None:
        return result
    where = fingerprint_location(dataset_id)
    storage.store(Path(result.fingerprint_path), where)
    return dataclasses.replace(result, fingerprint_path=storage.recorded(where))


def keep_reports(dataset_id: str, run_id: str, written: list[Path]) -> list[ObjectStoragePath]:
    """The checklist report files written in :func:`report_work_folder`, kept in the store."""
    folder = report_location(dataset_id, run_id)
    kept = []
    for path in written:
        where = storage.join(folder, path.name)
        storage.store(path, where)
        kept.append(where)
    return kept


def report_work_folder(dataset_id: str, run_id: str) -> Path:
    """Where the validate task writes the checklist report before :func:`keep_reports`."""
    folder = report_location(dataset_id, run_id)
    if storage.is_local(folder):
        return storage.local_path(folder)
    return storage.work_file(storage.join(folder, "_")).parent
