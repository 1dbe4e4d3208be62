"""The coordinators' timeline and the Chief Data Officer's pipeline of upcoming releases as one
list (pure).

Every dataset not yet public: planned ones (a plan names them, no dataset file yet: the
``planned`` input, :class:`opendata.catalog.quarterly.PlannedEntry`), and those in the
workflow (not-ready, rejected, Stage 1, scheduled). Each has its target date: the plan's, else
the file's ``publication.not_before`` (Step 3's planned go-live); a target before today (the
city's calendar) that is not met is an *overdue target*. Ordered by target date (the overdue
ones first, undated ones last), then department and name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from opendata.freshness.calendar import zone
from opendata.freshness.policy import CITY_TIMEZONE
from opendata.inventory.model import NOT_READY, PLANNED, InventoryRow, TimelineEntry, WaitKind

#: The stages before publication, in the workflow's order.
UPCOMING = (PLANNED, NOT_READY, "rejected", "stage-1", "scheduled")


def next_step(row: InventoryRow) -> str:
    """What has to happen next for the dataset to go public, in the playbook's words."""
    kinds = {item.kind for item in row.waiting}
    if row.stage == PLANNED:
        return "The department writes its dataset file (inventory entry and Data Submission Checklist)"
    if row.stage == NOT_READY:
        if WaitKind.STEP1 in kinds:
            return "Step 1: department leadership approves it in Airflow"
        return "The pipeline's next run checks it and asks for Step 1, then pushes it privately (Stage 1)"
    if row.stage == "rejected":
        return "The coordinator fixes what was refused and resubmits it"
    if row.stage == "stage-1":
        return "Stage 1: the Chief Data Officer reviews it on the portal"
    if row.stage == "scheduled":
        return "Approved: goes public at its planned go-live (Step 3)"
    return ""


def target_of(row: InventoryRow, timezone: str = CITY_TIMEZONE) -> tuple[dt.date | None, str | None]:
    if row.target_date is not None:
        return row.target_date, "plan"
    if row.not_before is not None:
        return row.not_before.astimezone(zone(timezone)).date(), "not_before"
    return None, None


def timeline(rows: Iterable[InventoryRow], today: dt.date, timezone: str = CITY_TIMEZONE) -> list[TimelineEntry]:
    """The datasets on their way to publication, with their targets (``today``: the city's date)."""
    entries: list[TimelineEntry] = []
    for row in rows:
        if row.stage not in UPCOMING:
            continue
        target, source = target_of(row, timezone)
        entries.append(TimelineEntry(
            dataset_id=row.dataset_id, name=row.name, department=row.department,
            department_name=row.department_name, stage=row.stage, target_date=target, target_source=source,
            overdue_target=target is not None and target < today, next_step=next_step(row), waiting=row.waiting,
            has_file=row.has_file))
    entries.sort(key=lambda e: (e.target_date is None, e.target_date or dt.date.max, e.department_name.casefold(),
                                e.name.casefold(), e.dataset_id))
    return entries
