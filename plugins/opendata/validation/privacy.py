"""Privacy and security gates: the personal-data scan over a whole extract, and the
classification rule (level 2 needs an approval recorded in the file).

Every finding is an error: nothing with personal data leaves the department, not even to a
private portal dataset, unless the file allows the column with a written justification.
Findings carry the column, the kind and counts; sample rows only as positions or row
identifiers, and none at all when the personal data is in the row identifier itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from opendata.spec.dataset import DatasetSpec
from opendata.spec.privacy import PiiKind
from opendata.spec.vocab import SocrataType
from opendata.validation.findings import Area, CheckResult, SampleRows, result
from opendata.validation.pii import find_pii, kinds_by_name

# Column types whose values are scanned: free text is where personal data hides. Other types
# are numbers, dates and points; a date of birth or an id in them is found by the column name.
SCANNED_TYPES = {SocrataType.TEXT, SocrataType.URL}


@dataclass
class _ColumnScan:
    by_name: set[PiiKind]
    scan_values: bool
    non_null: int = 0
    matches: dict[PiiKind, int] = field(default_factory=dict)
    samples: dict[PiiKind, SampleRows] = field(default_factory=dict)


class PrivacyScan:
    """Feed every record batch to ``add``; ``results`` gives one result per column and kind."""

    def __init__(self, spec: DatasetSpec):
        self.spec = spec
        self.row_id = spec.publishing.row_identifier
        self.columns = {
            c.field_name: _ColumnScan(kinds_by_name(c.field_name, c.display_name, c.source_column),
                                      c.type in SCANNED_TYPES)
            for c in spec.columns
        }
        self._position = 0

    def add(self, batch: pa.RecordBatch) -> None:
        row_ids = batch.column(self.row_id) if self.row_id else None
        for name, scan in self.columns.items():
            values = batch.column(name)
            scan.non_null += len(values) - values.null_count
            if not scan.scan_values or values.null_count == len(values):
                continue
            for kind, positions in find_pii(values).items():
                scan.matches[kind] = scan.matches.get(kind, 0) + len(positions)
                first = positions[:5]
                ids = pc.take(row_ids, pa.array(first)).to_pylist() if row_ids is not None else [None] * len(first)
                scan.samples.setdefault(kind, SampleRows()).add(
                    [self._position + int(p) for p in first], [None if i is None else str(i) for i in ids])
        self._position += batch.num_rows

    def detected(self, column: str) -> set[PiiKind]:
        scan = self.columns[column]
        return scan.by_name | {kind for kind, n in scan.matches.items() if n}

    def row_ids_shareable(self, row_id: str) -> bool:
        """Row identifiers may appear in reports unless they are personal data themselves
        (even allowed personal data: a report travels further than the portal dataset)."""
        return row_id in self.columns and not self.detected(row_id)

    def results(self, rows: int, values_scanned: bool = True) -> list[CheckResult]:
        """One result per column and kind found (one "no personal data" result for a clean
        column); without ``values_scanned`` (the file could not be read), column names only."""
        privacy = self.spec.privacy
        reveal_ids = self.row_id is not None and self.row_ids_shareable(self.row_id)
        out = []
        for name, scan in self.columns.items():
            kinds = sorted(self.detected(name))
            if not kinds and not values_scanned:
                continue
            if not kinds:
                checked = scan.non_null if scan.scan_values else None
                basis = "values and column name" if scan.scan_values else "column name"
                out.append(result(Area.PRIVACY, "pii", name, "error", 0, checked,
                                  f"no personal data ({basis})"))
                continue
            allowed = privacy.allowed.get(name)
            for kind in kinds:
                matched = scan.matches.get(kind, 0)
                share = matched / scan.non_null if scan.non_null else 0.0
                by_name = kind in scan.by_name
                found = by_name or (matched > 0 and share >= privacy.min_match_share)
                basis = " and ".join(b for b in ["column name" if by_name else "",
                                                 f"{matched:,} cells ({share:.1%} of non-empty)" if matched else ""]
                                     if b)
                is_allowed = allowed is not None and (not allowed.kinds or kind in allowed.kinds)
                # Personal data in the identifier column: not even its positions are shown.
                samples = () if name == self.row_id else scan.samples.get(kind, SampleRows()).shown(reveal_ids)
                if is_allowed and allowed is not None:
                    note = f"found by {basis}; allowed: {allowed.justification}"
                elif found:
                    note = f"found by {basis}"
                else:
                    note = f"found by {basis}, below the file's min_match_share {privacy.min_match_share:.1%}"
                out.append(result(Area.PRIVACY, "pii", name, "error", matched if matched else scan.non_null,
                                  scan.non_null, f"no {kind.value.replace('_', ' ')}", kind=kind.value,
                                  samples=() if is_allowed else samples, note=note,
                                  passed=is_allowed or not found))
        return out


def classification_results(spec: DatasetSpec) -> list[CheckResult]:
    """Level 3 never publishes; level 2 only with an approval recorded in the file."""
    classification = spec.classification
    level = classification.level
    rule = "level 1 publishes; level 2 needs a recorded approval; level 3 never publishes"
    if level >= 3:
        return [result(Area.PRIVACY, "classification", None, "error", 1, None, rule, passed=False,
                       note="level 3 data is restricted by PII, HIPAA, state or federal law")]
    if level == 2 and classification.approval is None:
        return [result(Area.PRIVACY, "classification", None, "error", 1, None, rule, passed=False,
                       note="level 2 data without an approval: record it under classification.approval "
                            "(approved_by, approved_at)")]
    note = None
    if level == 2 and classification.approval is not None:
        note = (f"level 2, approved by {classification.approval.approved_by} "
                f"on {classification.approval.approved_at.isoformat()}")
    return [result(Area.PRIVACY, "classification", None, "error", 0, None, rule, note=note)]
