"""The report: checklist, then every check (failures first), then privacy; HTML escaped."""

from __future__ import annotations

import datetime as dt

from opendata.validation.findings import Area, result
from opendata.validation.report import (
    build_report,
    finding_text,
    render_html,
    render_markdown,
    warnings_digest,
    write_reports,
)
from tests.opendata.validation.helpers import make_spec

SPEC = make_spec({"id": "text", "notes": "text"}, name="Permits <b>& more</b>")
RESULTS = [
    result(Area.SCHEMA, "schema", None, "error", 0, 2, "the staged file has the data dictionary's columns"),
    result(Area.QUALITY, "range", "amount", "warning", 3, 100, "at least 0", samples=("R1", "R2")),
    result(Area.QUALITY, "pattern", "code", "error", 1, 100, "the whole value matches a|b", samples=("R9",)),
    result(Area.PRIVACY, "pii", "notes", "error", 2, 100, "no phone", kind="phone", samples=("row 3",),
           note="found by 2 cells (2.0% of non-empty)"),
]
AT = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def test_markdown_lists_checklist_then_checks_failures_first_then_privacy():
    text = render_markdown(build_report(SPEC, {"rows": 100, "path": "x.parquet"}, RESULTS, True, AT))
    assert "**FAILED: 2 error(s) block publication.** 4 checks: 1 passed, 1 warnings, 2 errors." in text
    checklist, checks, privacy = text.index("## Data Submission Checklist"), text.index("## Checks"), text.index(
        "## Privacy and security")
    assert checklist < checks < privacy
    lines = text[checks:privacy].splitlines()
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| Status")]
    assert [row.split(" | ")[0] for row in rows] == ["| FAIL", "| warn", "| pass"]
    assert "| FAIL | quality | pattern | code | error | 1 | 100 | the whole value matches a\\|b | R9 |  |" in rows
    assert "| FAIL | pii | notes | phone | 2 | 100 | row 3 | found by 2 cells (2.0% of non-empty) |" in text
    assert "| Row identifier | id |" in text


def test_html_is_escaped_and_coloured():
    page = render_html(build_report(SPEC, {"rows": 100}, RESULTS, True, AT), "t")
    assert "Permits &lt;b&gt;&amp; more&lt;/b&gt;" in page
    assert "<b>&" not in page
    assert '<td class="FAIL">FAIL</td>' in page and '<td class="warn">warn</td>' in page


def test_reports_are_written_side_by_side(tmp_path):
    markdown, page = write_reports(SPEC, {"rows": 100}, RESULTS, tmp_path / "run-1", False, AT)
    assert (markdown.name, page.name) == ("data-submission-checklist.md", "data-submission-checklist.html")
    assert "| Publication | refresh |" in markdown.read_text()


def test_each_finding_in_a_line_of_plain_text():
    warning = result(Area.QUALITY, "range", "amount", "warning", 3, 1000, "at least 0",
                     samples=("R1", "R2", "R3", "R4"), note="negative amounts")
    assert finding_text(warning) == \
        'range(amount): 3 of 1,000 rows outside the rule "at least 0" (R1, R2, R3, ...); negative amounts'
    privacy = result(Area.PRIVACY, "pii", "notes", "warning", 2, 100, "no phone", kind="phone")
    assert finding_text(privacy) == 'pii:phone(notes): 2 of 100 cells outside the rule "no phone"'


def test_xcom_names_at_most_twenty_warnings_and_counts_them_all():
    warnings = [result(Area.QUALITY, "not_null", f"c{i}", "warning", 1, 10, "not empty") for i in range(45)]
    digest = warnings_digest([*RESULTS, *warnings])
    assert digest["warnings_total"] == 46   # RESULTS holds one warning too
    assert len(digest["warnings"]) == 20
    assert digest["warnings"][0].startswith("range(amount): 3 of 100 rows")
