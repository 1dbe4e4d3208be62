"""The quarterly report's HTML and CSV: well-formed, self-contained, hostile text escaped, formulas neutralised."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from opendata.catalog.quarterly import (
    DatasetRecord,
    PlannedEntry,
    Quarter,
    QuarterInputs,
    RunEvent,
    StageEvent,
    quarterly_report,
)
from opendata.catalog.quarterly_render import CSV_COLUMN_DOCS, CSV_COLUMNS, neutralise, render_csv, render_html
from opendata.freshness.policy import FreshnessPolicy
from opendata.registry.stages import Stage

LA = ZoneInfo("America/Los_Angeles")
Q3 = Quarter(2026, 3)
DAILY = FreshnessPolicy.for_frequency("daily")

SCRIPT_DEPARTMENT = '<script>alert("department")</script>'
FORMULA_DEPARTMENT = '=HYPERLINK("http://evil.example/x","click me")'
HOSTILE_DATASET = '"><img src=x onerror=alert(1)>'
HOSTILE_PLAN = "</table><script>evil()</script>"
DEPARTMENTS = {"alpha": SCRIPT_DEPARTMENT, "beta": FORMULA_DEPARTMENT, "gamma": "+1 Gamma", "delta": "-2 Delta",
               "eps": "@SUM(A1:A9)", "tab": "\tTabbed", "plain": "Parks & Recreation <Dept>", "empty": "Quiet"}
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}


def la(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=LA).astimezone(dt.UTC)


def public(dataset_id: str, department: str, name: str, *, approved: dt.datetime, at: dt.datetime,
           runs: list[RunEvent] | None = None) -> DatasetRecord:
    history = [StageEvent(approved, None, Stage.NOT_READY, "Step 1 approved by X (airflow)"),
               StageEvent(approved + dt.timedelta(hours=1), Stage.NOT_READY, Stage.STAGE_1),
               StageEvent(at, Stage.STAGE_1, Stage.STAGE_2)]
    return DatasetRecord(dataset_id, department, name, policy=DAILY, stage=Stage.STAGE_2, history=history,
                         runs=runs or [], department_approved_at=approved)


def sample_report(as_of: dt.datetime | None = None):
    as_of = as_of or la(2026, 10, 5)
    runs = [RunEvent(la(2026, 7, 1), "publication", "success"), RunEvent(la(2026, 7, 2), "refresh", "success"),
            RunEvent(la(2026, 7, 3), "refresh", "success"), RunEvent(la(2026, 7, 4), "refresh", "success"),
            RunEvent(la(2026, 7, 8), "refresh", "success"), RunEvent(as_of - dt.timedelta(hours=1), "refresh",
                                                                     "success")]
    datasets = [
        public("hostile", "alpha", HOSTILE_DATASET, approved=la(2026, 1, 2), at=la(2026, 1, 5)),  # overdue
        public("fine", "alpha", "Fine", approved=la(2026, 6, 21), at=la(2026, 7, 1, 13), runs=runs),
        public("b1", "beta", "B1", approved=la(2026, 7, 1), at=la(2026, 7, 4, 12),
               runs=[RunEvent(la(2026, 10, 4), "refresh", "success")]),
        DatasetRecord("waiting", "gamma", "Waiting", stage=Stage.STAGE_1,
                      history=[StageEvent(la(2026, 8, 1), Stage.NOT_READY, Stage.STAGE_1)]),
        DatasetRecord("no", "delta", "No", stage=Stage.REJECTED,
                      history=[StageEvent(la(2026, 8, 1), Stage.NOT_READY, Stage.REJECTED, "Step 1 rejected by Y")]),
        public("p", "plain", "P", approved=la(2026, 1, 1), at=la(2026, 2, 1),
               runs=[RunEvent(la(2026, 10, 4), "refresh", "success")]),
    ]
    planned = [PlannedEntry("beta", "plan-1", HOSTILE_PLAN, dt.date(2026, 9, 1)),
               PlannedEntry("eps", "plan-2", "Budget", dt.date(2027, 1, 1)),
               PlannedEntry("tab", "plan-3", "Tabs", dt.date(2027, 1, 1))]
    return quarterly_report(QuarterInputs(Q3, as_of, DEPARTMENTS, datasets, planned))


class Strict(HTMLParser):
    """Checks nesting, and collects tags, attributes and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Strict:
    parser = Strict()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    return parser


def test_html_is_one_self_contained_well_formed_document():
    html = render_html(sample_report())
    assert html.startswith("<!DOCTYPE html>")
    parser = parsed(html)
    names = {tag for tag, _ in parser.tags}
    assert names.isdisjoint({"script", "style", "link", "img", "iframe", "object", "embed", "form", "input",
                             "base", "audio", "video", "font"})
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not {"src", "href", "srcset", "background", "action"} & set(attrs), (tag, attrs)
        if "xmlns" in attrs:
            assert (tag, attrs["xmlns"]) == ("svg", "http://www.w3.org/2000/svg")
    assert "url(" not in html and "@import" not in html and "<script" not in html.lower()
    assert [tag for tag, _ in parser.tags].count("svg") == 3


def test_hostile_names_are_shown_as_text_never_as_markup():
    html = render_html(sample_report())
    text = "".join(parsed(html).text)
    for hostile in (SCRIPT_DEPARTMENT, HOSTILE_DATASET, HOSTILE_PLAN, "Parks & Recreation <Dept>"):
        assert hostile not in html  # never raw
        assert hostile in text      # shown, as text
    assert "&lt;script&gt;alert(&quot;department&quot;)&lt;/script&gt;" in html


