"""The Open Data view's pages through the real API server app: the inventory (every state, what
waits on whom with its link, filters, sort, CSV), a dataset's page, the timeline, data.json and
the quarterly report; hostile text from dataset files, people and Airflow is escaped everywhere."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

from tests.opendata.ui.conftest import (
    HOSTILE_ID,
    HOSTILE_NAME,
    HOSTILE_PLAN,
    HOSTILE_REASON,
    HOSTILE_RUN,
    HOSTILE_STEWARD,
    PREFIX,
    REPORT_RUN,
    Elements,
)

pytestmark = pytest.mark.postgres


def rows_of(page: Elements) -> dict[str, dict[str, str | None]]:
    return {str(attrs["data-dataset-id"]): attrs for attrs in page.all("inventory-row")}


class Markup(HTMLParser):
    """Every tag and attribute name of a page, as a browser reads them."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs


def assert_safe_page(response) -> None:
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    markup = Markup(response.text)
    # Not one script, ours or injected; no element a text could have smuggled in; no event handler.
    assert not {"script", "img", "object", "embed", "form"} & set(markup.tags) - ({"form"} if "filters" in
                                                                                  response.text else set())
    assert [a for a in markup.attributes if a[0].startswith("on")] == []
    assert all(not (value or "").strip().lower().startswith("javascript:") for _, value in markup.attributes)
    for name, value in markup.attributes:
        if name == "src":
            assert str(value).startswith("/opendata/datasets/")  # the report frame only


def test_the_inventory_shows_every_datasets_stage_freshness_and_what_waits_on_whom(coordinator):
    response = coordinator.get("/opendata/")
    assert_safe_page(response)
    page = Elements(response.text)
    rows = rows_of(page)
    # 40 generated, the three bundled files, the bundled planned file, the hostile one, and the two plans.
    assert len(rows) == 47 and {"building-permits", "street-sweeping", "elevator-permits", HOSTILE_ID,
                                "soft-story-retrofit-orders"} <= set(rows)
    stage = {dataset_id: attrs["data-stage"] for dataset_id, attrs in rows.items()}
    fresh = {dataset_id: attrs["data-freshness"] for dataset_id, attrs in rows.items()}
    assert [stage[f"{PREFIX}-{n:04d}"] for n in (0, 9, 10, 11, 12, 13, 14, 16, 18)] == [
        "refreshing", "refreshing", "stage-2", "stage-1", "not-ready", "rejected", "scheduled", "not-ready", "retired"]
    assert [fresh[f"{PREFIX}-{n:04d}"] for n in (0, 7, 9, 10, 11, 19)] == [
        "fresh", "due", "overdue", "fresh", "not-public", "unscheduled"]
    assert stage["building-permits"] == "not-ready" and stage["street-sweeping"] == "planned"
    assert stage["soft-story-retrofit-orders"] == "planned"  # status: planned in its dataset file
    kinds = {attrs["data-kind"]: attrs["href"] for attrs in page.all("waiting-link")}
    assert set(kinds) == {"step1", "shrink", "cdo-review", "resubmit", "comments"}
    assert re.fullmatch(r"/dags/ui-world-00[13]2/runs/scheduled__[^/]+/tasks/department_approval/required_actions"
                        r"\?map_index=-1", str(kinds["step1"]))
    assert str(kinds["shrink"]).endswith("/tasks/shrink_approval/required_actions?map_index=-1")
    assert re.fullmatch(r"https://data\.lacity\.org/d/w0[0-9]{2}-0000", str(kinds["cdo-review"]))
    for attrs in page.all("waiting-link"):  # Airflow's pages open in the whole window, the portal's in a new one
        assert attrs["target"] == ("_blank" if str(attrs["href"]).startswith("https://") else "_top")
    assert f'{PREFIX}-0012' in " ".join(str(a["href"]) for a in page.all("waiting-link") if a["data-kind"] == "step1")
    waiting_text = " ".join(page.texts("cell-waiting"))
    assert "waits on Helen Wu" in waiting_text and "waits on Maria Alvarez" in waiting_text
    assert page.texts("row-count") == ["47 of 47 datasets"]
    portal = {str(attrs["href"]) for attrs in page.all("portal-link")}
    assert "https://data.lacity.org/d/w000-0000" in portal
    assert all(str(a["href"]).startswith("/opendata/datasets/") for a in page.all("dataset-link"))


