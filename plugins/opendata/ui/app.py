"""The "Open Data" pages: a FastAPI app the Airflow API server mounts at ``/opendata``.

=====================================  =======================================================================
route                                  what
=====================================  =======================================================================
``GET /``                              the inventory: a row per dataset; ``?department=&stage=&freshness=
                                       &waiting=1&sort=&order=asc|desc``; ``&format=csv`` exports the rows shown
``GET /datasets/{dag_id}``             a dataset's page: facts, what waits on whom, its latest checklist report,
                                       run history with charts, approvals, stage history, archived versions
``GET /datasets/{dag_id}/report``      the latest checklist report itself (sandboxed: no scripts, no requests)
``GET /timeline``                      planned and not-yet-public datasets by target date, overdue targets marked
``GET /data.json``                     the DCAT-US 1.1 catalog of the published datasets
``GET /reports/quarterly``             ``?quarter=2026-q3&format=html|csv`` (default: the last full quarter)
=====================================  =======================================================================

Every route requires Airflow's sign-in and read access to DAGs (``requires_access_dag("GET")``:
the JWT of the UI's cookie or an ``Authorization: Bearer`` token; a dataset's routes check its own
DAG). Rows of DAGs the user may not read are left out (the auth manager's
``get_authorized_dag_ids``). A browser that is not signed in is sent to Airflow's login page;
other clients get 401.

Pages are rendered on the server with Jinja2 (autoescape: every text of a dataset file, the
governance file or a person is escaped), carry no script at all, load nothing from elsewhere,
and are sent with a Content-Security-Policy that allows none. Links are built from validated ids
(``opendata.inventory.links``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from opendata import settings
from opendata.catalog.quarterly import PlannedEntry, parse_quarter, previous_quarter, report_file_stem
from opendata.freshness.calendar import zone
from opendata.inventory.export import rows_csv
from opendata.inventory.links import valid_dataset_id
from opendata.inventory.model import STAGE_ORDER, Freshness, InventoryRow
from opendata.inventory.query import SORT_KEYS, InventoryQuery, apply
from opendata.inventory.service import Inventory, InventoryView
from opendata.spec.errors import SpecFileError
from opendata.ui.charts import punctuality_chart, rows_chart

log = logging.getLogger(__name__)

#: Where the Airflow API server mounts the app (``plugin.py``).
URL_PREFIX = "/opendata"
#: The organisation the departments belong to (data.json's ``publisher.subOrganizationOf``).
#: Runs shown in a dataset page's table (the charts show up to ``charts.MAX_POINTS``).
RUNS_SHOWN = 200

#: Our pages: styles inline, no script, no request elsewhere; framed only by Airflow's UI (same origin).
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
            "frame-ancestors 'self'; form-action 'self'; base-uri 'none'")
#: Documents made of data (the checklist report, the quarterly report): also a sandbox, even when
#: opened on their own (no script, no form, no same-origin access).
DOCUMENT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
                "form-action 'none'; base-uri 'none'; sandbox")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "Cache-Control": "no-store"}
#: A checklist report larger than this is not served (the validate task writes a few hundred kB).
REPORT_MAX_BYTES = 20 * 1024 * 1024

DAG_STATES = {"active": "active", "paused": "DAG paused", "stale": "DAG gone from Airflow (file removed?)",
              "no-dag": "no DAG yet"}


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": PAGE_CSP,
                                                                **SECURITY_HEADERS})


def _document(content: str | bytes, media_type: str) -> Response:
    return Response(content, media_type=media_type, headers={"Content-Security-Policy": DOCUMENT_CSP,
                                                             **SECURITY_HEADERS})


class _Formats:
    """Time and number formatting in the city's time zone (the page's helpers)."""

    def __init__(self, timezone: str):
        self.zone = zone(timezone)

    def local(self, value: dt.datetime | None) -> str:
        if value is None:
            return ""
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    @staticmethod
    def iso(value: dt.datetime | None) -> str:
        if value is None:
            return ""
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    @staticmethod
    def count(value: int | None) -> str:
        return "—" if value is None else f"{value:,}"

    def when(self, value: dt.datetime | None) -> Markup:
        """``<time>`` in the city's time zone, its UTC instant in the attributes (a dash for none)."""
        if value is None:
            return Markup('<span class="muted">—</span>')
        iso = escape(self.iso(value))
        return Markup(f'<time datetime="{iso}" title="{iso}">{escape(self.local(value))}</time>')


