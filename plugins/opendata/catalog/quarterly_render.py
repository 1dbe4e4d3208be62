"""The quarterly report as HTML (for the e-mail and the browser) and CSV (for spreadsheets).

    render_html(report) -> str        render_csv(report) -> str

HTML: one self-contained document. Styles are inline ``style`` attributes (no ``<style>`` block,
which some mail clients drop), charts are inline SVG drawn here, and nothing is loaded from
elsewhere: no scripts, fonts, images or style sheets, so it reads the same in a mail client
without JavaScript. Every figure of a chart is also in a table (a client that does not draw
inline SVG still shows them all). Three charts: per department, a stacked bar of published /
in review / rejected / planned; the share of refreshes on time; the median days from Step 1
to public.

CSV: one row per department, then the city's row (``scope`` = ``city``), with the columns of
:data:`CSV_COLUMNS` in that order (their meaning: :data:`CSV_COLUMN_DOCS`). Shares are
fractions (0 to 1, four decimals), days have two decimals, and a figure that does not exist
(nothing judged, nobody public) is an empty cell.

All text that comes from dataset files and the governance file (department and dataset names
and ids) is treated as hostile: escaped in HTML (text and attributes, SVG included), and in
CSV a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'`` so a spreadsheet does not run it as a formula (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from html import escape

from opendata.catalog.quarterly import DepartmentRow, QuarterlyReport, Share, report_title
from opendata.freshness.calendar import zone

# --- CSV -------------------------------------------------------------------------------------

#: Column -> meaning. The order is the CSV's; the names are stable (add columns at the end).
CSV_COLUMN_DOCS: dict[str, str] = {
    "quarter": "the quarter, as 2026 Q3",
    "scope": "department, or city for the city's total (the last row)",
    "department": "the department's code in the governance file (empty on the city's row)",
    "department_name": "the department's name",
    "datasets": "datasets of the department (dataset files and registry entries)",
    "published": "datasets public at the end of the quarter",
    "newly_public": "of those, datasets that became public during the quarter",
    "in_review": "datasets in Stage 1 at the end of the quarter (waiting for the CDO's review)",
    "rejected": "datasets refused during the quarter, at Step 1 or in the Stage 1 review",
    "rejected_step1": "datasets refused by department leadership at Step 1 during the quarter",
    "rejected_review": "datasets rejected in the Stage 1 review during the quarter",
    "planned": "planned datasets not yet public",
    "planned_past_target": "of those, the ones whose target date has passed",
    "median_days_to_public": "median calendar days from Step 1 approval to public, over the datasets that "
                             "became public during the quarter",
    "days_to_public_count": "how many datasets that median is over",
    "refreshes_judged": "successful refreshes during the quarter judged against their dataset's promise",
    "refreshes_on_time": "of those, refreshes made within due_after of the previous confirmed update",
    "refreshes_on_time_share": "refreshes_on_time / refreshes_judged (empty when none was judged)",
    "overdue_now": "public datasets overdue at the report's time",
    "comments_judged": "public comment waiting periods started during the quarter and judged",
    "comments_answered_in_time": "of those, answered within the answer time (48 business hours)",
    "comments_answered_in_time_share": "comments_answered_in_time / comments_judged (empty when none)",
    "comments_waiting": "waiting periods still within their answer time at the report's time (not judged)",
    "as_of": "when the report was made (ISO 8601, UTC)",
    "complete": "yes when the quarter had ended at the report's time, no for figures to date",
}
CSV_COLUMNS: tuple[str, ...] = tuple(CSV_COLUMN_DOCS)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A text cell a spreadsheet will not read as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _fraction(share: Share) -> str:
    value = share.value
    return "" if value is None else f"{value:.4f}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def csv_rows(report: QuarterlyReport) -> list[dict[str, str]]:
    """The CSV's rows as text cells (neutralised), departments first, the city last."""
    as_of = report.as_of.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    out = []
    for scope, row in [*(("department", row) for row in report.rows), ("city", report.total)]:
        out.append({
            "quarter": report.quarter.label, "scope": scope, "department": neutralise(row.department),
            "department_name": neutralise(row.name), "datasets": str(row.datasets),
            "published": str(row.published), "newly_public": str(row.newly_public),
            "in_review": str(row.in_review), "rejected": str(row.rejected),
            "rejected_step1": str(row.rejected_step1), "rejected_review": str(row.rejected_review),
            "planned": str(row.planned), "planned_past_target": str(row.planned_past_target),
            "median_days_to_public": _number(row.median_days_to_public),
            "days_to_public_count": str(len(row.days_to_public)),
            "refreshes_judged": str(row.refreshes.total), "refreshes_on_time": str(row.refreshes.count),
            "refreshes_on_time_share": _fraction(row.refreshes), "overdue_now": str(row.overdue_now),
            "comments_judged": str(row.comments.total), "comments_answered_in_time": str(row.comments.count),
            "comments_answered_in_time_share": _fraction(row.comments),
            "comments_waiting": str(row.comments_waiting), "as_of": as_of,
            "complete": "yes" if report.complete else "no",
        })
    return out


