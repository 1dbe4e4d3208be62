"""Change detection between a staged extract and the last confirmed load (pure parts)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from opendata.lifecycle.sync import ShrinkGuardError, check_shrink, diff_fingerprints
from opendata.sources.fingerprint import FINGERPRINT_SCHEMA, fingerprint_table, id_keys, row_fingerprint


def fingerprint(rows: dict[str, int]) -> pa.Table:
    return fingerprint_table(pa.array(list(rows), pa.string()), pa.array(list(rows.values()), pa.uint64()))


def test_diff_finds_new_changed_and_gone_rows():
    previous = fingerprint({"a": 1, "b": 2, "c": 3})
    current = fingerprint({"a": 1, "b": 20, "d": 4})
    changes = diff_fingerprints(current, previous)
    assert sorted(changes.changed_ids.to_pylist()) == ["b", "d"]
    assert changes.deleted_ids.to_pylist() == ["c"]
    assert changes.unchanged == 1


def test_no_change_sends_nothing():
    same = fingerprint({"a": 1, "b": 2})
    changes = diff_fingerprints(same, same)
    assert (changes.changed, changes.deleted, changes.unchanged) == (0, 0, 2)


def test_unknown_hashes_count_as_changed():
    previous = pa.table([pa.array(["a", "b"]), pa.nulls(2, pa.uint64()), pa.array(id_keys(["a", "b"]), pa.uint64())],
                        schema=FINGERPRINT_SCHEMA)
    changes = diff_fingerprints(fingerprint({"a": 1}), previous)
    assert changes.changed_ids.to_pylist() == ["a"]
    assert changes.deleted_ids.to_pylist() == ["b"]


def test_row_hash_changes_with_any_value_and_only_then():
    batch = pa.RecordBatch.from_pydict({"id": ["x", "y"], "n": [1.0, 2.0], "t": ["a", None]})
    again = pa.RecordBatch.from_pydict({"id": ["x", "y"], "n": [1.0, 2.5], "t": ["a", None]})
    first, second = row_fingerprint(batch, "id"), row_fingerprint(again, "id")
    assert first["hash"][0] == second["hash"][0]
    assert first["hash"][1] != second["hash"][1]


def test_shrink_guard():
    check_shrink(5, 100, 0.05, remaining=95)
    with pytest.raises(ShrinkGuardError, match=r"delete 6 of 100 published rows \(6.0%\), more than the 5%"):
        check_shrink(6, 100, 0.05, remaining=94)
    with pytest.raises(ShrinkGuardError, match="would empty the dataset"):
        check_shrink(100, 100, 1.0, remaining=0)
    check_shrink(0, 0, 0.05, remaining=10)   # nothing published yet: nothing to guard


def test_diff_agrees_with_a_plain_set_computation_on_random_data():
    import random

    rng = random.Random(7)
    previous = {f"id{n}": rng.randrange(5) for n in rng.sample(range(5000), 3000)}
    current = {f"id{n}": rng.randrange(5) for n in rng.sample(range(5000), 3000)}
    changes = diff_fingerprints(fingerprint(current), fingerprint(previous))
    expected_changed = {k for k, v in current.items() if previous.get(k) != v}
    assert set(changes.changed_ids.to_pylist()) == expected_changed
    assert set(changes.deleted_ids.to_pylist()) == set(previous) - set(current)
    assert changes.unchanged == len(current) - len(expected_changed)


def test_two_identifiers_with_the_same_key_are_still_told_apart():
    # Force a key collision: the diff must confirm identifiers, not trust the hash.
    table = fingerprint({"a": 1, "b": 2})
    collided = pa.table([table["id"], table["hash"], pa.array([42, 42], pa.uint64())], schema=FINGERPRINT_SCHEMA)
    previous = pa.table([pa.array(["a"]), pa.array([1], pa.uint64()), pa.array([42], pa.uint64())],
                        schema=FINGERPRINT_SCHEMA)
    changes = diff_fingerprints(collided, previous)
    assert "b" in changes.changed_ids.to_pylist()


def test_an_incremental_load_merges_into_the_published_fingerprint():
    from opendata.lifecycle.sync import merge_fingerprints

    merged = merge_fingerprints(fingerprint({"a": 1, "b": 2, "c": 3}), fingerprint({"b": 20, "d": 4}))
    assert dict(zip(merged["id"].to_pylist(), merged["hash"].to_pylist(), strict=True)) == {
        "a": 1, "c": 3, "b": 20, "d": 4}


def test_a_published_row_whose_key_collides_with_a_new_one_is_still_deleted():
    previous = pa.table([pa.array(["x"]), pa.array([1], pa.uint64()), pa.array([42], pa.uint64())],
                        schema=FINGERPRINT_SCHEMA)
    current = pa.table([pa.array(["y"]), pa.array([1], pa.uint64()), pa.array([42], pa.uint64())],
                       schema=FINGERPRINT_SCHEMA)
    changes = diff_fingerprints(current, previous)
    assert (changes.changed_ids.to_pylist(), changes.deleted_ids.to_pylist()) == (["y"], ["x"])


def test_fingerprint_files_round_trip_and_earlier_parquet_ones_still_read(tmp_path):
    import pyarrow.parquet as pq

    from opendata.sources.fingerprint import read_fingerprint, write_fingerprint

    table = fingerprint({"a": 1, "b": 2})
    write_fingerprint(table, tmp_path / "fp.arrow")
    assert read_fingerprint(tmp_path / "fp.arrow").equals(table)
    pq.write_table(table.select(["id", "hash"]), tmp_path / "old.parquet")
    old = read_fingerprint(tmp_path / "old.parquet")
    changes = diff_fingerprints(table, old)      # keys are derived when a file has none
    assert (changes.changed, changes.deleted, changes.unchanged) == (0, 0, 2)
