"""A run's files in the store (``lifecycle.staging``): where they are kept, and the local files
a task gets for them, with the local default (in place) and on S3 (moto's server)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opendata import storage
from opendata.lifecycle.staging import (
    fingerprint_work_file,
    keep_fingerprint,
    keep_reports,
    local_fingerprint,
    local_staged,
    report_work_folder,
    staging_location,
)
from opendata.lifecycle.sync import SyncMode, SyncResult
from opendata.sources.fingerprint import sidecar_path
from opendata.sources.stage import StagedExtract

RUN = "scheduled__2026-11-26T00:00:00+00:00"


def _result(fingerprint: Path | None) -> SyncResult:
    return SyncResult(SyncMode.UPSERT, 3, 3, 0, 3, 0, 0, 0, 1, str(fingerprint) if fingerprint else None, 3)


def _staged_at(where_text: str) -> StagedExtract:
    return StagedExtract("permits", where_text, 3, "abc", 10, 0.1, [], {})


def test_the_local_default_uses_every_file_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("OPENDATA_STORAGE_URL", raising=False)
    monkeypatch.setenv("OPENDATA_SCRATCH_DIR", str(tmp_path / "scratch"))
    with storage.scratch():
        target = staging_location("permits", RUN)
        run_folder = tmp_path / "state/staging/permits/scheduled__2026-11-26T00_00_00_00_00"
        assert target.path == str(run_folder / "extract.parquet")
        assert local_staged(_staged_at(storage.recorded(target))) == Path(target.path)
        written = fingerprint_work_file("permits")
        assert written == tmp_path / "state/fingerprints/permits.arrow"
        written.parent.mkdir(parents=True)
        written.write_bytes(b"prints")
        assert keep_fingerprint("permits", _result(written)).fingerprint_path == str(written)
        assert report_work_folder("permits", RUN) == Path(target.path).parent / "report"
    assert not (tmp_path / "scratch").exists() or list((tmp_path / "scratch").iterdir()) == []


def test_on_s3_a_task_works_on_scratch_copies_and_keeps_its_files_in_the_bucket(s3_store, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_SCRATCH_DIR", str(tmp_path / "scratch"))
    run_folder = "opendata/staging/permits/scheduled__2026-11-26T00_00_00_00_00"
    # What an extract task on another worker kept: the extract and its fingerprint sidecar.
    source = tmp_path / "elsewhere" / "extract.parquet"
    source.parent.mkdir()
    pq.write_table(pa.table({"id": ["a", "b", "c"]}), source)
    sidecar_path(source).write_bytes(b"sidecar")
    target = staging_location("permits", RUN)
    storage.upload(source, target)
    storage.upload(sidecar_path(source), storage.join(target.parent, "extract.fingerprint.arrow"))

    with storage.scratch() as scratch:
        local = local_staged(_staged_at(storage.recorded(target)))
        assert local.is_relative_to(scratch.folder) and pq.read_table(local).num_rows == 3
        assert sidecar_path(local).read_bytes() == b"sidecar"  # beside it, as the load expects
        # No confirmed fingerprint in the store yet (or it went): the load compares with the portal.
        assert local_fingerprint(f"s3://{s3_store.bucket}/opendata/fingerprints/permits.arrow") is None
        assert local_fingerprint(None) is None
        written = fingerprint_work_file("permits")
        assert written.is_relative_to(scratch.folder)
        written.write_bytes(b"confirmed")
        kept = keep_fingerprint("permits", _result(written))
        assert kept.fingerprint_path == f"s3://{s3_store.bucket}/opendata/fingerprints/permits.arrow"
        folder = report_work_folder("permits", RUN)
        assert folder.is_relative_to(scratch.folder)
        (folder / "data-submission-checklist.html").write_text("<!DOCTYPE html>")
        (kept_report,) = keep_reports("permits", RUN, [folder / "data-submission-checklist.html"])
        assert storage.recorded(kept_report) == f"s3://{s3_store.bucket}/{run_folder}/report/data-submission-checklist.html"
    assert not scratch.folder.exists()
    assert s3_store.get("opendata/fingerprints/permits.arrow") == b"confirmed"

    # The next run, on a worker that never saw these files, reads the confirmed fingerprint back.
    with storage.scratch():
        previous = local_fingerprint(kept.fingerprint_path)
        assert previous is not None and previous.read_bytes() == b"confirmed"
    with pytest.raises(RuntimeError, match="outside a scratch folder"):
        local_fingerprint(kept.fingerprint_path)
