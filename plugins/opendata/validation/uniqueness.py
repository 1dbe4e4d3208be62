"""Uniqueness of a column across every chunk of the extract.

pandera checks uniqueness within one DataFrame, but the extract is read chunk by chunk, and a
duplicate may sit in chunk 1 and chunk 40. Keeping every value seen would make memory grow
with the values' size; this keeps one 64-bit hash per row instead (8 bytes a row: 8 MB for a
million rows, whatever the identifiers look like). Hashes that occur twice are only candidates
(two different values can share a hash); a second pass over the column, which keeps only the
values whose hash is a candidate, confirms real duplicates and finds sample rows.
"""

from __future__ import annotations

from collections import Counter
from typing import SupportsInt, cast

import numpy as np
import pandas as pd

from opendata.validation.findings import SampleRows


def _hashes(values: pd.Series) -> np.ndarray:
    return pd.util.hash_pandas_object(values, index=False).to_numpy(dtype=np.uint64)


class UniquenessTracker:
    """Feed every chunk's column to ``add``; then, if ``candidates()`` is not empty, feed the
    column again to ``confirm`` and call ``finish``: ``duplicate_rows`` and ``samples``."""

    # Candidate rows remembered in the second pass to draw samples from; more than the samples
    # shown, in case the first candidates are mere hash collisions.
    _KEEP = 50

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._candidates: np.ndarray | None = None
        self._counts: Counter = Counter()
        self._first_rows: list[tuple[str, int, str | None]] = []
        self.duplicate_rows = 0
        self.samples = SampleRows()

    def add(self, values: pd.Series) -> None:
        """First pass: hash the chunk's non-empty values."""
        present = values.dropna()
        if len(present):
            self._parts.append(_hashes(present))

    def candidates(self) -> np.ndarray:
        """Hashes seen more than once (sorted); ends the first pass and frees its memory."""
        if self._candidates is None:
            hashes = np.concatenate(self._parts) if self._parts else np.empty(0, dtype=np.uint64)
            self._parts = []
            hashes.sort()
            self._candidates = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
        return self._candidates

    def confirm(self, values: pd.Series, row_ids: pd.Series) -> None:
        """Second pass: count the exact values behind the candidate hashes.

        ``values`` and ``row_ids`` share the chunk's index, the rows' positions in the extract.
        """
        candidates = self.candidates()
        present = values.dropna()
        if not len(candidates) or not len(present):
            return
        hit = present[np.isin(_hashes(present), candidates)].astype(str)
        self._counts.update(hit.tolist())
        for position, value in hit.head(self._KEEP - len(self._first_rows)).items():
            row_id = row_ids.get(position)
            # The index holds row positions (integers); pandas-stubs types any label as Hashable.
            self._first_rows.append((value, int(cast(SupportsInt, position)),
                                     None if pd.isna(row_id) else str(row_id)))

    def finish(self) -> None:
        repeated = {value for value, n in self._counts.items() if n > 1}
        self.duplicate_rows = sum(self._counts[value] for value in repeated)
        rows = [(position, row_id) for value, position, row_id in self._first_rows if value in repeated]
        self.samples.add([p for p, _ in rows], [r for _, r in rows])
        self._counts, self._first_rows = Counter(), []