def _base(request: Request) -> str:
    """The app's own path prefix as the request reached it (``/opendata``, behind any root path)."""
    root = str(request.scope.get("root_path") or "")
    return root.rstrip("/")


def _dataset_url(base: str) -> Callable[[str], str | None]:
    def url(dataset_id: str) -> str | None:
        return f"{base}/datasets/{dataset_id}" if valid_dataset_id(dataset_id) else None

    return url


def _context(request: Request, inventory: Inventory, page: str, notices: Sequence[str] = ()) -> dict[str, Any]:
    formats = _Formats(inventory.timezone)
    base = _base(request)
    return {"base": base, "page": page, "notices": list(notices), "local": formats.local, "iso": formats.iso,
            "when": formats.when, "count": formats.count, "dataset_url": _dataset_url(base), "dag_states": DAG_STATES}


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """When the API server starts (Airflow enters a mounted app's lifespan): warm up in the
    background, so the first page view does not pay for the first read of every dataset file."""
    threading.Thread(target=_warm_up, args=(app,), name="opendata-view-warm-up", daemon=True).start()
    yield


def _warm_up(app: FastAPI) -> None:
    try:
        for name in ("base.html", "inventory.html", "dataset.html", "timeline.html", "error.html"):
            templates().get_template(name)
        inventory: Inventory = app.state.inventory()
        from airflow.utils.session import create_session

        with create_session() as session:
            inventory.warm_up(session)
    except Exception as exc:  # noqa: BLE001 - the page views report what fails, with its reason
        log.info("Open Data view: warm-up stopped (%s); the first page view reads everything", exc)
    finally:
        app.state.warmed.set()


def get_inventory(request: Request) -> Inventory:
    """The app's read model (made on the first request)."""
    made: Inventory = request.app.state.inventory()
    return made


InventoryDep = Annotated[Inventory, Depends(get_inventory)]