def test_filters_sort_and_the_csv_export(coordinator):
    page = Elements(coordinator.get("/opendata/?stage=stage-1").text)
    assert {attrs["data-stage"] for attrs in rows_of(page).values()} == {"stage-1"} and len(rows_of(page)) == 2
    page = Elements(coordinator.get("/opendata/?freshness=overdue&department=sanitation").text)
    assert set(rows_of(page)) == {f"{PREFIX}-0009"}
    page = Elements(coordinator.get("/opendata/?waiting=1").text)
    assert all(attrs["data-dataset-id"] for attrs in page.all("inventory-row"))
    assert len(page.all("inventory-row")) == len({a["data-dataset-id"] for a in page.all("inventory-row")}) >= 8
    ordered = [attrs["data-freshness"] for attrs in Elements(coordinator.get("/opendata/?sort=freshness").text)
               .all("inventory-row")]
    assert ordered[:2] == ["overdue", "overdue"] and ordered.index("due") < ordered.index("fresh")
    assert Elements(coordinator.get("/opendata/?sort=freshness").text).all("sort-freshness")[0]["href"] == \
        "/opendata/?sort=freshness&order=desc"
    # An unknown filter value is ignored, never reflected.
    response = coordinator.get('/opendata/?stage="><script>x</script>&sort=__class__')
    assert_safe_page(response)
    assert len(rows_of(Elements(response.text))) == 47

    export = coordinator.get("/opendata/?format=csv&stage=rejected")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="opendata-inventory-\d{4}-\d{2}-\d{2}\.csv"',
                        export.headers["content-disposition"])
    records = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["stage"] for r in records} == {"rejected"}
    assert {r["dataset_id"] for r in records} == {f"{PREFIX}-0013", f"{PREFIX}-0033", HOSTILE_ID}
    hostile = next(r for r in records if r["dataset_id"] == HOSTILE_ID)
    assert hostile["name"] == HOSTILE_NAME and hostile["waiting_links"] == f"/dags/{HOSTILE_ID}"
    everything = list(csv.DictReader(io.StringIO(coordinator.get("/opendata/?format=csv").text)))
    assert len(everything) == 47
    assert all(not value.startswith(("=", "+", "-", "@")) for r in everything for value in r.values())


def test_a_datasets_page(coordinator):
    response = coordinator.get(f"/opendata/datasets/{PREFIX}-0003")
    assert_safe_page(response)
    page = Elements(response.text)
    assert page.all("dataset-stage")[0]["data-stage"] == "refreshing"
    assert page.all("dataset-freshness")[0]["data-freshness"] == "fresh"
    (frame,) = page.all("report-frame")
    # sandbox with no allowance at all: no script, no form, no same-origin access, no top navigation.
    assert "sandbox" in frame and frame["sandbox"] in (None, "")
    assert frame["src"] == f"/opendata/datasets/{PREFIX}-0003/report"
    assert page.texts("report-run-id") == [REPORT_RUN]
    assert len(page.all("run-row")) == 20 and len(page.all("version-row")) == 3
    assert len(page.all("chart-rows")) == 1 and len(page.all("chart-punctuality")) == 1
    approvals = " | ".join(page.texts("approval-row"))
    assert "Step 1: department approval Helen Wu" in approvals and "Stage 1 review" in approvals
    assert page.all("dag-link")[0]["href"] == f"/dags/{PREFIX}-0003"
    # A dataset waiting for Step 1: the link to its Required Actions; no report yet.
    page = Elements(coordinator.get(f"/opendata/datasets/{PREFIX}-0012").text)
    assert [a["data-kind"] for a in page.all("waiting-link")] == ["step1"]
    assert page.all("report-missing") and not page.all("report-frame")
    # A plan without a file, an unknown id, and an id that is not one.
    assert coordinator.get("/opendata/datasets/street-sweeping").status_code == 200
    assert coordinator.get("/opendata/datasets/no-such-dataset").status_code == 404
    assert coordinator.get("/opendata/datasets/..%2F..%2Fetc").status_code == 404


