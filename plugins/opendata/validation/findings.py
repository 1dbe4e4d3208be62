"""What a check found, in a form safe to log, to store in XCom and to show a reviewer.

A result carries counts and row identifiers, never a cell value: the values a check rejects
are exactly the ones that may be personal data (a phone number typed into a ZIP code column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Severity = Literal["error", "warning"]

# Sample rows kept per check: enough to find the problem in the source, small enough for XCom.
MAX_SAMPLES = 5


class Area(StrEnum):
    SCHEMA = "schema"
    QUALITY = "quality"
    PRIVACY = "privacy"
    DOCUMENTATION = "documentation"


class Status(StrEnum):
    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    # Not applicable to this run (e.g. no previous publication to compare the row count with).
    SKIPPED = "skipped"


@dataclass
class SampleRows:
    """The first few failing rows of a check, as positions in the extract and row identifiers.

    Both are kept while scanning; the report shows identifiers unless the identifier column
    itself turns out to hold personal data, and then only positions.
    """

    positions: list[int] = field(default_factory=list)
    row_ids: list[str | None] = field(default_factory=list)

    def add(self, positions: list[int], row_ids: list[str | None]) -> None:
        room = MAX_SAMPLES - len(self.positions)
        if room > 0:
            self.positions.extend(positions[:room])
            self.row_ids.extend(row_ids[:room])

    def shown(self, reveal_ids: bool) -> tuple[str, ...]:
        if reveal_ids:
            return tuple(str(r) if r is not None else f"row {p}" for p, r in zip(self.positions, self.row_ids,
                                                                                  strict=True))
        return tuple(f"row {p}" for p in self.positions)


@dataclass(frozen=True)
class CheckResult:
    """One check, run over the whole extract."""

    area: Area
    check: str
    column: str | None
    severity: Severity
    # Rows (or cells, or items) that failed; 0 when the check passed.
    failing: int
    # What the check looked at (rows, non-empty cells, documented columns), when it counts.
    checked: int | None
    # The rule in words, from the dataset file (never from the data).
    rule: str
    passed: bool
    samples: tuple[str, ...] = ()
    # A personal-data kind (privacy findings) and extra words for the reviewer.
    kind: str | None = None
    note: str | None = None
    skipped: bool = False

    @property
    def status(self) -> Status:
        if self.skipped:
            return Status.SKIPPED
        if self.passed:
            return Status.PASSED
        return Status.WARNING if self.severity == "warning" else Status.FAILED

    @property
    def label(self) -> str:
        """``range(valuation)``, ``pii:email(notes)``, ``row_count``."""
        name = f"{self.check}:{self.kind}" if self.kind else self.check
        return f"{name}({self.column})" if self.column else name

    def as_dict(self) -> dict:
        return {
            "area": self.area.value,
            "check": self.check,
            "column": self.column,
            "kind": self.kind,
            "severity": self.severity,
            "status": self.status.value,
            "failing": self.failing,
            "checked": self.checked,
            "rule": self.rule,
            "sample_row_ids": list(self.samples),
            "note": self.note,
        }


def result(area: Area, check: str, column: str | None, severity: Severity, failing: int, checked: int | None,
           rule: str, *, samples: tuple[str, ...] = (), kind: str | None = None, note: str | None = None,
           passed: bool | None = None) -> CheckResult:
    """A result that passed when nothing failed, unless told otherwise (shares, thresholds)."""
    return CheckResult(area, check, column, severity, failing, checked, rule,
                       passed=(failing == 0) if passed is None else passed,
                       samples=samples, kind=kind, note=note)


def skipped(area: Area, check: str, column: str | None, severity: Severity, rule: str, note: str) -> CheckResult:
    return CheckResult(area, check, column, severity, 0, None, rule, passed=True, note=note, skipped=True)
