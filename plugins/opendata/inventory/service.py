"""The inventory's reads put together: what the "Open Data" view calls, once per page.

    inventory = Inventory()                                     # one per API server process
    view = inventory.view(session)                              # every row: files, registry, Airflow
    detail = inventory.detail("building-permits", session)      # one dataset's page
    inventory.data_json(catalog_url=..., city_name=...)         # DCAT-US data.json (text)
    inventory.quarterly(parse_quarter("2026 Q3"))               # the quarterly report

A page costs: a stat of every dataset file (files parsed again only when changed), four
registry queries and three Airflow queries, whatever the number of datasets. A part that
cannot be read (the registry, Airflow's database) leaves a notice on the page instead of
failing it; governance.yaml that does not load fails it (names come from it).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from opendata import settings
from opendata.catalog.dcat import PortalUrls
from opendata.catalog.quarterly import PlannedEntry, Quarter, QuarterlyReport
from opendata.freshness.calendar import zone
from opendata.freshness.policy import CITY_TIMEZONE
from opendata.inventory.build import build_rows
from opendata.inventory.detail import DatasetDetail, approvals, latest_report, punctuality, rows_over_time
from opendata.inventory.files import DatasetFileIndex
from opendata.inventory.links import Links, airflow_root, valid_dataset_id
from opendata.inventory.model import AirflowFacts, FileSnapshot, InventoryRow, RegistryFacts
from opendata.inventory.registry_read import RegistryReader
from opendata.inventory.timeline import timeline
from opendata.registry.errors import RegistryUnavailable
from opendata.registry.store import Registry

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath
    from sqlalchemy.orm import Session

    from opendata.inventory.model import AnsweredRequest, TimelineEntry

log = logging.getLogger(__name__)

#: The portal connection the links and data.json use (``OPENDATA_PORTAL_CONN_ID``).
#: How long the portal connection's domain is kept before it is read again.
PORTAL_TTL_SECONDS = 60.0


@dataclass
class InventoryView:
    """One page's worth of the inventory."""

    rows: list[InventoryRow]
    files: FileSnapshot
    now: dt.datetime
    #: What could not be read, in words for the page.
    notices: list[str] = field(default_factory=list)

    @property
    def departments(self) -> dict[str, str]:
        """Department code -> name, of the governance file and of every row."""
        found = {code: d.name for code, d in self.files.governance.departments.items()}
        for row in self.rows:
            found.setdefault(row.department, row.department_name)
        return dict(sorted(found.items(), key=lambda item: item[1].casefold()))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Inventory:
    """``planned``: the datasets departments plan to publish (target dates for the timeline);
    ``registry``: the publication registry (default: the configured one, opened on first use);
    ``portal``: the portal's URLs (default: from the Airflow connection ``socrata_default``)."""

    def __init__(self, *, include_dir: Path | None = None, files: DatasetFileIndex | None = None,
                 registry: Registry | None = None,
                 planned: Callable[[], Sequence[PlannedEntry]] | None = None,
                 portal: PortalUrls | None = None, base_url: str | None = None,
                 timezone: str | None = None, clock: Callable[[], dt.datetime] = _utcnow):
        self.include_dir = include_dir or settings.include_dir()
        self.files = files or DatasetFileIndex(self.include_dir)
        self.timezone = timezone or settings.freshness_timezone() or CITY_TIMEZONE
        self.planned = planned or (lambda: ())
        self.clock = clock
        self._registry = registry
        self._reader: RegistryReader | None = RegistryReader(registry) if registry is not None else None
        self._portal = portal
        self._portal_read_at = time.monotonic() if portal is not None else None
        self._fixed_portal = portal is not None
        self._base_url = base_url
        self._lock = threading.Lock()

    # --- the parts --------------------------------------------------------------------------------

    def registry(self) -> Registry:
        """The registry (opened once; RegistryUnavailable when it cannot be)."""
        with self._lock:
            if self._registry is None:
                self._registry = Registry.from_settings()
                self._reader = RegistryReader(self._registry)
            return self._registry

    def reader(self) -> RegistryReader:
        self.registry()
        assert self._reader is not None
        return self._reader

    def links(self) -> Links:
        base = self._base_url if self._base_url is not None else settings.airflow_base_url()
        return Links(root=airflow_root(base), portal=self.portal())

    def portal(self) -> PortalUrls | None:
        """The portal's URLs from the Airflow connection (read again after a minute)."""
        if self._fixed_portal:
            return self._portal
        now = time.monotonic()
        if self._portal_read_at is None or now - self._portal_read_at > PORTAL_TTL_SECONDS:
            self._portal = _portal_from_connection(settings.portal_conn_id())
            self._portal_read_at = now
        return self._portal

    def today(self, now: dt.datetime | None = None) -> dt.date:
        return (now or self.clock()).astimezone(zone(self.timezone)).date()

    def _registry_facts(self, ids: Sequence[str] | None = None) -> RegistryFacts:
        try:
            return self.reader().read(ids)
        except RegistryUnavailable as exc:
            log.warning("Open Data view: %s", exc)
            return RegistryFacts(unavailable=str(exc))

    @staticmethod
    def _airflow_facts(session: Session, ids: Sequence[str] | None = None) -> AirflowFacts:
        from sqlalchemy.exc import SQLAlchemyError

        from opendata.inventory.airflow_read import read_airflow

        try:
            return read_airflow(session, ids)
        except SQLAlchemyError as exc:
            session.rollback()
            log.warning("Open Data view: Airflow's database could not be read: %s", exc)
            return AirflowFacts(unavailable=f"Airflow's database could not be read ({type(exc).__name__})")

    @staticmethod
    def _notices(files: FileSnapshot, registry: RegistryFacts, airflow: AirflowFacts) -> list[str]:
        notices = []
        if registry.unavailable:
            notices.append(f"The registry could not be read, stages and runs are missing: {registry.unavailable}")
        if airflow.unavailable:
            notices.append(f"{airflow.unavailable}: next runs, last runs and approvals waiting in Airflow are missing")
        if files.problems:
            notices.append(f"{len(files.problems)} dataset file(s) do not load and are not listed; run "
                           "`opendata lint`: " + ", ".join(p.path for p in files.problems[:10])
                           + (" ..." if len(files.problems) > 10 else ""))
        return notices

    def warm_up(self, session: Session | None = None) -> None:
        """Read everything once (the files' summaries, the registry, Airflow's database), so that
        the first page view of a new API server process costs what every later one does."""
        self.files.snapshot()
        self._registry_facts()
        if session is not None:
            self._airflow_facts(session)

    # --- the pages ----------------------------------------------------------------------------------

    def view(self, session: Session, now: dt.datetime | None = None) -> InventoryView:
        """Every dataset's row (SpecFileError when governance.yaml does not load)."""
        now = now or self.clock()
        files = self.files.snapshot()
        registry = self._registry_facts()
        airflow = self._airflow_facts(session)
        rows = build_rows(files, registry, airflow, now=now, links=self.links(), planned=self.plans(files))
        return InventoryView(rows, files, now, self._notices(files, registry, airflow))

    def plans(self, files: FileSnapshot) -> list[PlannedEntry]:
        """The planned dataset files, and any plan given to the view (a given one wins)."""
        given = list(self.planned())
        named = {plan.dataset_id for plan in given}
        return given + [plan for plan in files.planned if plan.dataset_id not in named]

    def timeline(self, view: InventoryView) -> list[TimelineEntry]:
        return timeline(view.rows, self.today(view.now), self.timezone)

    def detail(self, dataset_id: str, session: Session, now: dt.datetime | None = None) -> DatasetDetail | None:
        """One dataset's page; None when no file, registry row or plan names it."""
        if not valid_dataset_id(dataset_id):
            return None
        now = now or self.clock()
        files = self.files.snapshot()
        registry = self._registry_facts([dataset_id])
        airflow = self._airflow_facts(session, [dataset_id])
        rows = build_rows(files, registry, airflow, now=now, links=self.links(),
                          planned=[p for p in self.plans(files) if p.dataset_id == dataset_id])
        row = next((r for r in rows if r.dataset_id == dataset_id), None)
        if row is None:
            return None
        summary = files.summaries.get(dataset_id)
        detail = DatasetDetail(row=row, summary=summary, state=registry.states.get(dataset_id),
                               notices=self._notices(FileSnapshot(files.governance, {}), registry, airflow))
        answered: list[AnsweredRequest] = []
        if not airflow.unavailable:
            from sqlalchemy.exc import SQLAlchemyError

            from opendata.inventory.airflow_read import answered_requests

            try:
                answered = answered_requests(session, dataset_id)
            except SQLAlchemyError as exc:
                session.rollback()
                detail.notices.append(f"Airflow's answered approvals could not be read ({type(exc).__name__})")
        if not registry.unavailable:
            try:
                registry_handle = self.registry()
                detail.runs = self.reader().runs(dataset_id)
                detail.history = registry_handle.history(dataset_id)
                detail.versions = registry_handle.versions(dataset_id)
            except RegistryUnavailable as exc:
                detail.notices.append(f"The registry could not be read: {exc}")
        detail.approvals = approvals(summary, detail.history, answered, files)
        detail.punctuality = punctuality(detail.runs, summary.policy if summary else None)
        detail.rows_over_time = rows_over_time(detail.runs)
        run_ids = [run.run_id for run in reversed(detail.runs)]
        if row.last_run is not None and row.last_run.run_id not in run_ids:
            run_ids.insert(0, row.last_run.run_id)
        found = latest_report(dataset_id, run_ids)
        if found is not None:
            detail.report, detail.report_run_id = found
        return detail

    def report_file(self, dataset_id: str) -> ObjectStoragePath | None:
        """The latest checklist report's file of a dataset (for serving it)."""
        if not valid_dataset_id(dataset_id):
            return None
        try:
            run_ids = [run.run_id for run in reversed(self.reader().runs(dataset_id))]
        except RegistryUnavailable:
            return None
        found = latest_report(dataset_id, run_ids)
        return found[0] if found else None

    def data_json(self, *, catalog_url: str, city_name: str, language: Sequence[str] = ()) -> str:
        """The DCAT-US 1.1 ``data.json`` of the published datasets (``catalog.dcat``). Raises
        LookupError without a portal connection, RegistryUnavailable, SpecFileError."""
        from opendata.catalog.dcat import build_data_json, render_data_json
        from opendata.catalog.writer import published_entries
        from opendata.freshness.sources import load_dataset_files

        portal = self.portal()
        if portal is None:
            raise LookupError("no portal connection is configured: data.json names the portal's URLs")
        files = load_dataset_files(self.include_dir)
        states = self.registry().all_states()
        entries, _ = published_entries(files.specs, states)
        document = build_data_json(entries, catalog_url=catalog_url, portal_domain=portal.domain,
                                   governance=files.governance, city_name=city_name, portal_scheme=portal.scheme,
                                   language=language)
        return render_data_json(document)

    def quarterly(self, quarter: Quarter, as_of: dt.datetime | None = None) -> QuarterlyReport:
        """The working group's quarterly report (ValueError for a quarter not started yet)."""
        from opendata.catalog.quarterly_read import report_for

        # None: the planned dataset files (the report reads them); plans given to the view win.
        return report_for(self.registry(), quarter, as_of=as_of or self.clock(), include_dir=self.include_dir,
                          planned=list(self.planned()) or None)


def _portal_from_connection(conn_id: str) -> PortalUrls | None:
    """The portal's scheme and domain from the Airflow connection (None without a usable one)."""
    try:
        from airflow.models.connection import Connection

        from opendata.portal.config import SocrataConnectionConfig

        config = SocrataConnectionConfig.from_connection(Connection.get_connection_from_secrets(conn_id))
        return PortalUrls(config.domain.lower(), config.scheme)
    except Exception as exc:  # noqa: BLE001 - no portal link rather than no page
        log.info("Open Data view: no portal links (connection %s: %s)", conn_id, type(exc).__name__)
        return None
