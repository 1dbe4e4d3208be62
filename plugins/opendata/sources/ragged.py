"""Rows whose number of fields is not the header's: found while reading, never staged.

A CSV row with a field too few or too many has its values under the wrong columns (an unquoted
comma in an address shifts every value after it by one), so padding it with empty cells or
cutting it short would publish values in columns that do not hold them, possibly a value from a
column the dataset never publishes. Such rows are left out of the extract and counted here
with their line numbers; validation turns the count into a finding (an error by default, so
nothing is published until the source is fixed). Line numbers only: never a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Lines kept as samples: enough to find the problem in the file, small enough for XCom.
MAX_SAMPLES = 5


@dataclass
class RaggedRows:
    count: int = 0
    # "line 7: 7 of 11 fields" (CSV) or "sheet row 7: a value in column 13 of 11" (Excel)
    samples: list[str] = field(default_factory=list)
    expected: int | None = None

    def add(self, where: str, found: int, expected: int, unit: str = "fields") -> None:
        self.count += 1
        self.expected = expected
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{where}: {found} of {expected} {unit}")

    def as_dict(self) -> dict:
        """JSON-able, for ``StagedExtract.ragged_rows`` (XCom)."""
        return {"count": self.count, "expected": self.expected, "samples": list(self.samples)}

    def __str__(self) -> str:
        more = f" and {self.count - len(self.samples):,} more" if self.count > len(self.samples) else ""
        return f"{self.count:,} row(s) with the wrong number of fields ({'; '.join(self.samples)}{more})"
