"""Dataset-file text in Markdown is shown as written: a hostile name, description or column
description adds no HTML, link, image, heading, table row, code or emphasis to the DAG's
documentation, the Step 1 approval form or the checklist report, and is never a Jinja template.

Markdown is rendered with markdown-it in its GFM-like preset with raw HTML *on*: stricter than
the Airflow UI (react-markdown with remark-gfm, which skips raw HTML). Like GFM, it links bare
"https://", "www." and e-mail literals, not bare domain names.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser

import jinja2.sandbox
import pytest
from markdown_it import MarkdownIt

from opendata.dag_factory import build_dag
from opendata.operators.department_approval import step1_body, step1_subject
from opendata.spec.dataset import DatasetSpec
from opendata.spec.loader import LoadedDataset, load_catalog
from opendata.spec.markdown import md_paragraphs, md_text, plain_line
from opendata.validation.checklist import checklist_markdown, checklist_rows
from opendata.validation.findings import Area, result
from opendata.validation.report import build_report, render_html, render_markdown
from tests.conftest import REPO_ROOT

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    "[click me](javascript:alert(1))",
    "![pixel](https://evil.example/p.png)",
    "<https://evil.example> https://evil.example/x www.evil.example //evil.example/x someone@evil.example",
    "# Heading",
    "## Heading",
    "Title\n===",
    "> quoted",
    "- item",
    "+ item",
    "1. item",
    "2) item",
    "---",
    "***",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "a | b",
    "`code` and ```fence```",
    "    indented code",
    "~~~",
    "**bold** __bold__ *em* _em_ ~~gone~~ ~gone~",
    "&lt;script&gt; &#60;b&#62; &amp;",
    "[ref]: https://evil.example",
    "[^1] footnote",
    "<!-- comment --> <b onmouseover=alert(1)>x</b>",
    "{{ conn.socrata_default.password }} {% if true %}x{% endif %} {# note #}",
    "line one\n\n# injected heading\n\nline <u>three</u>",
    "trailing backslash \\",
    "\\<script>alert(1)\\</script>",
    "tab\tand\u202eright-to-left override and NUL\x00 and\u2028separator",
]

ORDINARY = [
    "Building Permits",
    "MyLA311 Service Requests - Sanitation",
    "Permit Sub-Type",
    "Unique permit number assigned by PCIS (year, office, sequence).",
    "snake_case_name and 5% of 1,000 rows on 2024-01-01, request #3",
]


def markdown() -> MarkdownIt:
    md = MarkdownIt("gfm-like")  # tables, strikethrough, linkify, raw HTML on
    md.linkify.set({"fuzzy_link": False})
    return md


def shown(value: str) -> str:
    """What a reader must see: the text as typed, on one line, HTML-escaped as a renderer writes it."""
    return html.escape(plain_line(value), quote=False).replace('"', "&quot;")


class Tags(HTMLParser):
    """Every element of rendered HTML, the text of headings, cells and code spans."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.rows: list[list[str]] = []
        self.code: list[str] = []
        self.strong: list[str] = []
        self._open: list[str] = []
        self._text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [f"{k}={v}" for k, v in attrs]
        if tag == "tr":
            self.rows.append([])
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "code", "strong"):
            self._open.append(tag)
            self._text = []

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()
            text = " ".join("".join(self._text).split())
            if tag in ("td", "th"):
                self.rows[-1].append(text)
            elif tag == "code":
                self.code.append(text)
            elif tag == "strong":
                self.strong.append(text)
            else:
                self.headings.append((tag, text))

    def handle_data(self, data):
        self._text.append(data)


def assert_inert(page: str, allowed: set[str]) -> Tags:
    """Only the elements our own Markdown makes; no attribute at all (no link, image, handler)."""
    tags = Tags(page)
    assert set(tags.tags) <= allowed, f"unexpected elements: {set(tags.tags) - allowed}"
    assert [a for a in tags.attributes if not a.startswith("style=text-align")] == []
    return tags


# --- the escaping function ------------------------------------------------------------------------

@pytest.mark.parametrize("text", HOSTILE + ORDINARY)
def test_escaped_text_renders_as_exactly_the_text(text):
    escaped = md_text(text)
    md = markdown()
    assert md.renderInline(escaped) == shown(text)
    assert md.render(escaped) == f"<p>{shown(text)}</p>\n" if plain_line(text) else md.render(escaped) == ""
    # A table cell holding it is still one cell.
    table = md.render(f"| h |\n|---|\n| {escaped} |\n")
    assert Tags(table).rows == [["h"], [html.unescape(shown(text))]]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_as_written(text):
    """Names also show as plain text (the form's subject): they must not fill up with backslashes."""
    assert md_text(text) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_is_never_a_jinja_template(text):
    escaped = md_text(text)
    for delimiter in ("{{", "{%", "{#"):
        assert delimiter not in escaped
    env = jinja2.sandbox.SandboxedEnvironment()
    assert env.from_string(escaped).render(conn={"socrata_default": {"password": "the-secret"}}) == escaped