def test_the_checklist_report_is_served_isolated(coordinator):
    report = coordinator.get(f"/opendata/datasets/{PREFIX}-0003/report")
    assert report.status_code == 200 and "Data Submission Checklist report" in report.text
    csp = report.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "allow-scripts" not in csp
    assert "form-action 'none'" in csp
    # A report file someone planted with a script and a form: served, but nothing in it may run or send.
    planted = coordinator.get(f"/opendata/datasets/{HOSTILE_ID}/report")
    assert planted.status_code == 200 and "<script>" in planted.text
    assert planted.headers["content-security-policy"] == csp
    assert coordinator.get(f"/opendata/datasets/{PREFIX}-0012/report").status_code == 404


def test_hostile_text_is_escaped_everywhere(coordinator):
    for route in ("/opendata/", f"/opendata/datasets/{HOSTILE_ID}", "/opendata/timeline",
                  "/opendata/?stage=rejected"):
        response = coordinator.get(route)
        assert_safe_page(response)
        assert "&lt;script&gt;alert(" in response.text
    page = coordinator.get(f"/opendata/datasets/{HOSTILE_ID}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the dataset's name
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page  # the steward
    assert "&lt;script&gt;alert(3)&lt;/script&gt; fix it" in page  # the rejection reason
    assert "&lt;img src=x onerror=alert(7)&gt;" in page  # the run's error
    assert "manual__&#34;&gt;&lt;script&gt;alert(4)&lt;/script&gt;" in page  # Airflow's run id
    timeline = coordinator.get("/opendata/timeline").text
    assert "&lt;script&gt;alert(5)&lt;/script&gt; Street Sweeping" in timeline
    assert HOSTILE_RUN not in page and HOSTILE_NAME not in page and HOSTILE_STEWARD not in page
    assert HOSTILE_REASON not in page and HOSTILE_PLAN not in timeline


def test_the_timeline_is_one_list_with_overdue_targets_marked(coordinator):
    response = coordinator.get("/opendata/timeline")
    assert_safe_page(response)
    page = Elements(response.text)
    rows = page.all("timeline-row")
    ids = [str(r["data-dataset-id"]) for r in rows]
    assert ids[0] == "street-sweeping" and rows[0]["data-overdue"] == "true"  # target 2026-01-15, not met
    assert "elevator-permits" in ids and next(r for r in rows if r["data-dataset-id"] == "elevator-permits")[
        "data-overdue"] == "false"
    assert {r["data-stage"] for r in rows} == {"planned", "not-ready", "rejected", "stage-1", "scheduled"}
    assert f"{PREFIX}-0000" not in ids  # public: not on the way any more
    assert len(page.all("timeline-overdue")) == 1


def test_data_json_lists_the_published_datasets(coordinator):
    response = coordinator.get("/opendata/data.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    document = json.loads(response.text)
    assert document["conformsTo"] == "https://project-open-data.cio.gov/v1.1/schema"
    assert document["@id"] == "http://testserver/opendata/data.json"
    listed = {d["landingPage"] for d in document["dataset"]}
    # stage-2, refreshing and retired datasets (public since a known time): 15 of every 20 in the world.
    assert len(listed) == 30 and "https://data.lacity.org/d/w000-0000" in listed
    assert "https://data.lacity.org/d/w011-0000" not in listed  # Stage 1: not public yet


def test_the_quarterly_report(coordinator):
    html = coordinator.get("/opendata/reports/quarterly?quarter=2026-q3&format=html")
    assert html.status_code == 200 and "Open data quarterly report, 2026 Q3" in html.text
    assert "sandbox" in html.headers["content-security-policy"] and "<script" not in html.text.lower()
    text = coordinator.get("/opendata/reports/quarterly?quarter=2026 Q3&format=csv")
    assert text.status_code == 200
    assert text.headers["content-disposition"] == 'attachment; filename="opendata-quarterly-2026-q3.csv"'
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert rows[-1]["scope"] == "city" and int(rows[-1]["datasets"]) >= 44
    assert coordinator.get("/opendata/reports/quarterly").status_code == 200  # the last full quarter
    assert coordinator.get("/opendata/reports/quarterly?quarter=next-year").status_code == 400
    assert coordinator.get("/opendata/reports/quarterly?quarter=2099-q1").status_code == 400  # not started
    assert coordinator.get("/opendata/reports/quarterly?format=pdf").status_code == 422


def test_rows_of_dags_the_user_may_not_read_are_left_out(coordinator, monkeypatch):
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    monkeypatch.setattr(manager, "get_authorized_dag_ids", lambda **_: {f"{PREFIX}-0000", f"{PREFIX}-0012"})
    rows = rows_of(Elements(coordinator.get("/opendata/").text))
    # The two readable DAGs, and what has no DAG yet (plans, files not parsed: any reader of DAGs sees them).
    # The bundled files have a DAG in the metadata database when an earlier test of this worker parsed them.
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    bundled = {"building-permits", "restaurant-inspections", "service-requests-311"}
    with create_session() as session:
        parsed = {dag_id for (dag_id,) in session.query(DagModel.dag_id).filter(DagModel.dag_id.in_(bundled))}
    assert set(rows) == {f"{PREFIX}-0000", f"{PREFIX}-0012", "street-sweeping", "elevator-permits", HOSTILE_ID,
                         "soft-story-retrofit-orders"} | (bundled - parsed)
    timeline = {a["data-dataset-id"] for a in Elements(coordinator.get("/opendata/timeline").text).all("timeline-row")}
    assert f"{PREFIX}-0011" not in timeline and f"{PREFIX}-0012" in timeline
    export = list(csv.DictReader(io.StringIO(coordinator.get("/opendata/?format=csv").text)))
    assert {r["dataset_id"] for r in export} == set(rows)


def test_a_registry_that_does_not_answer_leaves_a_notice_not_an_error(coordinator, monkeypatch):
    from opendata.inventory.registry_read import RegistryReader
    from opendata.registry import RegistryUnavailable

    def down(self, ids=None):
        raise RegistryUnavailable("the publication registry (sqlite:///registry.sqlite) does not answer")

    monkeypatch.setattr(RegistryReader, "read", down)
    response = coordinator.get("/opendata/")
    assert_safe_page(response)
    page = Elements(response.text)
    assert any("registry could not be read" in text for text in page.texts("notice"))
    rows = rows_of(page)
    assert len(rows) == 47  # the files and plans stay; their stages are not guessed
    assert {attrs["data-stage"] for attrs in rows.values()} == {"unknown", "planned"}


def test_the_report_and_data_json_are_read_from_an_s3_store(coordinator, s3_store):
    """In a deployment whose workers share no disk, the API server reads what the tasks kept in
    the store; its ``aws`` connection comes from the environment (no task is running here)."""
    from opendata import storage
    from opendata.lifecycle.staging import report_location

    report = storage.join(report_location(f"{PREFIX}-0003", REPORT_RUN), "data-submission-checklist.html")
    storage.write_text(report, "<!DOCTYPE html><p>kept in the bucket</p>")
    served = coordinator.get(f"/opendata/datasets/{PREFIX}-0003/report")
    assert served.status_code == 200 and "kept in the bucket" in served.text
    assert "sandbox" in served.headers["content-security-policy"]
    assert coordinator.get(f"/opendata/datasets/{PREFIX}-0012/report").status_code == 404
    page = Elements(coordinator.get(f"/opendata/datasets/{PREFIX}-0003").text)
    assert page.texts("report-run-id") == [REPORT_RUN]

    # data.json as the catalog DAG kept it in the store: what harvesters get.
    storage.write_text(storage.data_json(), '{"dataset": [], "kept": "in the bucket"}')
    assert coordinator.get("/opendata/data.json").json()["kept"] == "in the bucket"
