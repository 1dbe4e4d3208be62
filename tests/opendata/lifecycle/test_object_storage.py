"""The publication lifecycle with the store on S3 (moto's server through Airflow's object
storage and an ``aws`` connection): real ``dag.test()`` runs against the portal emulator, where
nothing a later task or run reads is left on this machine's disk, and every task that needs a
file gets it from the bucket (as a task on another worker would)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from opendata import storage
from opendata.lifecycle.history import prune, restore
from opendata.registry import Stage
from opendata.samples.api_server import serve_in_thread
from tests.conftest import SAMPLE_SOURCES
from tests.opendata.lifecycle.test_publication_flow import DATASET, run_date, wait_until

SHARED_SUFFIXES = {".parquet", ".arrow", ".html", ".md", ".partial"}


def _shared_files(folder: Path) -> list[Path]:
    """Files of the kinds tasks share (extracts, fingerprints, reports) under ``folder``."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SHARED_SUFFIXES) \
        if folder.exists() else []


@pytest.mark.parametrize("portal_mode", ["strict"])  # the portal as recorded; one mode is enough here
def test_publication_then_refresh_with_every_shared_file_on_s3(world, s3_store, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("OPENDATA_SCRATCH_DIR", str(scratch))
    observed = {}

    def while_waiting(portal_id):
        observed["cdo_mail"] = wait_until(lambda: world.mail("Stage 1"))

    reviewer = world.review_when_pending(DATASET, "approved", before=while_waiting)
    first = world.dag(DATASET).test(logical_date=run_date(0))
    reviewer.join(5)
    assert reviewer.failures == []
    assert first.state == "success"

    # Nothing shared stayed on this machine: not in the state folder, not in the scratch folder.
    assert _shared_files(world.state) == [] and _shared_files(scratch) == []
    assert not scratch.exists() or list(scratch.iterdir()) == []
    run_folder = f"opendata/staging/{DATASET}/{storage.safe_part(first.run_id)}"
    keys = s3_store.keys("opendata/")
    assert {f"{run_folder}/extract.parquet", f"{run_folder}/extract.fingerprint.arrow",
            f"{run_folder}/report/data-submission-checklist.md",
            f"{run_folder}/report/data-submission-checklist.html",
            f"opendata/fingerprints/{DATASET}.arrow"} <= set(keys)
    (first_archive,) = [k for k in keys if k.startswith(f"opendata/archive/{DATASET}/")]

    # The registry names the stored objects; the CDO's e-mail carries the report read from S3.
    registry = world.registry()
    state = registry.get_state(DATASET)
    assert state.stage is Stage.STAGE_2 and state.published_rows == 3000
    assert state.fingerprint_path == f"s3://{s3_store.bucket}/opendata/fingerprints/{DATASET}.arrow"
    assert [v.archive_path for v in registry.versions(DATASET)] == [f"s3://{s3_store.bucket}/{first_archive}"]
    (cdo_mail,) = observed["cdo_mail"]
    (report,) = list(cdo_mail.iter_attachments())
    assert report.get_payload(decode=True) == s3_store.get(f"{run_folder}/report/data-submission-checklist.html")
    # The report names where the extract is kept, not a worker's scratch file.
    assert f"s3://{s3_store.bucket}/{run_folder}/extract.parquet" in report.get_content()

    # A refresh, as on another worker: its tasks start with empty scratch folders and must read
    # the confirmed fingerprint from S3. With it, only the changes go to the portal (without
    # it, every row would be sent again).
    records = json.loads((SAMPLE_SOURCES / "restaurant_inspections.json").read_text())["data"]
    for record in records[100:107]:
        record["score"] = 71
    records.pop(2000)
    records.append({**records[0], "inspection_id": "NEW00000000"})
    changed_source = tmp_path / "inspections.json"
    changed_source.write_text(json.dumps({"data": records}))
    server = serve_in_thread(changed_source)
    world.monkeypatch.setenv("AIRFLOW_CONN_INSPECTIONS_API", f"http://127.0.0.1:{server.server_address[1]}")
    world.emu.reset_stats()
    try:
        refresh = world.dag(DATASET).test(logical_date=run_date(7))
    finally:
        server.shutdown()
    assert refresh.state == "success"
    portal_id = world.portal_id(DATASET)
    counted = world.emu.stats()["rows"][portal_id]
    assert (counted["created"], counted["updated"], counted["deleted"]) == (1, 7, 1)
    assert _shared_files(world.state) == [] and (not scratch.exists() or list(scratch.iterdir()) == [])
    assert registry.get_state(DATASET).published_rows == 3000

    # The archive is restored from S3, version by version.
    versions = registry.versions(DATASET)
    assert len(versions) == 2 and all(v.archive_path.startswith("s3://") for v in versions)
    row_id = "inspection_id"
    assert restore(registry, DATASET, first.run_id, row_id).num_rows == 3000
    latest = restore(registry, DATASET, refresh.run_id, row_id)
    assert latest.num_rows == 3000 and "NEW00000000" in latest[row_id].to_pylist()
    assert not scratch.exists() or list(scratch.iterdir()) == []  # restore's downloads are gone too

    # Pruning removes the older version's object from the bucket, never the newest.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert prune(registry, DATASET, retention_days=1, now=later) == 1
    remaining = [k for k in s3_store.keys(f"opendata/archive/{DATASET}/")]
    assert first_archive not in remaining and len(remaining) == 1
    assert registry.versions(DATASET)[-1].archive_path == f"s3://{s3_store.bucket}/{remaining[0]}"

    # The Open Data view's latest report: the refresh run's, read from S3.
    from opendata.inventory.detail import latest_report

    found = latest_report(DATASET, [refresh.run_id, first.run_id])
    assert found is not None and found[1] == refresh.run_id
    assert storage.recorded(found[0]).startswith(f"s3://{s3_store.bucket}/opendata/staging/")
    assert storage.read_text(found[0]).startswith("<!DOCTYPE html>")