def test_paragraphs_stay_paragraphs_and_nothing_else():
    text = "First paragraph <b>x</b>\n# not a heading\n\n  \n- not a list\n\n\n1. nor this"
    page = markdown().render(md_paragraphs(text))
    assert page == ("<p>First paragraph &lt;b&gt;x&lt;/b&gt; # not a heading</p>\n<p>- not a list</p>\n"
                    "<p>1. nor this</p>\n")


# --- where dataset text reaches Markdown ------------------------------------------------------------

NAME = "Permits <script>alert('name')</script> [x](javascript:alert(1)) {{ 7 * 191 }}"
DEPARTMENT = "Building <img src=x onerror=alert(1)> & **Safety**"
DESCRIPTION = ("Issued permits <img src=x onerror=alert(1)>.\n\n# Injected heading\n\n| a | b |\n|---|---|\n"
               "| 1 | 2 |\n\n![pixel](https://evil.example/p.png) `code` **bold** {% if true %}jinja{% endif %}")
COLUMN_DESCRIPTION = "Amount | injected cell <b onmouseover=alert(1)>x</b> [link](https://evil.example)\n## heading"
DISPLAY_NAME = "Permit `Type` ```"


@pytest.fixture(scope="module")
def hostile():
    """The building-permits sample with its text replaced by hostile Markdown, HTML and Jinja, and
    its department named the same way. Built from the models directly: the loader may refuse some
    of this text in a file (Jinja delimiters), and what is tested here is the rendering, which must
    be safe whatever reaches it."""
    catalog = load_catalog(REPO_ROOT / "include")
    loaded = catalog.get("building-permits")
    data = loaded.spec.model_dump(mode="json")
    data.update(name=NAME, description=DESCRIPTION, source_system="<iframe src=https://evil.example></iframe>",
                technical_challenges="> quoted\n- listed")
    data["coverage"]["geographic_coverage"] = "1. City | of LA"
    data["columns"][0].update(description=COLUMN_DESCRIPTION, display_name=DISPLAY_NAME)
    department = loaded.spec.department
    governance = catalog.governance.model_copy(update={"departments": {
        **catalog.governance.departments,
        department: catalog.governance.departments[department].model_copy(update={"name": DEPARTMENT})}})
    return LoadedDataset(spec=DatasetSpec.model_validate(data), path=loaded.path), governance


def assert_checklist(tags: Tags, spec) -> None:
    """The checklist's own structure, exactly, with the hostile text as its literal content."""
    assert tags.headings == [("h2", plain_line(NAME)), ("h3", "Data Submission Checklist"),
                             ("h3", "Data dictionary")]
    answers = [row for row in tags.rows if len(row) == 2]
    dictionary = [row for row in tags.rows if len(row) == 4]
    assert len(answers) == 1 + len(checklist_rows(spec)) and len(dictionary) == 1 + len(spec.columns)
    assert len(tags.rows) == len(answers) + len(dictionary)  # no row with a cell count of its own
    assert tags.code == spec.field_names  # the only code spans: the field names
    assert ["Brief description", plain_line(DESCRIPTION)] in answers
    assert ["Data source", "<iframe src=https://evil.example></iframe>"] in answers
    assert dictionary[1] == ["permit_nbr", plain_line(DISPLAY_NAME), "text", plain_line(COLUMN_DESCRIPTION)]


def test_the_checklist_markdown_is_inert(hostile):
    spec = hostile[0].spec
    page = markdown().render(checklist_markdown(spec))
    tags = assert_inert(page, {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "code"})
    assert_checklist(tags, spec)
    assert "Issued permits &lt;img src=x onerror=alert(1)&gt;. # Injected heading" in page


def test_the_dag_documentation_is_inert_and_says_where_the_full_checklist_is(hostile):
    loaded = hostile[0]
    dag = build_dag(loaded, governance=hostile[1])
    tags = assert_inert(markdown().render(dag.doc_md), {"h2", "h3", "p", "code", "strong"})
    assert tags.headings == [("h2", plain_line(NAME)), ("h3", "Data Submission Checklist")]
    # The answers and the data dictionary are in the Step 1 form and the report: every serialized
    # DAG carries its documentation, so it only points to them.
    assert tags.rows == []
    assert tags.code[0] == f"datasets/{loaded.path.parent.name}/{loaded.path.name}"
    assert "department_approval" in tags.code
    assert len(dag.doc_md) < len(checklist_markdown(loaded.spec)) / 3


