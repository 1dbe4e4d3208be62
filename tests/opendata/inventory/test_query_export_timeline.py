"""Filtering, sorting, the CSV export and the timeline (pure)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

from opendata.inventory.export import CSV_COLUMNS, rows_csv
from opendata.inventory.model import Freshness, FreshnessView, InventoryRow, LastRun, WaitingItem, WaitKind
from opendata.inventory.query import SORT_KEYS, InventoryQuery, apply, filter_rows, sort_rows
from opendata.inventory.timeline import timeline
from tests.opendata.inventory.support import NOW, D


def row(dataset_id: str, **changes) -> InventoryRow:
    base = InventoryRow(dataset_id=dataset_id, name=dataset_id.title(), department="sanitation",
                        department_name="LA Sanitation and Environment", stage="refreshing",
                        update_frequency="daily")
    return dataclasses.replace(base, **changes)


WAIT = WaitingItem(WaitKind.STEP1, "Step 1: department approval", ("Helen Wu",), NOW - D, "/dags/a/runs/r/tasks/t")
ROWS = [
    row("a", freshness=FreshnessView(Freshness.OVERDUE, NOW - 9 * D, days_late=8.0, cycles_late=8.0)),
    row("b", department="building-and-safety", department_name="Department of Building and Safety",
        freshness=FreshnessView(Freshness.FRESH, NOW - D, days_late=0.0)),
    row("c", stage="not-ready", waiting=(WAIT,)),
    row("d", freshness=FreshnessView(Freshness.DUE, NOW - 3 * D, days_late=2.0), next_run_at=NOW + D),
]


def ids(rows):
    return [r.dataset_id for r in rows]


def test_the_query_string_is_read_strictly():
    query = InventoryQuery.from_params({"department": "sanitation", "stage": "stage-1", "freshness": "overdue",
                                        "waiting": "1", "sort": "freshness", "order": "desc"})
    assert (query.department, query.stage, query.freshness, query.waiting, query.sort, query.descending) == \
        ("sanitation", "stage-1", Freshness.OVERDUE, True, "freshness", True)
    hostile = InventoryQuery.from_params({"department": "<script>", "stage": "x' or 1=1", "freshness": "stale",
                                          "sort": "__class__", "order": "sideways"})
    assert hostile == InventoryQuery()
    assert query.params(sort="stage", descending=False) == {"department": "sanitation", "stage": "stage-1",
                                                            "freshness": "overdue", "waiting": "1", "sort": "stage"}
    assert InventoryQuery().params() == {}


def test_filters():
    assert ids(filter_rows(ROWS, InventoryQuery(department="sanitation"))) == ["a", "c", "d"]
    assert ids(filter_rows(ROWS, InventoryQuery(stage="not-ready"))) == ["c"]
    assert ids(filter_rows(ROWS, InventoryQuery(freshness=Freshness.OVERDUE))) == ["a"]
    assert ids(filter_rows(ROWS, InventoryQuery(waiting=True))) == ["c"]
    assert ids(filter_rows(ROWS, InventoryQuery(department="sanitation", freshness=Freshness.FRESH))) == []


def test_sorting_keeps_missing_values_last_in_either_order():
    assert ids(sort_rows(ROWS, "freshness")) == ["a", "d", "b", "c"]
    assert ids(sort_rows(ROWS, "next_run")) == ["d", "a", "b", "c"]
    assert ids(sort_rows(ROWS, "next_run", descending=True)) == ["d", "a", "b", "c"]
    assert ids(sort_rows(ROWS, "last_refresh", descending=True)) == ["b", "d", "a", "c"]
    assert ids(sort_rows(ROWS, "department")) == ["b", "a", "c", "d"]  # ties keep the given order
    assert ids(apply(ROWS, InventoryQuery(department="sanitation", sort="waiting"))) == ["c", "a", "d"]
    for key in SORT_KEYS:  # every key sorts every kind of row
        sort_rows(ROWS + [row("e", stage="planned", has_file=False)], key)


def test_csv_has_the_documented_columns_and_no_formula_cells():
    hostile = row("=cmd", name='=HYPERLINK("http://evil.example","click")', steward_name="+SUM(A1)",
                  department_name="@department", waiting=(WAIT,),
                  last_run=LastRun("-run", "failed", NOW - D, NOW, rows_created=5, rows_updated=0, rows_deleted=1),
                  freshness=FreshnessView(Freshness.OVERDUE, NOW - 9 * D, days_late=8.0, cycles_late=8.0))
    text = rows_csv([hostile, ROWS[1]])
    records = list(csv.DictReader(io.StringIO(text)))
    assert tuple(records[0]) == CSV_COLUMNS
    first = records[0]
    assert first["name"].startswith("'=HYPERLINK") and first["steward"] == "'+SUM(A1)"
    assert first["dataset_id"] == "'=cmd" and first["department_name"] == "'@department"
    assert first["last_run_id"] == "'-run"
    assert (first["rows_created"], first["rows_deleted"], first["days_late"]) == ("5", "1", "8.00")
    assert first["waiting_on"] == "Step 1: department approval (Helen Wu)"
    assert first["waiting_links"] == "/dags/a/runs/r/tasks/t"
    assert first["last_successful_refresh"] == "2026-11-18T18:00:00Z"
    assert records[1]["freshness"] == "fresh" and records[1]["rows_created"] == ""
    for record in records:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in record.values())


def test_the_timeline_is_plans_and_datasets_not_yet_public_by_target_with_overdue_targets_marked():
    today = dt.date(2026, 11, 27)
    rows = [
        row("public", stage="refreshing"),
        row("late-plan", stage="planned", has_file=False, target_date=dt.date(2026, 10, 1)),
        row("soon-plan", stage="planned", has_file=False, target_date=dt.date(2027, 1, 15)),
        row("in-review", stage="stage-1"),
        row("going-live", stage="scheduled", not_before=dt.datetime(2026, 12, 1, 17, tzinfo=dt.UTC)),
        row("step1", stage="not-ready", waiting=(WAIT,), target_date=dt.date(2026, 11, 27)),
        row("retired", stage="retired"),
    ]
    entries = timeline(rows, today)
    assert [e.dataset_id for e in entries] == ["late-plan", "step1", "going-live", "soon-plan", "in-review"]
    assert [e.overdue_target for e in entries] == [True, False, False, False, False]
    assert [e.target_source for e in entries] == ["plan", "plan", "not_before", "plan", None]
    assert entries[2].target_date == dt.date(2026, 12, 1)  # 09:00 in Los Angeles
    assert entries[1].next_step.startswith("Step 1") and entries[4].next_step.startswith("Stage 1")
