"""Filtering and sorting the inventory (pure).

The view's query string, read by :meth:`InventoryQuery.from_params`: ``department`` (a
department code), ``stage`` (a stage of :data:`~opendata.inventory.model.STAGE_ORDER`),
``freshness`` (fresh, due, overdue, unscheduled, not-public), ``waiting=1`` (only datasets that
wait on a person), ``sort`` (a key of :data:`SORT_KEYS`) and ``order`` (``asc`` or ``desc``).
A value that is not one of these is ignored, never echoed into a query or a page unchecked.

Sorting puts rows without a value (never refreshed, no next run) last in either order; ties
keep the inventory's order (department, then dataset name).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from opendata.inventory.model import STAGE_ORDER, Freshness, InventoryRow
from opendata.spec.vocab import UpdateFrequency

_DEPARTMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
_FREQUENCIES = {frequency.value: index for index, frequency in enumerate(UpdateFrequency)}
_STAGES = {stage: index for index, stage in enumerate(STAGE_ORDER)}


def _text(value: str) -> str:
    return " ".join(value.split()).casefold()


def _when(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _last_run(row: InventoryRow) -> float | None:
    run = row.last_run
    return _when(run.ended_at or run.started_at) if run is not None else None


def _freshness(row: InventoryRow) -> tuple[int, float]:
    return row.freshness.severity, -(row.freshness.days_late or 0.0)


#: Sort key -> (column heading, the row's value; None sorts last).
SORT_KEYS: dict[str, tuple[str, Callable[[InventoryRow], Any]]] = {
    "department": ("Department", lambda r: _text(r.department_name)),
    "dataset": ("Dataset", lambda r: _text(r.name)),
    "steward": ("Steward", lambda r: _text(r.steward_name) or None),
    "classification": ("Classification", lambda r: r.classification or None),
    "stage": ("Stage", lambda r: _STAGES.get(r.stage, len(_STAGES))),
    "frequency": ("Promised update", lambda r: _FREQUENCIES.get(r.update_frequency)),
    "last_refresh": ("Last successful refresh", lambda r: _when(r.freshness.last_update)),
    "freshness": ("Freshness", _freshness),
    "next_run": ("Next scheduled run", lambda r: _when(r.next_run_at)),
    "last_run": ("Last run", _last_run),
    "waiting": ("Waits on", lambda r: len(r.waiting) or None),
}
DEFAULT_SORT = "department"


@dataclass(frozen=True)
class InventoryQuery:
    department: str | None = None
    stage: str | None = None
    freshness: Freshness | None = None
    waiting: bool = False
    sort: str = DEFAULT_SORT
    descending: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> InventoryQuery:
        """The query of a request's parameters; unknown values are ignored."""
        department = params.get("department") or None
        stage = params.get("stage") or None
        freshness = params.get("freshness") or None
        sort = params.get("sort") or DEFAULT_SORT
        return cls(
            department=department if department and _DEPARTMENT.fullmatch(department) else None,
            stage=stage if stage in _STAGES else None,
            freshness=Freshness(freshness) if freshness in set(Freshness) else None,
            waiting=params.get("waiting") in ("1", "true", "yes", "on"),
            sort=sort if sort in SORT_KEYS else DEFAULT_SORT,
            descending=params.get("order") == "desc",
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this query (with ``changes``), without its defaults."""
        query = replace(self, **changes)
        found: dict[str, str] = {}
        if query.department:
            found["department"] = query.department
        if query.stage:
            found["stage"] = query.stage
        if query.freshness:
            found["freshness"] = query.freshness.value
        if query.waiting:
            found["waiting"] = "1"
        if query.sort != DEFAULT_SORT:
            found["sort"] = query.sort
        if query.descending:
            found["order"] = "desc"
        return found

    @property
    def filtered(self) -> bool:
        return bool(self.department or self.stage or self.freshness or self.waiting)


def filter_rows(rows: Iterable[InventoryRow], query: InventoryQuery) -> list[InventoryRow]:
    return [row for row in rows
            if (query.department is None or row.department == query.department)
            and (query.stage is None or row.stage == query.stage)
            and (query.freshness is None or row.freshness.state is query.freshness)
            and (not query.waiting or row.waiting)]


def sort_rows(rows: Iterable[InventoryRow], key: str = DEFAULT_SORT, descending: bool = False) -> list[InventoryRow]:
    """``rows`` by ``key`` (rows without a value last), ties in their given order."""
    value = SORT_KEYS[key][1] if key in SORT_KEYS else SORT_KEYS[DEFAULT_SORT][1]
    present: list[tuple[Any, InventoryRow]] = []
    missing: list[InventoryRow] = []
    for row in rows:
        found = value(row)
        if found is None:
            missing.append(row)
        else:
            present.append((found, row))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [row for _, row in present] + missing


def apply(rows: Iterable[InventoryRow], query: InventoryQuery) -> list[InventoryRow]:
    """Filtered, then sorted."""
    return sort_rows(filter_rows(rows, query), query.sort, query.descending)
