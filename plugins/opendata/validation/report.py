"""The Data Submission Checklist report of a run, in Markdown and HTML.

One document model (headings, paragraphs, tables) rendered twice, so the two files always say
the same thing: the checklist answers from the dataset file, every check with its status,
counts and sample rows, then the privacy and security findings. Everything shown comes from
the dataset file or from check results, which never hold cell values.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

from opendata.spec.dataset import DatasetSpec
from opendata.spec.markdown import md_text
from opendata.validation.checklist import checklist_rows
from opendata.validation.findings import Area, CheckResult, Status

REPORT_NAME = "data-submission-checklist"

_STATUS_LABEL = {Status.PASSED: "pass", Status.WARNING: "warn", Status.FAILED: "FAIL", Status.SKIPPED: "skip"}


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    # Index of the column holding a status, for colouring in HTML.
    status_column: int | None = None


Block = Heading | Paragraph | Table


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _check_row(r: CheckResult) -> tuple[str, ...]:
    return (_STATUS_LABEL[r.status], r.area.value, r.check, r.column or "", r.severity, _count(r.failing),
            _count(r.checked), r.rule, ", ".join(r.samples), r.note or "")


#: How many warnings are named one by one outside the report (the validate task's XCom, the
#: Step 1 form, the CDO's e-mail); the report itself lists every check.
WARNINGS_SHOWN = 20


def finding_text(r: CheckResult) -> str:
    """One finding in a line, e.g. ``range(valuation): 3 of 3,000 rows outside the rule "at least
    0" (rows R1, R2)``. Plain text from the dataset file and check results (never cell values);
    whoever shows it escapes it for where it goes (Markdown, HTML)."""
    unit = "cells" if r.area is Area.PRIVACY else "rows"
    count = f"{r.failing:,} of {r.checked:,} {unit}" if r.checked is not None else f"{r.failing:,}"
    text = f"{r.label}: {count} outside the rule \"{r.rule}\""
    if r.samples:
        text += f" ({', '.join(r.samples[:3])}{', ...' if len(r.samples) > 3 else ''})"
    return text + (f"; {r.note}" if r.note else "")


def warnings_digest(results: list[CheckResult] | tuple[CheckResult, ...], limit: int = WARNINGS_SHOWN) -> dict:
    """The first ``limit`` warnings as lines of text, and how many there are in all (XCom stays
    small whatever the dataset: the report has the rest)."""
    warnings = [r for r in results if r.status is Status.WARNING]
    return {"warnings": [finding_text(r) for r in warnings[:limit]], "warnings_total": len(warnings)}


def build_report(spec: DatasetSpec, staged: dict, results: list[CheckResult], first_publication: bool,
                 generated_at: dt.datetime) -> list[Block]:
    """The report as blocks (pure)."""
    errors = [r for r in results if r.status is Status.FAILED]
    warnings = [r for r in results if r.status is Status.WARNING]
    counted = [r for r in results if r.status is not Status.SKIPPED]
    verdict = (f"FAILED: {len(errors)} error(s) block publication" if errors
               else "PASSED" + (f" with {len(warnings)} warning(s)" if warnings else ""))
    blocks: list[Block] = [
        Heading(1, f"Data Submission Checklist report: {spec.name}"),
        Paragraph(f"**{verdict}.** {len(counted)} checks: "
                  f"{sum(1 for r in counted if r.status is Status.PASSED)} passed, {len(warnings)} warnings, "
                  f"{len(errors)} errors."),
        Table(("Run", ""), (
            ("Dataset", spec.id),
            ("Checked at", generated_at.isoformat(timespec="seconds")),
            ("Rows", _count(staged.get("rows"))),
            ("Staged file", str(staged.get("path", ""))),
            ("Content checksum", str(staged.get("checksum", ""))),
            ("Publication", "first publication" if first_publication else "refresh"),
        )),
        Heading(2, "Data Submission Checklist"),
        Table(("Field", "Answer"), tuple((label, str(value) if value not in (None, "") else "—")
                                         for label, value in checklist_rows(spec))),
    ]
    failed_first = sorted((r for r in results if r.area is not Area.PRIVACY),
                          key=lambda r: [Status.FAILED, Status.WARNING, Status.PASSED, Status.SKIPPED].index(r.status))
    blocks += [
        Heading(2, "Checks"),
        Paragraph("Failing counts are rows (cells for personal data); sample rows are row identifiers, or "
                  "positions in the extract (\"row 12\", from 0) when the identifier must not be shown."),
        Table(("Status", "Area", "Check", "Column", "Severity", "Failing", "Checked", "Rule", "Sample rows", "Note"),
              tuple(_check_row(r) for r in failed_first), status_column=0),
    ]
    blocks += _privacy_blocks(spec, staged, [r for r in results if r.area is Area.PRIVACY])
    return blocks


def _privacy_blocks(spec: DatasetSpec, staged: dict, results: list[CheckResult]) -> list[Block]:
    findings = [r for r in results if r.status in (Status.FAILED, Status.WARNING)]
    blocks: list[Block] = [Heading(2, "Privacy and security")]
    if findings:
        blocks.append(Paragraph(f"**{len(findings)} finding(s) block this run before anything reaches the "
                                f"portal.** Remove or mask the column, or allow it in the dataset file's "
                                f"privacy section with a written justification."))
        blocks.append(Table(("Status", "Check", "Column", "Kind", "Cells", "Non-empty cells", "Sample rows",
                             "Detail"),
                            tuple((_STATUS_LABEL[r.status], r.check, r.column or "", r.kind or "",
                                   _count(r.failing), _count(r.checked), ", ".join(r.samples), r.note or "")
                                  for r in findings), status_column=0))
    else:
        blocks.append(Paragraph("No privacy or security findings."))
    allowed = [r for r in results if r.kind and r.status is Status.PASSED and r.check == "pii"]
    if allowed:
        blocks += [Heading(3, "Personal data published on purpose"),
                   Table(("Column", "Kind", "Cells", "Justification"),
                         tuple((r.column or "", r.kind or "", _count(r.failing),
                                spec.privacy.allowed[r.column].justification if r.column in spec.privacy.allowed
                                else r.note or "") for r in allowed))]
    privacy_info = staged.get("privacy") or {}
    removed = privacy_info.get("removed") or []
    masked = privacy_info.get("masked") or {}
    if spec.privacy.remove or spec.privacy.mask:
        rows = [(name, "removed on read" + ("" if name in removed else " (not in this extract)"))
                for name in spec.privacy.remove]
        rows += [(name, f"masked before staging: {masked.get(name, rule.method.value)}")
                 for name, rule in spec.privacy.mask.items()]
        blocks += [Heading(3, "Removed and masked columns"), Table(("Column", "Treatment"), tuple(rows))]
    blocks += [Heading(3, "All privacy and security checks"),
               Table(("Status", "Check", "Column", "Kind", "Cells", "Checked", "Rule", "Note"),
                     tuple((_STATUS_LABEL[r.status], r.check, r.column or "", r.kind or "", _count(r.failing),
                            _count(r.checked), r.rule, r.note or "") for r in results), status_column=0)]
    return blocks


# --- rendering ---------------------------------------------------------------------------------

def _md_inline(text: str) -> str:
    """Paragraph text: literal, except the ``**`` that marks bold (as ``_inline_html`` reads it).
    Headings and cells hold the dataset file's text and check notes: every one is escaped."""
    def literal(part: str) -> str:  # md_text folds the spaces around the bold markers: keep them
        lead = " " if part[:1].isspace() else ""
        trail = " " if part[-1:].isspace() and part.strip() else ""
        return lead + md_text(part) + trail

    return "**".join(literal(part) for part in text.split("**"))