def render_csv(report: QuarterlyReport) -> str:
    """The report as CSV text (RFC 4180: comma, double quotes, CRLF line ends; write it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    return buffer.getvalue()


# --- HTML ------------------------------------------------------------------------------------

_FONT = "Arial,Helvetica,sans-serif"
_INK = "#1f2933"
_MUTED = "#52606d"
_RULE = "#d9e2ec"
_BODY = f"margin:0;padding:16px;background:#ffffff;color:{_INK};font-family:{_FONT};font-size:14px;line-height:1.4"
_H1 = "font-size:22px;margin:0 0 4px 0"
_H2 = f"font-size:17px;margin:24px 0 8px 0;padding-bottom:4px;border-bottom:1px solid {_RULE}"
_P = f"margin:0 0 8px 0;color:{_MUTED}"
_TABLE = "border-collapse:collapse;font-size:13px;margin:0 0 8px 0"
_TH = f"text-align:left;padding:4px 8px;border-bottom:2px solid {_RULE};vertical-align:bottom"
_TD = f"padding:4px 8px;border-bottom:1px solid {_RULE};vertical-align:top"
_NUM = _TD + ";text-align:right;white-space:nowrap"
_TOTAL = ";font-weight:bold;background:#f5f7fa"

#: Colours of the stacked bars (also the legend): published, in review, rejected, planned.
SEGMENTS: tuple[tuple[str, str, Callable[[DepartmentRow], int]], ...] = (
    ("Published", "#2e7d32", lambda row: row.published),
    ("In review", "#f9a825", lambda row: row.in_review),
    ("Rejected", "#c62828", lambda row: row.rejected),
    ("Planned", "#1565c0", lambda row: row.planned),
)

#: What each figure means, as the report's last section says it.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("Published", "Public at the end of the quarter (stage 2 or refreshing, or retired after being public); "
                  "\"new\": first public during the quarter."),
    ("In review", "In Stage 1 at the end of the quarter: private on the portal, waiting for the Chief Data "
                  "Officer's review."),
    ("Rejected", "Datasets refused during the quarter by department leadership at Step 1 or in the Stage 1 "
                 "review, each dataset counted once."),
    ("Planned", "Planned datasets not yet public; \"past target\": their target date has passed."),
    ("Median days to public", "For the datasets that became public during the quarter: calendar days from "
                              "the department's Step 1 approval to public (the median; n: how many)."),
    ("Refreshes on time", "Each successful refresh during the quarter of a dataset that promises an update "
                          "frequency, measured from the previous confirmed update of its data: on time when "
                          "that gap (without the dataset's no-update days) was at most the policy's "
                          "due_after, so the dataset was neither due nor overdue when refreshed."),
    ("Overdue now", "Public datasets whose freshness status at the report's time is overdue, from the "
                    "registry's last confirmed update."),
    ("Comments answered in time", "Public comment waiting periods that started during the quarter: in time "
                                  "when marked answered within {answer} of business time (Monday to Friday, "
                                  "city time); late when answered later or still unanswered after that. Periods "
                                  "still within their time are waiting, not judged."),
)


# C0 controls other than tab, newline and carriage return are not allowed in XML (the SVG charts) and
# mean nothing in HTML text: shown as U+FFFD.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _e(text: object) -> str:
    """Text for HTML and SVG, attributes included: escaped, control characters replaced."""
    return escape(_CONTROLS.sub("\ufffd", str(text)), quote=True)


def _short(text: str, limit: int = 34) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _share_text(share: Share) -> str:
    value = share.value
    return "–" if value is None else f"{value:.0%} ({share.count} of {share.total})"


def _days_text(row: DepartmentRow) -> str:
    median = row.median_days_to_public
    return "–" if median is None else f"{median:.1f} (n={len(row.days_to_public)})"


def _hours(value: dt.timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:g} hours"


def _date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _local(report: QuarterlyReport, instant: dt.datetime | None) -> str:
    if instant is None:
        return "never"
    return instant.astimezone(zone(report.quarter.timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _table(headers: Sequence[tuple[str, bool]], rows: Sequence[tuple[Sequence[str], bool]]) -> str:
    """``headers``: (text, numeric); ``rows``: (escaped cells, is the total)."""
    head = "".join(f'<th style="{_TH}{";text-align:right" if numeric else ""}">{_e(text)}</th>'
                   for text, numeric in headers)
    body = []
    for cells, total in rows:
        tds = "".join(f'<td style="{(_NUM if numeric else _TD) + (_TOTAL if total else "")}">{cell}</td>'
                      for cell, (_, numeric) in zip(cells, headers, strict=True))
        body.append(f"<tr>{tds}</tr>")
    return (f'<table role="presentation" cellpadding="0" cellspacing="0" style="{_TABLE}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _department_cells(row: DepartmentRow) -> list[str]:
    name = _e(row.name) if not row.department or row.department == row.name \
        else f'{_e(row.name)}<br><span style="color:{_MUTED};font-size:12px">{_e(row.department)}</span>'
    return [name, str(row.datasets), f"{row.published} ({row.newly_public} new)", str(row.in_review),
            f"{row.rejected} ({row.rejected_step1} / {row.rejected_review})",
            f"{row.planned} ({row.planned_past_target} past target)", _e(_days_text(row)),
            _e(_share_text(row.refreshes)), str(row.overdue_now),
            _e(_share_text(row.comments)) + (f" · {row.comments_waiting} waiting" if row.comments_waiting else "")]


# --- SVG charts --------------------------------------------------------------------------------

_LABEL_W = 240
_BAR_W = 360
_ROW_H = 24
_TOP = 30
_CHART_W = _LABEL_W + _BAR_W + 140


def _svg(title: str, height: int, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_CHART_W}" height="{height}" '
            f'viewBox="0 0 {_CHART_W} {height}" role="img" aria-label="{_e(title)}" '
            f'style="display:block;max-width:100%;height:auto;margin:0 0 12px 0" font-family="{_FONT}" '
            f'font-size="12"><title>{_e(title)}</title>'
            f'<text x="0" y="16" font-size="14" font-weight="bold" fill="{_INK}">{_e(title)}</text>{body}</svg>')


def _label(row: DepartmentRow, y: int) -> str:
    return (f'<text x="{_LABEL_W - 8}" y="{y + 16}" text-anchor="end" fill="{_INK}">'
            f"<title>{_e(row.name)}</title>{_e(_short(row.name))}</text>")


def stacked_chart(report: QuarterlyReport) -> str:
    """Per department: published, in review, rejected and planned, stacked."""
    rows = report.rows
    legend_y = _TOP
    top = _TOP + 22
    height = top + max(len(rows), 1) * _ROW_H + 8
    largest = max((sum(value(row) for _, _, value in SEGMENTS) for row in rows), default=0) or 1
    parts = []
    x = _LABEL_W
    for name, colour, _ in SEGMENTS:
        parts.append(f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="{legend_y + 11}" fill="{_INK}">{_e(name)}</text>')
        x += 16 + 8 * len(name) + 16
    for i, row in enumerate(rows):
        y = top + i * _ROW_H
        parts.append(_label(row, y))
        x_at = float(_LABEL_W)
        total = 0
        for name, colour, value in SEGMENTS:
            count = value(row)
            total += count
            if count:
                width = count / largest * _BAR_W
                parts.append(f'<rect x="{x_at:.1f}" y="{y + 4}" width="{width:.1f}" height="{_ROW_H - 8}" '
                             f'fill="{colour}"><title>{_e(row.name)}: {_e(name)} {count}</title></rect>')
                x_at += width
        parts.append(f'<text x="{x_at + 6:.1f}" y="{y + 16}" fill="{_MUTED}">{total}</text>')
    if not rows:
        parts.append(f'<text x="{_LABEL_W}" y="{top + 16}" fill="{_MUTED}">No departments</text>')
    return _svg(f"Datasets by department, {report.quarter.label}", height, "".join(parts))


def _bar_chart(report: QuarterlyReport, title: str, colour: str, bars: Sequence[tuple[float | None, str, str]],
               largest: float) -> str:
    """One bar a department: (value or None, the value's text, the text when None)."""
    top = _TOP + 8
    height = top + max(len(report.rows), 1) * _ROW_H + 8
    largest = largest or 1
    parts = []
    for i, (row, (value, text, empty)) in enumerate(zip(report.rows, bars, strict=True)):
        y = top + i * _ROW_H
        parts.append(_label(row, y))
        parts.append(f'<rect x="{_LABEL_W}" y="{y + 4}" width="{_BAR_W}" height="{_ROW_H - 8}" fill="#f0f4f8"/>')
        if value is None:
            parts.append(f'<text x="{_LABEL_W + 6}" y="{y + 16}" fill="{_MUTED}">{_e(empty)}</text>')
            continue
        width = max(value, 0) / largest * _BAR_W
        parts.append(f'<rect x="{_LABEL_W}" y="{y + 4}" width="{width:.1f}" height="{_ROW_H - 8}" fill="{colour}">'
                     f"<title>{_e(row.name)}: {_e(text)}</title></rect>"
                     f'<text x="{_LABEL_W + _BAR_W + 6}" y="{y + 16}" fill="{_INK}">{_e(text)}</text>')
    return _svg(title, height, "".join(parts))


def on_time_chart(report: QuarterlyReport) -> str:
    """Per department: the share of refreshes on time (0 to 100%)."""
    bars = [(row.refreshes.value, _share_text(row.refreshes), "no refreshes judged") for row in report.rows]
    return _bar_chart(report, f"Refreshes on time, {report.quarter.label}", "#2e7d32", bars, 1.0)


def days_to_public_chart(report: QuarterlyReport) -> str:
    """Per department: the median days from Step 1 approval to public."""
    bars = [(row.median_days_to_public, _days_text(row) + " days", "none became public") for row in report.rows]
    largest = max((row.median_days_to_public or 0.0 for row in report.rows), default=0.0)
    return _bar_chart(report, f"Median days from Step 1 to public, {report.quarter.label}", "#1565c0", bars,
                      largest)


# --- the document --------------------------------------------------------------------------------


def render_html(report: QuarterlyReport) -> str:
    """The whole report as one self-contained HTML document (see the module docstring)."""
    quarter = report.quarter
    title = report_title(report)
    answer = _hours(report.answer_within)
    period = (f"{_date(quarter.first_day)} to {_date(quarter.last_day)} ({quarter.timezone} time)"
              + ("" if report.complete else f"; figures to {_local(report, report.cutoff)}, the quarter is under way"))
    headers = [("Department", False), ("Datasets", True), ("Published", True), ("In review", True),
               ("Rejected (Step 1 / review)", True), ("Planned", True), ("Median days to public", True),
               ("Refreshes on time", True), ("Overdue now", True), (f"Comments answered within {answer}", True)]
    rows = [(_department_cells(row), False) for row in report.rows]
    rows.append((_department_cells(report.total), True))
    total = report.total
    summary = [
        ("Published at the end of the quarter", f"{total.published} ({total.newly_public} new this quarter)"),
        ("In review (Stage 1)", str(total.in_review)),
        ("Rejected this quarter", f"{total.rejected} ({total.rejected_step1} at Step 1, "
                                  f"{total.rejected_review} in review)"),
        ("Planned, not yet public", f"{total.planned} ({total.planned_past_target} past target)"),
        ("Median days from Step 1 to public", _days_text(total)),
        ("Refreshes on time", _share_text(total.refreshes)),
        ("Overdue now", str(total.overdue_now)),
        (f"Comments answered within {answer} (business time)", _share_text(total.comments)
         + (f"; {total.comments_waiting} waiting" if total.comments_waiting else "")),
    ]
    summary_table = _table([("Citywide", False), ("", True)], [([_e(k), _e(v)], False) for k, v in summary])
    names = report.department_names
    overdue = _table(
        [("Dataset", False), ("Department", False), ("Last confirmed update", False), ("Days late", True)],
        [([f"{_e(d.name)}<br><span style=\"color:{_MUTED};font-size:12px\">{_e(d.dataset_id)}</span>",
           _e(names.get(d.department, d.department)), _e(_local(report, d.last_update)),
           "–" if d.days_late is None else f"{d.days_late:.1f}"], False) for d in report.overdue],
    ) if report.overdue else f'<p style="{_P}">No public dataset is overdue.</p>'
    planned = _table(
        [("Planned dataset", False), ("Department", False), ("Target date", False)],
        [([f"{_e(p.name)}<br><span style=\"color:{_MUTED};font-size:12px\">{_e(p.dataset_id)}</span>",
           _e(names.get(p.department, p.department)), _e(p.target_date.isoformat())], False)
         for p in report.planned],
    ) if report.planned else f'<p style="{_P}">No planned datasets are listed.</p>'
    definitions = "".join(f'<p style="margin:0 0 6px 0"><b>{_e(term)}.</b> {_e(text.format(answer=answer))}</p>'
                          for term, text in DEFINITIONS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light">'
        f"<title>{_e(title)}</title></head>\n"
        f'<body style="{_BODY}">\n'
        f'<h1 style="{_H1}">{_e(title)}</h1>\n'
        f'<p style="{_P}">{_e(period)}. Made {_e(_local(report, report.as_of))} for the Open Data Working '
        f"Group.</p>\n"
        f'<h2 style="{_H2}">The city</h2>\n{summary_table}\n'
        f'<h2 style="{_H2}">By department</h2>\n{_table(headers, rows)}\n'
        f'<h2 style="{_H2}">Charts</h2>\n{stacked_chart(report)}\n{on_time_chart(report)}\n'
        f"{days_to_public_chart(report)}\n"
        f'<h2 style="{_H2}">Overdue now</h2>\n{overdue}\n'
        f'<h2 style="{_H2}">Planned</h2>\n{planned}\n'
        f'<h2 style="{_H2}">How the figures are counted</h2>\n<div style="font-size:13px">{definitions}</div>\n'
        "</body></html>\n"
    )
