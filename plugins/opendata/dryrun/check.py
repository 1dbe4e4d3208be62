"""A dataset's extract and validation, run on the engineer's machine (``opendata check``).

The same two library calls the DAG's ``extract`` and ``validate`` tasks make, against the real
source, into a local folder: no portal, no scheduler, no store, no registry write. What the
engineer sees is what the Stage 1 reviewer would: the checklist summary, each finding, and the
HTML report.

The staged extract holds the source's rows, personal data included when the check finds some,
so it is removed once validated unless the engineer asks to keep it: a dry run must not leave a
copy of a department's data lying in a working folder.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from opendata.sources.fingerprint import sidecar_path
from opendata.sources.stage import StagedExtract, extract_to_stage
from opendata.spec.dataset import DatasetSpec
from opendata.validation.findings import CheckResult, Status
from opendata.validation.run import ValidationResult, validate_staged

log = logging.getLogger(__name__)

EXTRACT_FILE = "extract.parquet"
REPORT_FOLDER = "report"


@dataclass(frozen=True)
class DryRun:
    """What one dry run found, and where it left its report."""

    spec: DatasetSpec
    staged: StagedExtract
    result: ValidationResult
    first_publication: bool
    previous_rows: int | None
    extract_seconds: float
    #: The staged Parquet file when kept (``keep_extract``), else None (removed).
    extract_file: Path | None

    @property
    def passed(self) -> bool:
        return self.result.passed


def dry_run(spec: DatasetSpec, out_dir: Path, *, first_publication: bool = True,
            previous_rows: int | None = None, keep_extract: bool = False) -> DryRun:
    """Extract ``spec``'s source in full into ``out_dir`` and validate it there.

    ``first_publication``: metadata gaps are errors (a dataset not public yet) rather than
    warnings; ``previous_rows``: the published row count the row-count-change rule compares
    with (None: no rule to compare against). Source errors (a missing connection, an unreadable
    file, columns that do not match the dictionary) propagate as the extract raises them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged_file = out_dir / EXTRACT_FILE
    started = time.monotonic()
    try:
        staged = extract_to_stage(spec, staged_file, since=None)
        extract_seconds = time.monotonic() - started
        log.info("Extracted %s rows of %s in %.1f s", f"{staged.rows:,}", spec.id, extract_seconds)
        result = validate_staged(spec, staged, previous_rows=previous_rows, first_publication=first_publication,
                                 report_dir=out_dir / REPORT_FOLDER, read_from=staged_file)
    finally:
        if not keep_extract:
            for leftover in (staged_file, sidecar_path(staged_file)):
                leftover.unlink(missing_ok=True)
    return DryRun(spec, staged, result, first_publication, previous_rows, extract_seconds,
                  staged_file if keep_extract else None)


class ProgressOnly(logging.Filter):
    """For the command's log handler: the extract's and validation's progress lines (rows read,
    rows validated), not validation's own list of findings, which the command prints once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "opendata.validation.run":
            return record.getMessage().startswith("Validated ")
        return True


def finding_line(finding: CheckResult) -> str:
    """One finding as a line of the command's output: status, the check and its column, how many
    rows failed, the rule; sample row positions only (never a cell's value)."""
    counted = f"{finding.failing:,} of {finding.checked:,} rows" if finding.checked is not None \
        else f"{finding.failing:,}"
    note = f"; {finding.note}" if finding.note else ""
    samples = f"; rows {', '.join(finding.samples)}" if finding.samples else ""
    status = "ERROR" if finding.status is Status.FAILED else "warning"
    return f"{status:<8}{finding.label}: {counted} ({finding.rule}){note}{samples}"


def summary_lines(run: DryRun) -> list[str]:
    """The command's report: what was read, the checklist summary, each finding (errors first),
    and where the report is."""
    result = run.result
    kind = "first publication (metadata gaps are errors)" if run.first_publication \
        else f"refresh (published rows: {run.previous_rows:,})" if run.previous_rows is not None else "refresh"
    lines = [f"{run.spec.id}: {run.staged.rows:,} rows extracted from its {run.spec.source.kind} source in "
             f"{run.extract_seconds:.1f} s, validated as a {kind}",
             f"Data Submission Checklist: {result.summary}"]
    lines += [f"  {finding_line(f)}" for f in result.errors]
    lines += [f"  {finding_line(f)}" for f in result.warnings]
    lines.append(f"Report: {result.report_html}")
    lines.append(f"        {result.report_markdown} (Markdown)")
    if run.extract_file is not None:
        lines.append(f"Extract kept: {run.extract_file} (it holds the source's rows: delete it when done)")
    lines.append("Nothing was sent to the portal; nothing was recorded in the registry.")
    return lines