def render_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + md_text(block.text), ""]
        elif isinstance(block, Paragraph):
            lines += [_md_inline(block.text), ""]
        else:
            lines.append("| " + " | ".join(md_text(h) for h in block.headers) + " |")
            lines.append("|" + "---|" * len(block.headers))
            lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in block.rows]
            lines.append("")
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.pass { background: #e6f4ea; } td.warn { background: #fef7e0; } td.FAIL { background: #fce8e6; font-weight: bold; }
td.skip { color: #777; }
"""


def _inline_html(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def render_html(blocks: list[Block], title: str) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline_html(block.text)}</p>")
        else:
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
                       + "</tr></thead><tbody>")
            for row in block.rows:
                cells = []
                for i, cell in enumerate(row):
                    css = f' class="{html.escape(cell)}"' if i == block.status_column else ""
                    cells.append(f"<td{css}>{html.escape(cell)}</td>")
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_reports(spec: DatasetSpec, staged: dict, results: list[CheckResult], report_dir: Path,
                  first_publication: bool, generated_at: dt.datetime | None = None) -> tuple[Path, Path]:
    """Write the Markdown and HTML reports into ``report_dir``; returns their paths."""
    blocks = build_report(spec, staged, results, first_publication, generated_at or dt.datetime.now(dt.UTC))
    report_dir.mkdir(parents=True, exist_ok=True)
    markdown = report_dir / f"{REPORT_NAME}.md"
    page = report_dir / f"{REPORT_NAME}.html"
    markdown.write_text(render_markdown(blocks), encoding="utf-8")
    page.write_text(render_html(blocks, f"Data Submission Checklist report: {spec.name}"), encoding="utf-8")
    return markdown, page
