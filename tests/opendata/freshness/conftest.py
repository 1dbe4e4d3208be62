"""A portal of many public datasets for the monitor: synthetic dataset files, the portal
emulator (public at once, no review queue), a registry that records them public, a real SMTP
server and a Slack webhook stand-in."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from opendata.notify.mailbox import start_mailbox
from opendata.registry import Registry, Stage
from opendata.registry.store import dataset_state, run_log
from portal_emulator.testing import run_emulator
from tests.conftest import REPO_ROOT
from tests.opendata.notify.conftest import SlackReceiver

DEPARTMENTS = {"sanitation": "samuel-okafor", "building-and-safety": "jorge-ramos",
               "environmental-health": "kevin-nguyen"}


def dataset_file(dataset_id: str, department: str, frequency: str, freshness: dict | None = None) -> dict:
    """A minimal valid dataset file (the monitor reads only a few of its fields)."""
    number = dataset_id.rsplit("-", 1)[-1]
    doc = {
        "id": dataset_id, "department": department, "name": f"Monitor Test {number}",
        "description": "A synthetic dataset for the freshness monitor's tests.",
        "steward": {"name": f"Steward {number}", "email": f"steward{number}@{department}.lacity.example"},
        "coordinator": DEPARTMENTS[department], "source_system": "Synthetic",
        "coverage": {"start_date": "2020-01-01", "end_date": "current",
                     "geographic_coverage": "City of Los Angeles", "geographic_granularity": "city"},
        "update_frequency": frequency, "collection_frequency": frequency,
        "existing_publication": {"published": False}, "priority": {"level": "low"},
        "classification": {"category": "public", "level": 1}, "data_quality": {"rating": "high"},
        "publishing": {"category": "Test", "tags": ["test"], "license": "PUBLIC_DOMAIN",
                       "attribution": "City of Los Angeles",
                       "contact": {"name": "Open Data", "email": "opendata@lacity.example"},
                       "row_identifier": "record_id"},
        "source": {"kind": "file", "path": "sample_sources/none.csv"},
        "columns": [
            {"field_name": "record_id", "display_name": "Record ID", "type": "text", "description": "Identifier."},
            {"field_name": "recorded_on", "display_name": "Recorded on", "type": "floating_timestamp",
             "description": "When the record was made."},
        ],
    }
    if freshness:
        doc["freshness"] = freshness
    return doc


@dataclass
class PortalDataset:
    dataset_id: str
    department: str
    frequency: str
    data_updated_at: dt.datetime
    stage: Stage = Stage.REFRESHING
    freshness: dict | None = None
    metadata_updated_at: dt.datetime | None = None
    portal_id: str = ""


@dataclass
class MonitorWorld:
    include: Path
    emu: object
    mailbox: object
    slack: SlackReceiver
    registry_url: str
    datasets: list[PortalDataset] = field(default_factory=list)

    def registry(self) -> Registry:
        return Registry(self.registry_url)

    def publish(self, datasets: Iterable[PortalDataset], workers: int = 4) -> None:
        """Dataset files, portal datasets (over HTTP, public, back-dated) and registry rows."""
        datasets = list(datasets)
        for d in datasets:
            folder = self.include / "datasets" / d.department
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{d.dataset_id}.yaml").write_text(
                yaml.safe_dump(dataset_file(d.dataset_id, d.department, d.frequency, d.freshness), sort_keys=False))
        session = self.emu.session("publisher")
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda d: self._create(session, d), datasets))
        now = dt.datetime.now(dt.UTC)
        registry = self.registry()
        with registry.engine.begin() as conn:
            conn.execute(dataset_state.insert(), [
                {"dataset_id": d.dataset_id, "portal_id": d.portal_id, "stage": d.stage.value,
                 "public_at": d.data_updated_at if d.stage.is_public else None, "updated_at": now}
                for d in datasets])
            # The pipeline's last successful run wrote the portal's last update.
            conn.execute(run_log.insert(), [
                {"dataset_id": d.dataset_id, "run_id": "scheduled__last", "kind": "refresh",
                 "started_at": d.data_updated_at - dt.timedelta(minutes=5), "ended_at": d.data_updated_at,
                 "outcome": "success"} for d in datasets])
        registry.close()
        self.datasets += datasets

    def _create(self, session: requests.Session, d: PortalDataset) -> None:
        created = session.post(f"{self.emu.url}/api/views.json", timeout=30, data=json.dumps({
            "name": d.dataset_id, "description": "synthetic",
            "columns": [{"fieldName": "record_id", "name": "Record ID", "dataTypeName": "text"}],
            "metadata": {"rowIdentifier": "record_id"}}), headers={"Content-Type": "application/json"})
        created.raise_for_status()
        d.portal_id = created.json()["id"]
        if d.stage.is_public:
            session.put(f"{self.emu.url}/api/views/{d.portal_id}.json",
                        params={"method": "setPermission", "value": "public.read"}, timeout=30).raise_for_status()
        self.emu.set_timestamps(d.portal_id, data_updated_at=d.data_updated_at,
                                metadata_updated_at=d.metadata_updated_at or d.data_updated_at)

    def mail(self, event: str) -> list:
        return [m for m in self.mailbox.messages() if m["X-OpenData-Event"] == event]


@pytest.fixture
def monitor_world(tmp_path, monkeypatch) -> MonitorWorld:
    include = tmp_path / "include"
    (include / "datasets").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "include" / "governance.yaml", include / "governance.yaml")
    registry_url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    # Explicit, so that no task asks Airflow for a registry connection.
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", registry_url)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example")
    # dag.test() parses the whole DAG folder before each run: give it the monitor's file alone,
    # not one dataset DAG per synthetic file.
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO_ROOT / "dags" / "freshness_monitor.py", dags)
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    slack = SlackReceiver()
    with run_emulator(tmp_path / "portal", extra_args=["--no-approvals"]) as emu, \
            start_mailbox(tmp_path / "mail") as mailbox:
        user, password = emu.auth("publisher")
        monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
            "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
            "extra": {"app_token": "test-app-token", "max_retries": 2, "backoff_base": 0.1}}))
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", mailbox.connection())
        monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", slack.url)
        try:
            yield MonitorWorld(include, emu, mailbox, slack, registry_url)
        finally:
            slack.stop()