def test_the_step1_form_is_inert_and_not_a_template(hostile):
    dag = build_dag(hostile[0], governance=hostile[1])
    approval = dag.get_task("department_approval")
    # Airflow renders an operator's template fields before it runs: nothing of ours is one.
    approval.render_template_fields({"conn": {"socrata_default": {"password": "the-secret"}}},
                                    jinja_env=jinja2.sandbox.SandboxedEnvironment())
    assert "1337" not in approval.subject + approval.body
    for delimiter in ("{{", "{%", "{#"):
        assert delimiter not in approval.subject + approval.body
    tags = assert_inert(markdown().render(approval.body),
                        {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "code", "strong"})
    assert_checklist(tags, hostile[0].spec)
    assert tags.strong == [plain_line(DEPARTMENT), plain_line(NAME), "Validation:"]
    subject = markdown().renderInline(approval.subject)
    assert subject == shown(f"Step 1: approve {NAME} for publication")
    assert approval.subject == step1_subject(NAME)


def test_the_shrink_guard_form_is_not_a_template_either(hostile):
    shrink = build_dag(hostile[0], governance=hostile[1]).get_task("shrink_approval")
    shrink.render_template_fields({}, jinja_env=jinja2.sandbox.SandboxedEnvironment())
    assert "1337" not in shrink.subject
    assert markdown().renderInline(shrink.subject) == shown(f"Approve deleting published rows of {NAME}")


def test_the_step1_validation_summary_filled_in_at_run_time_is_escaped():
    body = step1_body(department_name="Sanitation", dataset_name="311", checklist="",
                      validation_summary="3 checks; privacy: 1 finding (<img src=x onerror=alert(1)>) {{ x }}")
    tags = assert_inert(markdown().render(body), {"p", "strong"})
    assert tags.strong == ["Sanitation", "311", "Validation:"]
    assert "{{" not in body


def test_the_checklist_report_is_inert(hostile):
    spec = hostile[0].spec
    results = [
        result(Area.QUALITY, "pattern", "permit_nbr", "error", 1, 10, "the whole value matches a|b<script>",
               samples=("<img src=x onerror=alert(1)>", "[x](javascript:alert(1))"), note="# note\n| x |"),
        result(Area.PRIVACY, "pii", "permit_nbr", "error", 2, 10, "no phone", kind="phone", samples=("row 3",),
               note="<b>found</b> **by** `2` cells"),
    ]
    blocks = build_report(spec, {"rows": 10, "path": "x.parquet"}, results, True,
                          dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    page = markdown().render(render_markdown(blocks))
    tags = assert_inert(page, {"h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "strong"})
    assert tags.headings[0] == ("h1", f"Data Submission Checklist report: {plain_line(NAME)}")
    assert [level for level, _ in tags.headings].count("h1") == 1
    # Every row has its table's width: no cell was split or added.
    widths = {len(row) for row in tags.rows}
    assert widths <= {2, 8, 10, 4}
    assert ["FAIL", "quality", "pattern", "permit_nbr", "error", "1", "10", "the whole value matches a|b<script>",
            "<img src=x onerror=alert(1)>, [x](javascript:alert(1))", "# note | x |"] in tags.rows
    assert all("<script>" not in text for text in tags.strong)

    report = render_html(blocks, "t")
    for live in ("<script", "<img", "<iframe", "onerror=alert(1)>", "<b>", "<b "):
        assert live not in report
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in report


def test_a_report_paragraph_keeps_its_own_bold_and_spacing():
    page = render_markdown(build_report(_plain_spec(), {"rows": 1}, [], True, dt.datetime(2026, 11, 27,
                                                                                           tzinfo=dt.UTC)))
    assert "**PASSED.** 0 checks: 0 passed, 0 warnings, 0 errors." in page


def _plain_spec():
    return load_catalog(REPO_ROOT / "include").get("building-permits").spec


def test_the_step1_warnings_filled_in_at_run_time_are_escaped_and_the_only_link_is_ours():
    url = "http://airflow.example:8080/dags/sr/runs/manual__2026-11-27T18%3A00%3A00%2B00%3A00/tasks/validate"
    warnings = [f'pattern(zip): 4 of 10 rows outside the rule "{text}"' for text in HOSTILE[:8]]
    body = step1_body(department_name="Sanitation", dataset_name="311", checklist="", validation_summary="ok",
                      warnings=warnings, warnings_total=30, report_url=url)
    page = markdown().render(body)
    tags = Tags(page)
    assert set(tags.tags) <= {"p", "strong", "ul", "li", "a"}
    # One link, the pipeline's own, to the report in the Airflow UI; no image, script or handler.
    assert [a for a in tags.attributes if not a.startswith("style=text-align")] == [f"href={url}"]
    items = re.findall(r"<li>(.*?)</li>", page, re.S)
    assert items[:8] == [shown(w) for w in warnings]
    assert items[-1] == "and 22 more (see the report)"
    assert "{{" not in body
