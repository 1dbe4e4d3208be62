"""Validate a staged extract: every gate, one pass over the file, one report.

The only module here that does I/O: it reads the staged Parquet file in record batches
(memory bounded by one batch whatever the row count), feeds each batch to the pure checks,
writes the report and logs what failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from opendata.sources.staged import staged_batches
from opendata.spec.dataset import DatasetSpec
from opendata.validation.cells import CellSizeTally, ragged_result
from opendata.validation.documentation import documentation_results
from opendata.validation.findings import Area, CheckResult, Status
from opendata.validation.privacy import PrivacyScan, classification_results
from opendata.validation.quality import QualityTally, chunk_failures, plan_quality, table_results
from opendata.validation.report import write_reports
from opendata.validation.schema import schema_result, type_results
from opendata.validation.small_cells import SmallCellTally
from opendata.validation.uniqueness import UniquenessTracker

log = logging.getLogger(__name__)

# Rows per record batch read from the staged file: bounds memory (a few tens of MB for 20
# columns) while keeping pandera's and Arrow's per-call overhead small.
BATCH_ROWS = 50_000
# A progress line in the task log every this many rows.
PROGRESS_ROWS = 1_000_000


@dataclass(frozen=True)
class StagedFile:
    """The parts of ``StagedExtract`` validation uses, from the object or its XCom dict."""

    dataset_id: str
    #: Where the file is kept: a local path, or the URL of an object in a remote store.
    path: str
    rows: int
    checksum: str
    coercion: dict
    privacy: dict
    # Rows the extract left out (count, sample lines); None when the extract did not count them.
    ragged_rows: dict | None = None

    @classmethod
    def of(cls, staged: Any) -> StagedFile:
        data = staged if isinstance(staged, dict) else staged.as_dict()
        return cls(data.get("dataset_id", ""), str(data["path"]), int(data["rows"]), data.get("checksum", ""),
                   data.get("coercion") or {}, data.get("privacy") or {}, data.get("ragged_rows"))


@dataclass(frozen=True)
class ValidationResult:
    dataset_id: str
    rows: int
    first_publication: bool
    results: tuple[CheckResult, ...]
    report_markdown: Path
    report_html: Path
    seconds: float

    @property
    def counted(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is not Status.SKIPPED]

    @property
    def findings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status in (Status.WARNING, Status.FAILED)]

    @property
    def errors(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAILED]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.WARNING]

    @property
    def privacy_findings(self) -> list[CheckResult]:
        return [r for r in self.findings if r.area is Area.PRIVACY]

    @property
    def passed(self) -> bool:
        return not self.errors

    @property
    def summary(self) -> str:
        counted = self.counted
        passed = sum(1 for r in counted if r.status is Status.PASSED)
        text = (f"{len(counted)} checks: {passed} passed, {_plural(len(self.warnings), 'warning')}, "
                f"{_plural(len(self.errors), 'error')}")
        privacy = self.privacy_findings
        if not privacy:
            return text + "; privacy: no findings"
        kinds = sorted({r.kind or r.check for r in privacy})
        return text + f"; privacy: {_plural(len(privacy), 'finding')} ({', '.join(kinds)})"

    def as_dict(self) -> dict:
        """JSON-able, for XCom: counts and findings (never cell values)."""
        counted = self.counted
        return {
            "dataset_id": self.dataset_id,
            "passed": self.passed,
            "summary": self.summary,
            "rows": self.rows,
            "first_publication": self.first_publication,
            "counts": {
                "checks": len(counted),
                "passed": sum(1 for r in counted if r.status is Status.PASSED),
                "warnings": len(self.warnings),
                "errors": len(self.errors),
                "skipped": len(self.results) - len(counted),
                "privacy_findings": len(self.privacy_findings),
            },
            "findings": [r.as_dict() for r in self.findings],
            "report_markdown": str(self.report_markdown),
            "report_html": str(self.report_html),
            "seconds": self.seconds,
        }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def validate_staged(spec: DatasetSpec, staged: Any, *, previous_rows: int | None, first_publication: bool,
                    report_dir: Path, now: dt.datetime | None = None, batch_rows: int = BATCH_ROWS,
                    incremental: bool = False, read_from: Path | None = None) -> ValidationResult:
    """Run every gate on a staged extract; write the Data Submission Checklist report.

    ``staged`` is a ``StagedExtract`` or its ``as_dict()``; ``previous_rows`` the row count of
    the last successful publication (None if none); metadata gaps are errors on a first
    publication and warnings after it; ``incremental`` extracts skip the table's row-count
    rules; ``read_from``: a local copy of the staged file to read (its ``path`` may name a
    remote store's object; the report names that). Never raises for bad data: ``result.passed``
    says.
    """
    started = time.monotonic()
    now = now or dt.datetime.now(dt.UTC)
    info = StagedFile.of(staged)
    parquet = pq.ParquetFile(read_from or info.path)
    rows = parquet.metadata.num_rows
    results: list[CheckResult] = [schema_result(spec, parquet.schema_arrow, rows, info.rows)]
    if info.dataset_id and info.dataset_id != spec.id:
        results.append(CheckResult(Area.SCHEMA, "dataset", None, "error", 1, None,
                                   "the staged file is this dataset's", passed=False,
                                   note=f"staged for {info.dataset_id!r}"))
    ragged = ragged_result(spec, info.ragged_rows, rows)
    if ragged is not None:
        results.append(ragged)

    privacy = PrivacyScan(spec)
    if results[0].passed:
        results += _scan(spec, parquet, rows, previous_rows, now, batch_rows, info, privacy, incremental)
    else:
        # Another dictionary than the file's: row checks would only repeat that, wrongly.
        log.error("Staged file does not match the data dictionary (%s); row checks skipped", results[0].note)
        results += privacy.results(rows, values_scanned=False)
    results += classification_results(spec)
    results += documentation_results(spec, first_publication)

    seconds = round(time.monotonic() - started, 3)
    markdown, html = write_reports(spec, info_for_report(info, rows), results, report_dir, first_publication)
    outcome = ValidationResult(spec.id, rows, first_publication, tuple(results), markdown, html, seconds)
    _log(outcome)
    return outcome


def info_for_report(info: StagedFile, rows: int) -> dict:
    return {"path": str(info.path), "rows": rows, "checksum": info.checksum, "privacy": info.privacy}


def _batches(parquet: pq.ParquetFile, batch_rows: int, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    return staged_batches(parquet, batch_rows, columns)


def _scan(spec: DatasetSpec, parquet: pq.ParquetFile, rows: int, previous_rows: int | None, now: dt.datetime,
          batch_rows: int, info: StagedFile, privacy: PrivacyScan, incremental: bool) -> list[CheckResult]:
    plan = plan_quality(spec, now)
    tally = QualityTally(plan)
    trackers = {column: UniquenessTracker() for column in plan.unique_columns}
    cells = SmallCellTally(spec.privacy.quasi_identifiers) if spec.privacy.quasi_identifiers else None
    sizes = CellSizeTally(spec)
    row_id = spec.publishing.row_identifier

    position = 0
    for batch in _batches(parquet, batch_rows):
        frame = batch.to_pandas()
        # Index = position in the extract, so a failure points at the same row in every report.
        frame.index = pd.RangeIndex(position, position + len(frame))
        row_ids = frame[row_id] if row_id else pd.Series(pd.NA, index=frame.index)
        tally.add(chunk_failures(plan, frame), row_ids)
        for column, tracker in trackers.items():
            tracker.add(frame[column])
        privacy.add(batch)
        sizes.add(batch, row_ids)
        if cells is not None:
            cells.add(frame)
        if (position + len(frame)) // PROGRESS_ROWS > position // PROGRESS_ROWS:
            log.info("Validated %s of %s rows", f"{position + len(frame):,}", f"{rows:,}")
        position += len(frame)
        del frame, batch

    needs_second_pass = [column for column, tracker in trackers.items() if len(tracker.candidates())]
    if needs_second_pass:
        wanted = sorted(set(needs_second_pass) | ({row_id} if row_id else set()))
        position = 0
        for batch in _batches(parquet, batch_rows, wanted):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(position, position + len(frame))
            row_ids = frame[row_id] if row_id else pd.Series(pd.NA, index=frame.index)
            for column in needs_second_pass:
                trackers[column].confirm(frame[column], row_ids)
            position += len(frame)
    for tracker in trackers.values():
        tracker.finish()

    reveal_ids = row_id is not None and privacy.row_ids_shareable(row_id)
    unique_counts = {column: (t.duplicate_rows, t.samples) for column, t in trackers.items()}
    out = type_results(spec, info.coercion, rows, reveal_ids)
    out += tally.results(rows, reveal_ids, unique_counts)
    out += sizes.results(rows, reveal_ids)
    out += table_results(spec, rows, previous_rows, incremental)
    out += privacy.results(rows)
    if cells is not None:
        out.append(cells.result())
    return out


def _log(outcome: ValidationResult) -> None:
    log.info("Validation of %s (%s rows): %s", outcome.dataset_id, f"{outcome.rows:,}", outcome.summary)
    for r in outcome.findings:
        counted = f"{r.failing:,} of {r.checked:,}" if r.checked is not None else f"{r.failing:,}"
        samples = f"; sample rows: {', '.join(r.samples)}" if r.samples else ""
        note = f"; {r.note}" if r.note else ""
        log.log(logging.ERROR if r.status is Status.FAILED else logging.WARNING, "%s %s: %s failing (%s)%s%s",
                r.status.value.upper(), r.label, counted, r.rule, note, samples)
    log.info("Data Submission Checklist report: %s (HTML: %s)", outcome.report_markdown, outcome.report_html)
