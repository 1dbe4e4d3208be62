"""The catalog DAGs under real Airflow (``dag.test()``) against the portal emulator, the
registry and a real SMTP server: data.json after a publication (valid DCAT-US 1.1), and the
quarterly report written and e-mailed to the Chief Data Officer and every coordinator."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil

from airflow.timetables.trigger import CronTriggerTimetable

from opendata.catalog.dag import build_data_json_dag, build_quarterly_report_dag
from opendata.catalog.quarterly import quarter_of, report_recipients
from opendata.dag_factory import build_dag
from opendata.lifecycle.assets import PUBLISHED_INVENTORY
from opendata.samples.portal_world import mixed_portal
from opendata.spec.loader import load_catalog, load_governance
from tests.conftest import REPO_ROOT
from tests.opendata.catalog.test_dcat import validator
from tests.opendata.freshness.conftest import monitor_world  # noqa: F401 - the fixture

NOW = dt.datetime.now(dt.UTC)


def test_every_publication_and_refresh_updates_the_asset_the_data_json_dag_runs_on():
    catalog = load_catalog(REPO_ROOT / "include")
    dag = build_dag(catalog.datasets[0], governance=catalog.governance)
    for task_id in ("go_public", "refresh"):
        assert PUBLISHED_INVENTORY in dag.get_task(task_id).outlets
    catalog_dag = build_data_json_dag()
    assert list(catalog_dag.timetable.asset_condition.objects) == [PUBLISHED_INVENTORY]


def test_the_quarterly_dag_runs_on_the_first_day_of_each_quarter_city_time():
    timetable = build_quarterly_report_dag().timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert timetable.summary == "0 7 1 1,4,7,10 *"
    assert str(timetable._timezone) == "America/Los_Angeles"


def test_data_json_after_a_publication_lists_the_public_datasets_and_validates(airflow_db, monitor_world,  # noqa: F811
                                                                               monkeypatch, tmp_path):
    datasets, _, _ = mixed_portal(NOW, n=24)
    monitor_world.publish(datasets)
    shutil.copy(REPO_ROOT / "dags" / "open_data_catalog.py", tmp_path / "dags")
    target = tmp_path / "catalog" / "data.json"
    monkeypatch.setenv("OPENDATA_DATA_JSON_PATH", str(target))
    monkeypatch.setenv("OPENDATA_CATALOG_URL", "https://data.lacity.example/data.json")

    run = build_data_json_dag().test()
    assert run.state == "success"
    document = json.loads(target.read_text())
    errors = sorted(validator().iter_errors(document), key=str)
    assert errors == []
    listed = {entry["landingPage"].rsplit("/", 1)[1] for entry in document["dataset"]}
    public = {d.portal_id for d in datasets if d.stage.is_public}
    assert listed == public and len(public) < len(datasets)  # the one in review is not listed
    assert document["@id"] == "https://data.lacity.example/data.json"
    host = monitor_world.emu.url.split("://", 1)[1]
    assert all(entry["landingPage"].startswith(f"http://{host}/d/") for entry in document["dataset"])


def test_quarterly_report_is_written_and_emailed_to_the_cdo_and_every_coordinator(airflow_db, monitor_world,  # noqa: F811
                                                                                  monkeypatch, tmp_path):
    datasets, overdue, _ = mixed_portal(NOW, n=40)
    monitor_world.publish(datasets)
    shutil.copy(REPO_ROOT / "dags" / "open_data_catalog.py", tmp_path / "dags")
    monkeypatch.setenv("OPENDATA_REPORTS_DIR", str(tmp_path / "reports"))
    quarter = quarter_of(NOW)

    run = build_quarterly_report_dag().test(run_conf={"quarter": quarter.slug})
    assert run.state == "success"
    html = tmp_path / "reports" / "quarterly" / f"opendata-quarterly-{quarter.slug}.html"
    rows = list(csv.DictReader(io.StringIO(html.with_suffix(".csv").read_text())))
    city = rows[-1]
    assert city["scope"] == "city" and city["quarter"] == quarter.label
    assert int(city["published"]) == sum(d.stage.is_public for d in datasets)
    assert int(city["in_review"]) == sum(not d.stage.is_public for d in datasets)
    assert int(city["overdue_now"]) >= 1  # the registry's last refresh is the world's data age

    (mail,) = [m for m in monitor_world.mailbox.messages() if m["X-OpenData-Event"] == "quarterly_report"]
    governance, _ = load_governance(monitor_world.include / "governance.yaml")
    assert governance is not None
    to = [a.strip() for a in mail["To"].split(",")]
    assert to == report_recipients(governance) and len(to) >= 2
    assert quarter.label in mail["Subject"]
    names = sorted(part.get_filename() for part in mail.iter_attachments())
    assert names == [f"opendata-quarterly-{quarter.slug}.csv", f"opendata-quarterly-{quarter.slug}.html"]
    assert "<svg" in mail.get_body(("html",)).get_content()
    assert f"Overdue now: {city['overdue_now']}" in mail.get_body(("plain",)).get_content()
    assert overdue  # the world has overdue datasets to report


def test_the_quarterly_dag_can_write_without_mailing(airflow_db, monitor_world, monkeypatch, tmp_path):  # noqa: F811
    shutil.copy(REPO_ROOT / "dags" / "open_data_catalog.py", tmp_path / "dags")
    monkeypatch.setenv("OPENDATA_REPORTS_DIR", str(tmp_path / "reports"))
    run = build_quarterly_report_dag().test(run_conf={"quarter": "2026-q3", "email": False})
    assert run.state == "success"
    assert (tmp_path / "reports" / "quarterly" / "opendata-quarterly-2026-q3.csv").is_file()
    assert monitor_world.mailbox.messages() == []


def test_on_demand_from_the_command_line(monitor_world, tmp_path, capsys):  # noqa: F811
    from opendata.cli import main

    datasets, _, _ = mixed_portal(NOW, n=12)
    monitor_world.publish(datasets)
    assert main(["report", "quarterly", "--quarter", "2026 Q4", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "opendata-quarterly-2026-q4.html").is_file()
    assert monitor_world.mailbox.messages() == []
    assert main(["report", "quarterly", "--quarter", "2026-q4", "--out", str(tmp_path / "out"), "--email"]) == 0
    assert [m["X-OpenData-Event"] for m in monitor_world.mailbox.messages()] == ["quarterly_report"]
    assert main(["report", "quarterly", "--quarter", "the fourth"]) == 2
    assert "opendata report quarterly:" in capsys.readouterr().err

    assert main(["catalog", "data-json", "--out", str(tmp_path / "data.json")]) == 0
    document = json.loads((tmp_path / "data.json").read_text())
    assert validator().is_valid(document) and len(document["dataset"]) == sum(d.stage.is_public for d in datasets)
