"""The small-cell check: every combination of the quasi-identifier columns occurs in at least
``k`` rows (k-anonymity over the declared columns), so no row stands out as one person.

Counted chunk by chunk on a 64-bit hash of each row's combination: memory grows with the
number of distinct combinations, never with rows, and the values themselves are not kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from opendata.spec.privacy import QuasiIdentifiers
from opendata.validation.findings import Area, CheckResult, result


class SmallCellTally:
    def __init__(self, quasi_identifiers: QuasiIdentifiers):
        self.columns = list(quasi_identifiers.columns)
        self.k = quasi_identifiers.k
        self._counts: pd.Series | None = None
        self.rows = 0

    def add(self, frame: pd.DataFrame) -> None:
        # An empty value is a value like any other here: null ZIP codes form their own cell.
        keys = pd.util.hash_pandas_object(frame[self.columns], index=False)
        counts = keys.value_counts(sort=False)
        self._counts = counts if self._counts is None else self._counts.add(counts, fill_value=0)
        self.rows += len(frame)

    def result(self) -> CheckResult:
        counts = self._counts if self._counts is not None else pd.Series(dtype=np.int64)
        small = counts[counts < self.k]
        rule = f"every combination of {', '.join(self.columns)} occurs in at least {self.k} rows"
        note = None
        if len(small):
            note = (f"{len(small):,} of {len(counts):,} combinations occur in fewer than {self.k} rows "
                    f"(smallest: {int(small.min())})")
        return result(Area.PRIVACY, "small_cells", ", ".join(self.columns), "error", int(small.sum()), self.rows,
                      rule, kind="k_anonymity", note=note)
