"""The inventory as CSV, for spreadsheets (pure).

One row per dataset, the columns of :data:`CSV_COLUMNS` in that order (their meaning:
:data:`CSV_COLUMN_DOCS`; add columns at the end). Times are ISO 8601 in UTC, days have two
decimals, and a value that does not exist is an empty cell. Every text cell (names, ids,
reasons: text of dataset files and people) that starts with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return gets a leading ``'``, so that a spreadsheet does not run it as a formula
(OWASP's CSV injection advice, as the quarterly report's CSV does).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from opendata.catalog.quarterly_render import neutralise
from opendata.inventory.model import InventoryRow

#: Column -> meaning. The order is the CSV's; the names are stable.
CSV_COLUMN_DOCS: dict[str, str] = {
    "dataset_id": "the dataset file's id (the Airflow DAG id)",
    "name": "the dataset's name",
    "department": "the department's code in the governance file",
    "department_name": "the department's name",
    "steward": "the data steward's name",
    "steward_email": "the data steward's e-mail address",
    "coordinator": "the dataset's Open Data Coordinator",
    "classification": "classification category and level",
    "stage": "planned, not-ready, rejected, stage-1, scheduled, stage-2, refreshing, retired (unknown: the registry "
             "could not be read)",
    "update_frequency": "the promised update frequency",
    "last_successful_refresh": "the last confirmed update recorded by the registry (UTC)",
    "freshness": "fresh, due, overdue, unscheduled, or not-public (not judged)",
    "days_late": "counted days past one promised cycle",
    "cycles_late": "promised cycles past the first",
    "next_scheduled_run": "when Airflow creates the DAG's next run (UTC)",
    "dag_state": "active, paused, stale or no-dag",
    "last_run_id": "the latest run's id",
    "last_run_state": "the latest run's state in Airflow (the registry's outcome without one)",
    "last_run_ended": "when the latest run ended (UTC)",
    "rows_created": "rows created on the portal by the latest run",
    "rows_updated": "rows updated by the latest run",
    "rows_deleted": "rows deleted by the latest run",
    "waiting_on": "what waits on whom: 'what (people)' items separated by ' | '",
    "waiting_links": "where to do each of them, in the same order, separated by ' | '",
    "portal_url": "the dataset on the portal",
    "target_date": "a plan's target date",
}
CSV_COLUMNS: tuple[str, ...] = tuple(CSV_COLUMN_DOCS)


def _time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def csv_record(row: InventoryRow) -> dict[str, str]:
    run = row.last_run
    text = {
        "dataset_id": row.dataset_id, "name": row.name, "department": row.department,
        "department_name": row.department_name, "steward": row.steward_name, "steward_email": row.steward_email,
        "coordinator": row.coordinator_name, "classification": row.classification, "stage": row.stage,
        "update_frequency": row.update_frequency, "freshness": row.freshness.state.value,
        "dag_state": row.dag_state, "last_run_id": run.run_id if run else "",
        "last_run_state": run.state if run else "",
        "waiting_on": " | ".join(f"{item.label} ({', '.join(item.waiting_on) or 'nobody named'})"
                                 for item in row.waiting),
        "waiting_links": " | ".join(item.href or "" for item in row.waiting),
        "portal_url": row.portal_url or "",
    }
    record = {name: neutralise(value) for name, value in text.items()}
    record.update({
        "last_successful_refresh": _time(row.freshness.last_update),
        "days_late": _number(row.freshness.days_late),
        "cycles_late": _number(row.freshness.cycles_late),
        "next_scheduled_run": _time(row.next_run_at),
        "last_run_ended": _time(run.ended_at) if run else "",
        "rows_created": _count(run.rows_created) if run else "",
        "rows_updated": _count(run.rows_updated) if run else "",
        "rows_deleted": _count(run.rows_deleted) if run else "",
        "target_date": row.target_date.isoformat() if row.target_date else "",
    })
    return {name: record[name] for name in CSV_COLUMNS}


def rows_csv(rows: Iterable[InventoryRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(csv_record(row))
    return out.getvalue()
