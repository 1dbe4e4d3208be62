"""The program's outputs as a task or a command produces them: the published inventory's
``data.json`` after each publication, and the quarterly working-group report (HTML and CSV,
kept under the reports folder and e-mailed to the Chief Data Officer and every coordinator).

The figures and documents are built by the pure modules beside this one (``dcat``,
``quarterly``, ``quarterly_render``); this module only reads, writes files and sends.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from opendata import settings, storage
from opendata.catalog.quarterly import Quarter, QuarterlyReport, report_file_stem, report_recipients, report_title
from opendata.catalog.writer import DataJsonWritten, write_atomically, write_data_json

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from opendata.notify.compose import Message
    from opendata.registry import Registry
    from opendata.spec.governance import Governance

log = logging.getLogger(__name__)


def portal_address(socrata_conn_id: str) -> tuple[str, str]:
    """``(scheme, domain)`` of the portal the connection points at."""
    from opendata.portal.hook import SocrataHook

    with SocrataHook(socrata_conn_id) as hook:
        parts = urlsplit(hook.base_url)
    return parts.scheme or "https", parts.netloc


def publish_data_json(*, socrata_conn_id: str = "socrata_default", path: Path | None = None,
                      registry: Registry | None = None, include_dir: Path | None = None) -> DataJsonWritten:
    """Write ``data.json`` (in the store, ``OPENDATA_DATA_JSON_PATH``, unless ``path``) for the
    portal the connection names; its ``@id`` is ``OPENDATA_CATALOG_URL`` or the portal's
    ``/data.json``."""
    scheme, domain = portal_address(socrata_conn_id)
    target = storage.resolve(path) if path is not None else storage.data_json()
    written = write_data_json(target, catalog_url=settings.catalog_url() or f"{scheme}://{domain}/data.json",
                              portal_domain=domain, portal_scheme=scheme, city_name=settings.city_name(),
                              include_dir=include_dir, registry=registry)
    log.info("data.json: %d published dataset(s) listed, %d carried over from the previous file, %d missing "
             "(their dataset file does not load) -> %s", len(written.listed), len(written.carried_over),
             len(written.missing), written.path)
    return written


@dataclass(frozen=True)
class QuarterlyReportFiles:
    """The report, and where its two files are kept (in the store unless written elsewhere)."""

    report: QuarterlyReport
    html: ObjectStoragePath
    csv: ObjectStoragePath


def write_quarterly_report(quarter: Quarter, *, as_of: dt.datetime | None = None, out_dir: Path | None = None,
                           registry: Registry | None = None, include_dir: Path | None = None) -> QuarterlyReportFiles:
    """Compute the quarter's report from the registry and the dataset files and keep it in the
    store as ``<reports>/quarterly/opendata-quarterly-<year>-q<n>.html`` and ``.csv`` (replaced
    atomically), or in ``out_dir``."""
    from opendata.catalog.quarterly_read import report_for
    from opendata.catalog.quarterly_render import render_csv, render_html
    from opendata.registry import Registry

    own = registry is None
    registry = registry or Registry.from_settings()
    try:
        report = report_for(registry, quarter, as_of=as_of, include_dir=include_dir)
    finally:
        if own:
            registry.close()
    folder = storage.resolve(out_dir) if out_dir is not None else storage.join(storage.reports_root(), "quarterly")
    stem = report_file_stem(quarter)
    html, csv = storage.join(folder, f"{stem}.html"), storage.join(folder, f"{stem}.csv")
    write_atomically(html, render_html(report))
    write_atomically(csv, render_csv(report))
    log.info("%s: %d department(s), %d published, %d in review, %d overdue now -> %s, %s", report_title(report),
             len(report.rows), report.total.published, report.total.in_review, report.total.overdue_now,
             storage.recorded(html), storage.recorded(csv))
    return QuarterlyReportFiles(report, html, csv)


def quarterly_message(files: QuarterlyReportFiles, governance: Governance) -> Message:
    """The e-mail to the CDO and the coordinators: the report as the body, HTML and CSV attached
    (some mail clients do not draw inline SVG charts: every charted figure is also in the tables)."""
    from opendata.notify.compose import Attachment, Message

    recipients = report_recipients(governance)
    if not recipients:
        raise ValueError("governance.yaml names no Chief Data Officer or coordinator with an e-mail address")
    report, total = files.report, files.report.total
    page, table = storage.read_bytes(files.html), storage.read_bytes(files.csv)
    median = total.median_days_to_public
    lines = [report_title(report), "",
             f"Published: {total.published} ({total.newly_public} new this quarter)",
             f"In review: {total.in_review}",
             f"Rejected: {total.rejected}",
             f"Planned: {total.planned} ({total.planned_past_target} past their target date)",
             f"Median days from Step 1 to public: {'-' if median is None else f'{median:.1f}'}",
             f"Refreshes on time: {_share(total.refreshes.count, total.refreshes.total)}",
             f"Overdue now: {total.overdue_now}",
             f"Public comments answered in time: {_share(total.comments.count, total.comments.total)}",
             "", "The report is attached as HTML (with charts) and CSV (one row per department)."]
    return Message(subject=report_title(report), to=tuple(recipients), cc=(), text="\n".join(lines),
                   html=page.decode("utf-8"), event="quarterly_report",
                   attachments=(Attachment(files.html.name, page, "text/html"),
                                Attachment(files.csv.name, table, "text/csv")))


def email_quarterly_report(files: QuarterlyReportFiles, governance: Governance, *,
                           smtp_conn_id: str = "smtp_default") -> tuple[str, ...]:
    """Send the report; returns the recipients."""
    from opendata.notify.send import send_email

    message = quarterly_message(files, governance)
    send_email(message, smtp_conn_id=smtp_conn_id)
    log.info("Quarterly report e-mailed to %d recipient(s)", len(message.to))
    return message.to


def _share(count: int, total: int) -> str:
    return f"{count} of {total} ({count / total:.0%})" if total else "none judged"