def test_each_chart_is_well_formed_svg_with_the_names_escaped():
    html = render_html(sample_report())
    charts = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert len(charts) == 3
    ns = {"svg": "http://www.w3.org/2000/svg"}
    for chart in charts:
        root = ET.fromstring(chart)  # XML: any unescaped name would break it
        titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
        assert SCRIPT_DEPARTMENT in titles  # the full name in the label's tooltip
        assert root.findall(".//svg:rect", ns)
    stacked, on_time, days = (ET.fromstring(chart) for chart in charts)
    segments = [t.text for t in stacked.iter("{http://www.w3.org/2000/svg}title") if t.text and ": " in t.text]
    assert f"{SCRIPT_DEPARTMENT}: Published 2" in segments
    assert f"{FORMULA_DEPARTMENT}: Planned 1" in segments
    texts = ["".join(t.itertext()) for t in on_time.iter("{http://www.w3.org/2000/svg}text")]
    assert "75% (3 of 4)" in texts and "no refreshes judged" in texts
    texts = ["".join(t.itertext()) for t in days.iter("{http://www.w3.org/2000/svg}text")]
    assert "none became public" in texts and "10.0 (n=1) days" in texts


def test_the_tables_carry_every_figure():
    report = sample_report()
    text = " ".join(" ".join(parsed(render_html(report)).text).split())
    assert "Overdue now" in text and HOSTILE_DATASET in text
    assert f"{report.total.published} ({report.total.newly_public} new)" in text
    assert "No public dataset is overdue." not in text
    quiet = render_html(quarterly_report(QuarterInputs(Q3, la(2026, 10, 5), {"x": "X"}, [])))
    quiet_text = " ".join(parsed(quiet).text)
    assert "No public dataset is overdue." in quiet_text and "No planned datasets are listed." in quiet_text


def test_a_report_of_a_quarter_under_way_says_so():
    report = sample_report(as_of=la(2026, 8, 15))
    text = " ".join(parsed(render_html(report)).text)
    assert "(to date)" in text and "the quarter is under way" in text
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert {row["complete"] for row in rows} == {"no"}


def test_csv_round_trips_with_the_csv_module():
    report = sample_report()
    text = render_csv(report)
    assert text.endswith("\r\n")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert len(rows) == len(report.rows) + 1
    assert [row["scope"] for row in rows] == ["department"] * len(report.rows) + ["city"]
    city = rows[-1]
    assert (city["department"], city["department_name"], city["quarter"], city["complete"]) == \
        ("", "City total", "2026 Q3", "yes")
    assert city["as_of"] == "2026-10-05T19:00:00Z"
    alpha = next(row for row in rows if row["department"] == "alpha")
    assert alpha["department_name"] == SCRIPT_DEPARTMENT  # CSV is not HTML: the text as it is
    expected = next(row for row in report.rows if row.department == "alpha")
    assert (alpha["datasets"], alpha["published"], alpha["newly_public"], alpha["overdue_now"]) == \
        (str(expected.datasets), str(expected.published), str(expected.newly_public), str(expected.overdue_now))
    assert (alpha["refreshes_judged"], alpha["refreshes_on_time"], alpha["refreshes_on_time_share"]) == \
        ("4", "3", "0.7500")
    assert alpha["median_days_to_public"] == "10.04" and alpha["days_to_public_count"] == "1"
    quiet = next(row for row in rows if row["department"] == "empty")
    assert (quiet["median_days_to_public"], quiet["refreshes_on_time_share"],
            quiet["comments_answered_in_time_share"]) == ("", "", "")
    assert int(city["datasets"]) == sum(int(row["datasets"]) for row in rows[:-1])


def test_csv_cells_that_would_run_as_formulas_are_neutralised():
    rows = {row["department"]: row for row in csv.DictReader(io.StringIO(render_csv(sample_report())))}
    assert rows["beta"]["department_name"] == "'" + FORMULA_DEPARTMENT
    assert rows["gamma"]["department_name"] == "'+1 Gamma"
    assert rows["delta"]["department_name"] == "'-2 Delta"
    assert rows["eps"]["department_name"] == "'@SUM(A1:A9)"
    assert rows["tab"]["department_name"] == "'\tTabbed"
    assert rows["plain"]["department_name"] == "Parks & Recreation <Dept>"
    assert all(not row[column].startswith(("=", "+", "-", "@", "\t", "\r"))
               for row in rows.values() for column in CSV_COLUMNS)


@pytest.mark.parametrize("cell, expected", [("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
                                            ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("a=1", "a=1"), ("", ""),
                                            ("'=1", "'=1"), (" =1", " =1")])
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_csv_columns_are_stable_and_documented():
    assert CSV_COLUMNS == (
        "quarter", "scope", "department", "department_name", "datasets", "published", "newly_public", "in_review",
        "rejected", "rejected_step1", "rejected_review", "planned", "planned_past_target", "median_days_to_public",
        "days_to_public_count", "refreshes_judged", "refreshes_on_time", "refreshes_on_time_share", "overdue_now",
        "comments_judged", "comments_answered_in_time", "comments_answered_in_time_share", "comments_waiting",
        "as_of", "complete")
    assert all(CSV_COLUMN_DOCS[column] for column in CSV_COLUMNS)


def test_control_characters_in_a_name_do_not_break_the_charts():
    report = quarterly_report(QuarterInputs(Q3, la(2026, 10, 5), {"x": "Bell\x07 and NUL\x00 dept"}, []))
    html = render_html(report)
    assert "\x07" not in html and "\x00" not in html and "Bell\ufffd and NUL\ufffd dept" in html
    for chart in re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL):
        ET.fromstring(chart)
