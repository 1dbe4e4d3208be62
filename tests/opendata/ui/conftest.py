"""A city's inventory behind the real Airflow API server app (``create_app()``, the plugin loaded
from the plugins folder as Airflow loads it), signed in with Airflow's own JWTs.

The world (``opendata.samples.inventory_world``): the three bundled dataset files, 40 generated
ones in every state, and one whose texts are hostile; a SQLite registry; the session's migrated
Airflow metadata database (PostgreSQL) with their DAGs, runs and waiting tasks; a checklist
report written by the real report writer.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import REPO_ROOT

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PREFIX = "ui-world"
HOSTILE_ID = "hostile-dataset"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_STEWARD = '"><img src=x onerror=alert(2)>'
HOSTILE_REASON = "<script>alert(3)</script> fix it"
HOSTILE_RUN = 'manual__"><script>alert(4)</script>'
HOSTILE_PLAN = "<script>alert(5)</script> Street Sweeping"
#: The run of ui-world-0003 before its latest (daily, refreshed 12 hours ago): the latest run with a report.
REPORT_RUN = f"scheduled__{(NOW - dt.timedelta(hours=36)).isoformat()}"


@dataclass
class World:
    root: Path
    include: Path
    registry_url: str
    datasets: dict[str, Any]


def _hostile_file() -> dict[str, Any]:
    from opendata.samples.portal_world import dataset_file

    document = dataset_file(HOSTILE_ID, "sanitation", "daily")
    document["name"] = HOSTILE_NAME
    document["description"] = "<iframe src=javascript:alert(6)>"
    document["steward"] = {"name": HOSTILE_STEWARD, "email": "steward@lasan.lacity.example"}
    return document


@pytest.fixture(scope="session")
def world(tmp_path_factory, airflow_db) -> Iterator[World]:
    from airflow.utils.session import create_session

    from opendata.freshness.sources import load_dataset_files
    from opendata.registry import Registry
    from opendata.samples.inventory_world import seed_airflow, seed_registry, write_files
    from opendata.samples.inventory_world import world as make_world
    from opendata.validation.report import write_reports

    root = tmp_path_factory.mktemp("ui-world")
    include = root / "include"
    datasets = make_world(40, prefix=PREFIX)
    write_files(include, datasets, REPO_ROOT / "include" / "governance.yaml")
    for path in (REPO_ROOT / "include" / "datasets").glob("*/*.yaml"):
        (include / "datasets" / path.parent.name).mkdir(exist_ok=True)
        shutil.copy(path, include / "datasets" / path.parent.name / path.name)
    (include / "datasets" / "sanitation" / f"{HOSTILE_ID}.yaml").write_text(yaml.safe_dump(_hostile_file()))
    registry_url = f"sqlite:///{root / 'registry.sqlite'}"
    registry = Registry(registry_url)
    try:
        seed_registry(registry, datasets, NOW, runs_per_dataset=20)
        # The hostile dataset: refused at Step 1 with a hostile reason; its last run failed with a hostile error.
        registry.record_department_rejection(HOSTILE_ID, by="Helen Wu", at=NOW, reason=HOSTILE_REASON, run_id="r1")
        registry.start_run(HOSTILE_ID, HOSTILE_RUN, kind="publication")
        registry.update_run(HOSTILE_ID, HOSTILE_RUN, outcome="failed", error="<img src=x onerror=alert(7)>")
    finally:
        registry.close()
    with create_session() as session:
        engine = session.get_bind()
    assert isinstance(engine, sa.Engine)
    seed_airflow(engine, datasets, NOW, runs_per_dag=5)
    # The checklist report of one dataset's run, by the real writer, under the state folder.
    state = root / "state"
    spec = load_dataset_files(include).specs[f"{PREFIX}-0003"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENDATA_STATE_DIR", str(state))
        from opendata.lifecycle.staging import report_work_folder as report_dir

        write_reports(spec, {"rows": 3, "path": "extract.parquet", "checksum": "abc"}, [],
                      report_dir(spec.id, REPORT_RUN), False)
        hostile_report = report_dir(HOSTILE_ID, HOSTILE_RUN)
        hostile_report.mkdir(parents=True)
        (hostile_report / "data-submission-checklist.html").write_text(
            "<html><body><script>alert('report')</script><form action=https://evil.example>"
            "<input name=x></form></body></html>")
    yield World(root, include, registry_url, {d.dataset_id: d for d in datasets})


@pytest.fixture(scope="session")
def airflow_app(world):
    """Airflow's API server app, the plugin mounted at /opendata, its read model on the world."""
    import datetime as dt

    from airflow.api_fastapi.app import create_app
    from airflow.configuration import conf
    from starlette.routing import Mount

    from opendata.catalog.dcat import PortalUrls
    from opendata.catalog.quarterly import PlannedEntry
    from opendata.inventory.files import DatasetFileIndex
    from opendata.inventory.service import Inventory
    from opendata.registry import Registry

    if not conf.get("api_auth", "jwt_secret", fallback=None):
        # Airflow reads its config once per process; airflow.cfg may have been written (by `db migrate`)
        # after this process read it. The API server's lifespan needs a signing key.
        import secrets

        conf.set("api_auth", "jwt_secret", secrets.token_urlsafe(64))
    app = create_app()
    mounts = [route for route in app.routes if isinstance(route, Mount) and route.path == "/opendata"]
    assert len(mounts) == 1, "the plugin's app is not mounted at /opendata"
    registry = Registry(world.registry_url)
    planned = [PlannedEntry("sanitation", "street-sweeping", HOSTILE_PLAN, dt.date(2026, 1, 15)),
               PlannedEntry("building-and-safety", "elevator-permits", "Elevator Permits", dt.date(2099, 6, 30))]
    inventory = Inventory(include_dir=world.include, files=DatasetFileIndex(world.include, cache_file=None),
                          registry=registry, portal=PortalUrls("data.lacity.org"), planned=lambda: planned)
    mounts[0].app.state.inventory = lambda: inventory  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENDATA_STATE_DIR", str(world.root / "state"))
        yield app
    registry.close()


def token(username: str = "jorge-ramos", role: str | None = "viewer") -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture
def anonymous(airflow_app):
    from fastapi.testclient import TestClient

    with TestClient(airflow_app) as client:
        yield client


@pytest.fixture
def coordinator(airflow_app):
    """A coordinator signed in to the Airflow UI (its JWT cookie, as the UI's iframe sends it)."""
    from fastapi.testclient import TestClient

    with TestClient(airflow_app) as client:
        client.cookies.set("_token", token())
        yield client


class Elements(HTMLParser):
    """Every element with a ``data-testid``: (test id, attributes, its text)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.open: list[tuple[str, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("br", "input", "img", "meta", "link", "circle", "rect", "line", "polyline"):
            if attributes.get("data-testid"):
                self.found.append((str(attributes["data-testid"]), attributes, []))
            return
        text: list[str] = []
        if attributes.get("data-testid"):
            self.found.append((str(attributes["data-testid"]), attributes, text))
        self.open.append((tag, text))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            opened, _ = self.open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, text in self.open:
            text.append(data)

    def all(self, test_id: str) -> list[dict[str, str | None]]:
        return [attrs for found, attrs, _ in self.found if found == test_id]

    def texts(self, test_id: str) -> list[str]:
        return [" ".join(" ".join(text).split()) for found, _, text in self.found if found == test_id]
