"""From an alert plan to the rows of the Chief Data Officer's digest and the details of a
department reminder. Pure: links are built from base URLs the caller passes in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, overload
from urllib.parse import quote

from opendata.freshness.alerts import AlertPlan, AlertRecord, Channel
from opendata.freshness.calendar import zone
from opendata.freshness.evaluate import Evaluation
from opendata.freshness.status import FreshnessState
from opendata.notify.digest import Digest, DigestRow


@overload
def local(value: dt.datetime, timezone: str | None) -> dt.datetime: ...
@overload
def local(value: dt.datetime | None, timezone: str | None) -> dt.datetime | None: ...
def local(value: dt.datetime | None, timezone: str | None) -> dt.datetime | None:
    """Aware datetimes in the city's time zone (people read them); naive ones and None unchanged."""
    if timezone and isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(zone(timezone))
    return value


def dag_url(airflow_base_url: str | None, dag_id: str) -> str | None:
    return f"{airflow_base_url.rstrip('/')}/dags/{quote(dag_id)}" if airflow_base_url else None


def portal_page(portal_base_url: str | None, portal_id: str) -> str | None:
    return f"{portal_base_url.rstrip('/')}/d/{portal_id}" if portal_base_url else None


def digest_row(ev: Evaluation, *, airflow_base_url: str | None = None, portal_base_url: str | None = None,
               first_reported_at: dt.datetime | None = None) -> DigestRow:
    d = ev.dataset
    tz = d.policy.timezone
    return DigestRow(
        dataset_id=d.dataset_id, name=d.name, department=d.department_name,
        steward=f"{d.steward_name} <{d.steward_email}>", frequency=d.frequency,
        last_update=local(ev.status.last_update, tz), days_late=ev.status.days_late, cycles_late=ev.status.cycles_late,
        dag_url=dag_url(airflow_base_url, d.dag_id), portal_url=portal_page(portal_base_url, d.portal_id),
        notes=tuple(f.message for f in ev.findings), first_reported_at=local(first_reported_at, tz))


def build_digest(plan: AlertPlan, records: Mapping[tuple[str, Channel], AlertRecord], *, monitored: int,
                 now: dt.datetime, airflow_base_url: str | None = None, portal_base_url: str | None = None,
                 timezone: str | None = None) -> Digest:
    """The digest for ``plan`` (send it only when ``plan.send_digest``)."""

    def row(ev: Evaluation, first_reported_at: dt.datetime | None = None) -> DigestRow:
        return digest_row(ev, airflow_base_url=airflow_base_url, portal_base_url=portal_base_url,
                          first_reported_at=first_reported_at)

    def first(ev: Evaluation) -> dt.datetime | None:
        record = records.get((ev.dataset.dataset_id, Channel.CDO))
        return record.first_alerted_at if record is not None and record.state is ev.state else None

    return Digest(
        overdue=tuple(row(ev, first(ev)) for ev in _late_first(plan.digest)),
        still_overdue=tuple(row(ev, first(ev)) for ev in _late_first(plan.still_overdue)),
        disagreements=tuple(row(ev) for ev in plan.disagreements),
        unscheduled=tuple(row(ev) for ev in plan.unscheduled),
        monitored=monitored,
        generated_at=local(now, timezone),
    )


def _late_first(evaluations: tuple[Evaluation, ...]) -> list[Evaluation]:
    # Never updated first, then the most cycles late: what needs the CDO's attention most.
    def key(ev: Evaluation) -> tuple[float, str]:
        cycles = ev.status.cycles_late
        return (-(cycles if cycles is not None else float("inf")), ev.dataset.dataset_id)

    return sorted(evaluations, key=key)


def reminder_details(ev: Evaluation, *, airflow_base_url: str | None = None,
                     portal_base_url: str | None = None) -> dict[str, Any]:
    """``details`` for a FRESHNESS_DUE message (see :mod:`opendata.notify.compose`)."""
    status = ev.status
    tz = ev.dataset.policy.timezone
    details: dict[str, Any] = {
        "freshness_state": status.state.value,
        "last_update": local(status.last_update, tz) or "never",
        "days_late": round(status.days_late, 1) if status.days_late is not None else None,
        "due_at": local(status.due_at, tz),
        "overdue_at": local(status.overdue_at, tz) if status.state is FreshnessState.DUE else None,
        "findings": [f.message for f in ev.findings],
        "portal_id": ev.dataset.portal_id,
        "portal_url": portal_page(portal_base_url, ev.dataset.portal_id),
        "airflow_url": dag_url(airflow_base_url, ev.dataset.dag_id),
    }
    return {k: v for k, v in details.items() if v is not None}