def create_app(inventory: Inventory | Callable[[], Inventory] | None = None, *,
               city_name: str | None = None,
               planned: Callable[[], Sequence[PlannedEntry]] | None = None) -> FastAPI:
    """The app. ``inventory``: the read model (or a factory; default: an :class:`Inventory` on the
    deployment's settings, made on the first request); ``planned``: the datasets planned but not
    ready, with target dates (for the default inventory's timeline)."""
    app = FastAPI(title="Open Data", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan)
    app.state.warmed = threading.Event()
    lock = threading.Lock()
    made: list[Inventory] = [inventory] if isinstance(inventory, Inventory) else []

    def make_inventory() -> Inventory:
        if made:
            return made[0]
        with lock:
            if not made:
                made.append(inventory() if callable(inventory) else Inventory(planned=planned))
            return made[0]

    app.state.inventory = make_inventory
    read_dags = [Depends(requires_access_dag("GET"))]

    @app.exception_handler(StarletteHTTPException)
    async def sign_in_first(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser that is not signed in goes to Airflow's login page, and back here after it."""
        if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
            from airflow.api_fastapi.app import get_auth_manager

            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(get_auth_manager().get_url_login(next_url=here), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    def visible_rows(view: InventoryView, user: Any, session: Any) -> list[InventoryRow]:
        """The rows of DAGs the user may read (rows without a DAG: any reader of DAGs)."""
        from airflow.api_fastapi.app import get_auth_manager

        authorized = get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)
        return [row for row in view.rows if row.dag_state == "no-dag" or row.dataset_id in authorized]

    def spec_error(request: Request, inventory: Inventory, exc: SpecFileError) -> HTMLResponse:
        lines = ["governance.yaml does not load, so the view cannot name departments and people. "
                 "Run `opendata lint`:"] + [str(error) for error in exc.errors[:20]]
        html = templates().get_template("error.html").render(
            **_context(request, inventory, "error"), title="The dataset files do not load", lines=lines)
        return _page(html, status_code=503)

    @app.get("/", response_class=HTMLResponse, dependencies=read_dags, name="inventory")
    def inventory_page(request: Request, user: GetUserDep, session: SessionDep, inventory: InventoryDep,
                       format: str = "html") -> Response:
        try:
            view = inventory.view(session)
        except SpecFileError as exc:
            return spec_error(request, inventory, exc)
        query = InventoryQuery.from_params(request.query_params)
        everything = visible_rows(view, user, session)
        rows = apply(everything, query)
        if format == "csv":
            day = inventory.today(view.now).isoformat()
            return Response(rows_csv(rows), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="opendata-inventory-{day}.csv"', **SECURITY_HEADERS})
        counts = {state: 0 for state in (Freshness.OVERDUE, Freshness.DUE, Freshness.FRESH)}
        for row in everything:
            if row.freshness.state in counts:
                counts[row.freshness.state] += 1
        html = templates().get_template("inventory.html").render(
            **_context(request, inventory, "inventory", view.notices), rows=rows, total=len(everything),
            query=query, now=view.now, departments=view.departments, stages=STAGE_ORDER,
            freshness_states=[state.value for state in Freshness],
            headings=[(key, heading) for key, (heading, _) in SORT_KEYS.items()],
            freshness_counts=[(state.value, count) for state, count in counts.items()],
            waiting_count=sum(1 for row in everything if row.waiting))
        return _page(html)

    @app.get("/datasets/{dag_id}", response_class=HTMLResponse, dependencies=read_dags, name="dataset")
    def dataset_page(dag_id: str, request: Request, session: SessionDep, inventory: InventoryDep) -> Response:
        try:
            detail = inventory.detail(dag_id, session)
        except SpecFileError as exc:
            return spec_error(request, inventory, exc)
        if detail is None:
            html = templates().get_template("error.html").render(
                **_context(request, inventory, "error"), title="No such dataset",
                lines=[f"No dataset file, registry entry or plan has the id {dag_id!r}."])
            return _page(html, status_code=404)
        due = next((p.due_days for p in detail.punctuality if p.due_days is not None), None)
        judged = [p for p in detail.punctuality if p.on_time is not None]
        on_time = sum(1 for p in judged if p.on_time)
        html = templates().get_template("dataset.html").render(
            **_context(request, inventory, "dataset", detail.notices), row=detail.row, summary=detail.summary,
            runs=list(reversed(detail.runs))[:RUNS_SHOWN], run_total=len(detail.runs), history=detail.history,
            versions=list(reversed(detail.versions)), approvals=detail.approvals,
            report_run_id=detail.report_run_id, rows_chart=rows_chart(detail.rows_over_time),
            punctuality_chart=punctuality_chart(detail.punctuality),
            punctuality_due=f"due after {due:g} days" if due else None,
            on_time_text=f"{on_time} of {len(judged)} refreshes on time" if judged else "no refresh judged yet")
        return _page(html)

    @app.get("/datasets/{dag_id}/report", dependencies=read_dags, name="dataset_report")
    def dataset_report(dag_id: str, inventory: InventoryDep) -> Response:
        from opendata import storage

        try:
            path = inventory.report_file(dag_id)
            if path is None:
                raise HTTPException(404, "No checklist report for this dataset")
            if storage.size(path) > REPORT_MAX_BYTES:
                raise HTTPException(413, "The checklist report is too large to show; see the validate task's log")
            content = storage.read_bytes(path)
        except storage.StoredFileMissing:
            raise HTTPException(404, "No checklist report for this dataset") from None
        except OSError as exc:  # the store cannot be reached: say so (its message names no secret)
            raise HTTPException(503, f"The checklist report cannot be read now: {exc}") from None
        return _document(content, "text/html; charset=utf-8")

    @app.get("/timeline", response_class=HTMLResponse, dependencies=read_dags, name="timeline")
    def timeline_page(request: Request, user: GetUserDep, session: SessionDep, inventory: InventoryDep) -> Response:
        try:
            view = inventory.view(session)
        except SpecFileError as exc:
            return spec_error(request, inventory, exc)
        visible = {row.dataset_id for row in visible_rows(view, user, session)}
        view.rows = [row for row in view.rows if row.dataset_id in visible]
        entries = inventory.timeline(view)
        html = templates().get_template("timeline.html").render(
            **_context(request, inventory, "timeline", view.notices), entries=entries,
            overdue=sum(1 for e in entries if e.overdue_target), today=inventory.today(view.now),
            timezone=inventory.timezone, previous_quarter=previous_quarter(view.now, inventory.timezone).slug)
        return _page(html)

    @app.get("/data.json", dependencies=read_dags, name="data_json")
    def data_json(request: Request, inventory: InventoryDep) -> Response:
        from opendata import storage
        from opendata.registry.errors import RegistryUnavailable

        if city_name is None:
            # The file the catalog DAG wrote after the last publication: what harvesters get.
            published = storage.data_json()
            try:
                if storage.exists(published):
                    return Response(storage.read_bytes(published), media_type="application/json",
                                    headers=SECURITY_HEADERS)
            except OSError as exc:
                log.warning("data.json could not be read from the store (%s); building it from the registry", exc)
        try:
            text = inventory.data_json(catalog_url=_catalog_url(request), city_name=city_name or settings.city_name())
        except LookupError as exc:
            raise HTTPException(503, str(exc)) from None
        except (RegistryUnavailable, SpecFileError) as exc:
            raise HTTPException(503, f"data.json cannot be built now: {exc}") from None
        return Response(text, media_type="application/json", headers=SECURITY_HEADERS)

    @app.get("/reports/quarterly", dependencies=read_dags, name="quarterly_report")
    def quarterly_report(inventory: InventoryDep, quarter: Annotated[str | None, Query(max_length=20)] = None,
                         format: Annotated[str, Query(pattern="^(html|csv)$")] = "html") -> Response:
        from opendata.catalog.quarterly_render import render_csv, render_html
        from opendata.registry.errors import RegistryUnavailable

        now = inventory.clock()
        try:
            chosen = parse_quarter(quarter, inventory.timezone) if quarter else \
                previous_quarter(now, inventory.timezone)
            report = inventory.quarterly(chosen, now)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        except (RegistryUnavailable, SpecFileError) as exc:
            raise HTTPException(503, f"The quarterly report cannot be made now: {exc}") from None
        if format == "csv":
            return Response(render_csv(report), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="{report_file_stem(chosen)}.csv"', **SECURITY_HEADERS})
        return _document(render_html(report), "text/html; charset=utf-8")

    return app


def _catalog_url(request: Request) -> str:
    """Where data.json is served: under ``[api] base_url`` when it is set (the Host header of a
    request is not trusted to name it), else as the request reached the server."""
    base = settings.airflow_base_url()
    path = _base(request) + "/data.json"
    if base:
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}{quote(path)}"
    return str(request.url.replace(query="", fragment=""))


_APP: list[FastAPI] = []
_APP_LOCK = threading.Lock()


def get_app() -> FastAPI:
    """The app the plugin hands to Airflow (made once per process)."""
    with _APP_LOCK:
        if not _APP:
            _APP.append(create_app())
        return _APP[0]
