"""Uniqueness across chunks from hashes, with exact confirmation (hash collisions are not duplicates)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opendata.validation import uniqueness
from opendata.validation.uniqueness import UniquenessTracker


def feed(tracker: UniquenessTracker, chunks: list[list[str | None]]) -> None:
    frames = []
    position = 0
    for chunk in chunks:
        series = pd.Series(chunk, index=pd.RangeIndex(position, position + len(chunk)), dtype="str")
        frames.append(series)
        tracker.add(series)
        position += len(chunk)
    if len(tracker.candidates()):
        for series in frames:
            tracker.confirm(series, series)
    tracker.finish()


def test_duplicates_in_different_chunks():
    tracker = UniquenessTracker()
    feed(tracker, [["a", "b", None], ["c", "a", None], ["d", "a"]])
    assert tracker.duplicate_rows == 3
    assert tracker.samples.positions == [0, 4, 7]
    assert tracker.samples.row_ids == ["a", "a", "a"]


def test_no_duplicates_needs_no_second_pass():
    tracker = UniquenessTracker()
    feed(tracker, [["a", "b"], ["c", None, None]])
    assert len(tracker.candidates()) == 0
    assert tracker.duplicate_rows == 0


def test_a_hash_collision_is_not_a_duplicate(monkeypatch):
    # Every value hashes the same: all are candidates, none is a real duplicate but "x".
    monkeypatch.setattr(uniqueness, "_hashes", lambda values: np.zeros(len(values), dtype=np.uint64))
    tracker = UniquenessTracker()
    feed(tracker, [["a", "b", "x"], ["c", "x"]])
    assert tracker.duplicate_rows == 2
    assert tracker.samples.positions == [2, 4]
