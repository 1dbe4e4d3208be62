"""Fingerprints compared bucket by bucket on disk (memory flat to any table size) decide exactly
what the in-memory comparison decides; a refresh through them sends only the changes, deletes
what is gone and stops at the shrink guard."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from opendata.lifecycle import sync
from opendata.lifecycle.sync import ShrinkGuardError, diff_fingerprint_files, diff_fingerprints, sync_to_portal
from opendata.sources.fingerprint import FINGERPRINT_SCHEMA, fingerprint_table, sidecar_path, write_fingerprint
from opendata.sources.fingerprint_partition import bucket_count


def fingerprint(rows: list[tuple[str, int | None]]) -> pa.Table:
    return fingerprint_table(pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.uint64()))


def in_batches(table: pa.Table, path, rows: int = 97) -> None:
    """An Arrow IPC fingerprint written in many batches, as the extract writes its sidecar."""
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, FINGERPRINT_SCHEMA) as writer:
        for start in range(0, table.num_rows, rows):
            writer.write_table(table.slice(start, rows))


def random_pair(seed: int) -> tuple[pa.Table, pa.Table]:
    rng = random.Random(seed)
    previous = [(f"id{n}", rng.randrange(4)) for n in rng.sample(range(6000), 4000)]
    current = [(f"id{n}", rng.randrange(4)) for n in rng.sample(range(6000), 4000)]
    current += current[:3]                      # a repeated identifier: each row on its own
    previous[5] = (previous[5][0], None)        # a hash never known (from the portal): changed
    return fingerprint(current), fingerprint(previous)


def same_decision(current: pa.Table, previous: pa.Table, bucketed) -> None:
    expected = diff_fingerprints(current, previous)
    assert np.array_equal(bucketed.changed_rows, expected.changed_rows)
    assert sorted(bucketed.deleted_ids.to_pylist()) == sorted(expected.deleted_ids.to_pylist())
    assert (bucketed.changed, bucketed.deleted, bucketed.unchanged) == \
        (expected.changed, expected.deleted, expected.unchanged)
    assert expected.changed and expected.deleted and expected.unchanged      # the data shows all three


@pytest.mark.parametrize("seed", [1, 2])
def test_bucketed_diff_decides_what_the_in_memory_diff_decides(tmp_path, seed):
    current, previous = random_pair(seed)
    in_batches(current, tmp_path / "current.arrow")
    in_batches(previous, tmp_path / "previous.arrow")
    assert bucket_count(previous.num_rows, 300) == 14
    bucketed = diff_fingerprint_files(tmp_path / "current.arrow", tmp_path / "previous.arrow",
                                      current_rows=current.num_rows, previous_rows=previous.num_rows,
                                      workdir=tmp_path, bucket_rows=300)
    same_decision(current, previous, bucketed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.arrow", "previous.arrow"]   # buckets removed


def test_bucketed_diff_reads_the_parquet_fingerprints_of_earlier_versions(tmp_path):
    """Earlier versions kept (id, hash) in Parquet, without keys: the keys are derived, and the
    hash is the same row hash, so unchanged rows stay unchanged."""
    current, previous = random_pair(3)
    in_batches(current, tmp_path / "current.arrow")
    pq.write_table(previous.select(["id", "hash"]), tmp_path / "old.parquet", row_group_size=500)
    bucketed = diff_fingerprint_files(tmp_path / "current.arrow", tmp_path / "old.parquet",
                                      current_rows=current.num_rows, previous_rows=previous.num_rows,
                                      workdir=tmp_path, bucket_rows=300)
    same_decision(current, previous, bucketed)


def test_identifiers_with_the_same_key_are_told_apart_in_buckets(tmp_path):
    previous = pa.table([pa.array(["x", "a"]), pa.array([1, 1], pa.uint64()), pa.array([42, 7], pa.uint64())],
                        schema=FINGERPRINT_SCHEMA)
    current = pa.table([pa.array(["y", "a"]), pa.array([1, 1], pa.uint64()), pa.array([42, 7], pa.uint64())],
                       schema=FINGERPRINT_SCHEMA)
    write_fingerprint(current, tmp_path / "c.arrow")
    write_fingerprint(previous, tmp_path / "p.arrow")
    changes = diff_fingerprint_files(tmp_path / "c.arrow", tmp_path / "p.arrow", current_rows=2, previous_rows=2,
                                     workdir=tmp_path, bucket_rows=1)
    assert (changes.changed_rows.tolist(), changes.deleted_ids.to_pylist()) == ([True, False], ["x"])


# --- a refresh through the buckets, against the portal emulator ----------------------------------

@pytest.fixture
def portal(monkeypatch, tmp_path):
    from portal_emulator.testing import run_emulator

    with run_emulator(tmp_path / "portal") as emu:
        user, password = emu.auth("publisher")
        monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
            "conn_type": "socrata", "host": emu.url, "login": user, "password": password}))
        yield emu


def test_a_refresh_compared_in_buckets_sends_changes_deletes_the_gone_and_stops_at_the_shrink_guard(
        sample_connections, permits_sqlite, portal, monkeypatch, tmp_path):
    from opendata.portal import SocrataHook
    from opendata.portal.dataset_metadata import columns as portal_columns
    from opendata.sources.stage import extract_to_stage
    from tests.opendata.sources.test_extract import permits_with_source

    database = tmp_path / "permits.sqlite"
    shutil.copyfile(permits_sqlite.removeprefix("sqlite:///"), database)
    monkeypatch.setenv("AIRFLOW_CONN_PERMITS_DB", f"sqlite:///{database}")
    monkeypatch.setattr(sync, "BUCKET_ROWS", 300)      # 4,000 rows: 14 buckets
    spec = permits_with_source()
    hook = SocrataHook()
    portal_id = hook.create_dataset("bucketed", portal_columns(spec), row_identifier="permit_nbr")
    confirmed = tmp_path / "state" / "confirmed.arrow"

    def refresh(run: str, **kwargs):
        staged = extract_to_stage(spec, tmp_path / run / "extract.parquet")
        portal.reset_stats()
        result = sync_to_portal(hook, spec, portal_id, Path(staged.path),
                                fingerprint_path=confirmed,
                                previous_fingerprint=confirmed if confirmed.exists() else None,
                                published_rows=None, apply_shrink_guard=True, audience="private",
                                staged_checksum=staged.checksum)
        return staged, result, portal.stats()["rows"].get(portal_id, {})

    staged, first, _ = refresh("first")
    assert (first.mode, first.rows_changed, first.rows_published) == ("upsert", 4000, 4000)

    with sqlite3.connect(database) as conn:
        ids = [r[0] for r in conn.execute("SELECT permit_nbr FROM building_permits ORDER BY permit_nbr")]
        conn.executemany("UPDATE building_permits SET status = 'Changed' WHERE permit_nbr = ?", [(i,) for i in ids[:5]])
        conn.executemany("DELETE FROM building_permits WHERE permit_nbr = ?", [(i,) for i in ids[-3:]])
        conn.execute("INSERT INTO building_permits SELECT * FROM building_permits WHERE permit_nbr = ?", (ids[10],))
        conn.execute("UPDATE building_permits SET permit_nbr = 'NEW-1' WHERE rowid = (SELECT max(rowid) FROM "
                     "building_permits)")
    staged, second, counted = refresh("second")
    assert (second.mode, second.rows_changed, second.rows_deleted, second.rows_unchanged) == ("upsert", 6, 3, 3992)
    assert (counted["created"], counted["updated"], counted["deleted"]) == (1, 5, 3)
    assert ipc.open_file(str(confirmed)).read_all().equals(ipc.open_file(str(sidecar_path(staged.path))).read_all())
    assert second.rows_published == 3998

    compared = []
    compare = sync.diff_fingerprint_files
    monkeypatch.setattr(sync, "diff_fingerprint_files", lambda *a, **k: compared.append(1) or compare(*a, **k))
    _, third, counted = refresh("third")
    assert (third.mode, third.rows_changed, third.rows_deleted, counted.get("received", 0)) == ("none", 0, 0, 0)
    assert (third.rows_unchanged, third.rows_published, compared) == (3998, 3998, [])  # same bytes: not compared
    # The same rows in a fingerprint of other bytes (other batches) are compared, and found the same.
    in_batches(ipc.open_file(str(confirmed)).read_all(), confirmed, rows=50)
    _, again, counted = refresh("third-again")
    assert (again.mode, again.rows_changed, again.rows_deleted, counted.get("received", 0)) == ("none", 0, 0, 0)
    assert (again.rows_unchanged, compared) == (3998, [1])

    before = confirmed.read_bytes()
    with sqlite3.connect(database) as conn:
        conn.execute("DELETE FROM building_permits WHERE permit_nbr IN (SELECT permit_nbr FROM building_permits "
                     "ORDER BY permit_nbr LIMIT 2000)")
    with pytest.raises(ShrinkGuardError, match=r"delete 2,000 of 3,998 published rows"):
        refresh("fourth")
    assert portal.stats()["rows"].get(portal_id, {}).get("received", 0) == 0
    assert confirmed.read_bytes() == before                 # the confirmed fingerprint is left as it was


def test_same_file(tmp_path):
    a, b, c, d = (tmp_path / name for name in "abcd")
    a.write_bytes(b"x" * 3000)
    b.write_bytes(b"x" * 3000)
    c.write_bytes(b"x" * 2999 + b"y")
    d.write_bytes(b"x" * 2999)
    assert sync.same_file(a, b, block=1024)
    assert not sync.same_file(a, c, block=1024)
    assert not sync.same_file(a, d, block=1024)
