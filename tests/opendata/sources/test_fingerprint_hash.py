"""Row hashes computed from the Arrow columns are, bit for bit, the hash's definition
(``pd.util.hash_pandas_object`` of the batch as pandas, without the index), and a text row
identifier's key is what ``id_keys`` gives: fingerprints stored by earlier runs stay valid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from opendata.sources.fingerprint import id_keys, row_fingerprint, row_fingerprint_and_hashes, row_hashes

WORDS = np.array(["", "a", "é", "😀x", "P0001", "zz", " a ", "nan", "None"], dtype=object)


def random_batch(rows: int, null_share: float, seed: int) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)

    def mask():
        return rng.random(rows) < null_share

    return pa.RecordBatch.from_pydict({
        "few": pa.array(rng.choice(WORDS, rows), mask=mask(), type=pa.string()),
        "id": pa.array([f"id{i}-{rng.integers(1e9)}" for i in range(rows)], mask=mask(), type=pa.string()),
        "f": pa.array(rng.choice([0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, -2.25e300, 5e-324], rows), mask=mask(),
                      type=pa.float64()),
        "b": pa.array(rng.random(rows) < 0.5, mask=mask(), type=pa.bool_()),
        "ts": pa.array(rng.integers(-2**62, 2**62, rows), mask=mask(), type=pa.int64()).view(pa.timestamp("ms")),
        "tz": pa.array(rng.integers(-2**50, 2**50, rows), mask=mask(),
                       type=pa.int64()).view(pa.timestamp("ms", tz="UTC")),
        "i": pa.array(rng.integers(-2**62, 2**62, rows), mask=mask(), type=pa.int64()),
        "large": pa.array(rng.choice(WORDS, rows), mask=mask(), type=pa.large_string()),
    })


@pytest.mark.parametrize("rows", [0, 1, 7, 2_000])
@pytest.mark.parametrize("null_share", [0.0, 0.3, 1.0])
def test_row_hashes_are_pandas_hashes(rows, null_share):
    batch = random_batch(rows, null_share, seed=rows)
    expected = pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy()
    assert np.array_equal(row_hashes(batch), expected)
    fingerprint = row_fingerprint(batch, "id")
    assert np.array_equal(fingerprint["hash"].to_numpy(), expected)
    assert np.array_equal(fingerprint["key"].to_numpy(), id_keys(batch.column(1)))
    table, hashes = row_fingerprint_and_hashes(batch, "id")
    assert table.equals(fingerprint) and np.array_equal(hashes, expected)
    assert row_fingerprint_and_hashes(batch, None)[0] is None


def test_a_number_identifier_is_keyed_by_its_text():
    batch = pa.RecordBatch.from_pydict({"id": pa.array([1.0, 2.5, None]), "v": pa.array(["a", "b", "c"])})
    fingerprint = row_fingerprint(batch, "id")
    assert fingerprint["id"].to_pylist() == ["1", "2.5", None]
    assert np.array_equal(fingerprint["key"].to_numpy(), id_keys(["1", "2.5", None]))


def test_known_hashes_do_not_change():
    # Computed by the code before issue 14 (hash_pandas_object of the staged batch).
    batch = pa.RecordBatch.from_pydict({"id": pa.array(["P1", None]), "n": pa.array([1.5, None]),
                                        "b": pa.array([True, False]),
                                        "t": pa.array([0, None], type=pa.int64()).view(pa.timestamp("ms"))})
    assert row_hashes(batch).tolist() == [14089227953726098317, 10380286866485306907]
