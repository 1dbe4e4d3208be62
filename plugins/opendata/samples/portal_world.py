"""A portal of many public datasets for the monitor's tests and benchmark: synthetic dataset
files, datasets created on the portal emulator over HTTP (public at once, back-dated), registry
rows that record them public, and a mixed-age portal whose overdue datasets are known.

A plain module (no pytest, no test-session set-up), shared by the monitor's tests and
bench/freshness_bench.py. The expected states come from the policy table in ``spec/freshness.py``;
the table itself is checked against the issue's figures in tests/opendata/freshness/test_policy_and_status.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import requests
import yaml

from opendata.registry import Registry, Stage
from opendata.registry.store import dataset_state, run_log
from opendata.spec.freshness import POLICY_TABLE
from opendata.spec.vocab import UpdateFrequency

if TYPE_CHECKING:
    from opendata.notify.mailbox import Mailbox

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)

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


class PortalEmulator(Protocol):
    """What the world uses of a running portal emulator (portal_emulator.testing.Emulator, a
    test tool the package does not import)."""

    @property
    def url(self) -> str: ...

    def session(self, role: str | None = ...) -> requests.Session: ...

    def set_timestamps(self, dataset_id: str, *, data_updated_at: dt.datetime | float | None = ...,
                       metadata_updated_at: dt.datetime | float | None = ...) -> dict[Any, Any]: ...


@dataclass
class MonitorWorld:
    include: Path
    emu: PortalEmulator
    mailbox: Mailbox
    #: The Slack webhook stand-in of the tests (the world only carries it); None in the benchmark.
    slack: object
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

    def mail(self, event: str) -> list[EmailMessage]:
        return [m for m in self.mailbox.messages() if m["X-OpenData-Event"] == event]


FREQUENCIES = ["daily", "weekly", "monthly", "quarterly", "annually", "hourly", "biweekly", "semiannually",
               "irregular", "historical"]
KINDS = ["fresh", "due", "overdue", "overdue, metadata edited today"]
OVERRIDE = {"due_after": {"count": 30, "period": "day"}, "overdue_after": {"count": 60, "period": "day"}}


def mixed_portal(now: dt.datetime, n: int = 200) -> tuple[list[PortalDataset], set[str], set[str]]:
    """``n`` datasets; returns them, the ids expected overdue and those expected due."""
    departments = list(DEPARTMENTS)
    datasets: list[PortalDataset] = []
    overdue: set[str] = set()
    due: set[str] = set()
    for i in range(n):
        frequency = FREQUENCIES[i % 10]
        kind = KINDS[(i // 10) % 4]
        row = POLICY_TABLE.get(UpdateFrequency(frequency), POLICY_TABLE[UpdateFrequency.DAILY])
        due_after, overdue_after = row.due_after, row.overdue_after
        age = {"fresh": due_after / 2, "due": (due_after + overdue_after) / 2}.get(kind, overdue_after * 1.5)
        d = PortalDataset(f"monitor-test-{i:03d}", departments[i % 3], frequency, now - age)
        if kind.endswith("edited today"):
            d.metadata_updated_at = now  # updatedAt and viewLastModified move; dataUpdatedAt does not
        if i % 25 == 7:
            d.stage = Stage.STAGE_1  # private, waiting for review: not monitored
        if i % 40 == 20:  # a daily dataset whose file allows 30 / 60 days: ten days old is fresh
            d.freshness, d.data_updated_at = OVERRIDE, now - dt.timedelta(days=10)
        monitored = d.stage.is_public and frequency not in ("irregular", "historical")
        if monitored and not d.freshness and kind != "fresh":
            (due if kind == "due" else overdue).add(d.dataset_id)
        datasets.append(d)
    return datasets, overdue, due
