"""The quarterly report's reader against real registries (SQLite file, PostgreSQL): bulk queries,
the same figures as the whole history gives, and the registry written by its own operations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import yaml

from opendata.catalog.quarterly import (
    NO_FILE_DEPARTMENT,
    CommentEpisode,
    DatasetRecord,
    Quarter,
    RunEvent,
    StageEvent,
    dataset_figures,
    quarter_of,
    quarterly_report,
)
from opendata.catalog.quarterly_read import QuarterlyReader, load_quarter_inputs, report_for
from opendata.freshness.alert_store import AlertStore, comment_watch
from opendata.freshness.comments import CommentWatch
from opendata.freshness.policy import FreshnessPolicy
from opendata.registry import Registry, RegistryUnavailable, Stage
from opendata.registry.store import dataset_state, run_log, stage_change
from opendata.samples.portal_world import dataset_file
from tests.conftest import REPO_ROOT, registry_on

LA = ZoneInfo("America/Los_Angeles")
Q3 = Quarter(2026, 3)
D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def la(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=LA).astimezone(dt.UTC)


AS_OF = la(2026, 10, 5)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry(request, tmp_path):
    with registry_on(request.param, tmp_path, "opendata_quarterly") as reg:
        yield reg


@pytest.fixture
def include(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "include"
    (folder / "datasets").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "include" / "governance.yaml", folder / "governance.yaml")
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("OPENDATA_COMMENT_ANSWER_HOURS", raising=False)
    return folder


def write_files(include: Path, datasets: dict[str, str], frequency: str = "daily") -> None:
    for dataset_id, department in datasets.items():
        folder = include / "datasets" / department
        folder.mkdir(exist_ok=True)
        (folder / f"{dataset_id}.yaml").write_text(yaml.safe_dump(dataset_file(dataset_id, department, frequency)))


class Statements:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine: sa.Engine):
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)
        self.engine = engine

    def _seen(self, *args: object) -> None:
        self.count += 1

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)


def fill(registry: Registry, ids: list[str]) -> None:
    """Public datasets with a history, a note-only row, daily runs (two failures a week), in bulk."""
    now = AS_OF
    with registry.engine.begin() as conn:
        conn.execute(dataset_state.insert(), [
            {"dataset_id": i, "portal_id": "abcd-1234", "stage": Stage.REFRESHING.value,
             "department_approved_at": la(2026, 1, 1), "public_at": la(2026, 2, 1),
             "last_refresh_at": la(2026, 10, 4), "updated_at": now} for i in ids])
        conn.execute(stage_change.insert(), [row for i in ids for row in (
            {"dataset_id": i, "stage_from": None, "stage_to": "not-ready", "at": la(2026, 1, 1),
             "notes": "Step 1 approved by Alicia Grant (airflow)"},
            {"dataset_id": i, "stage_from": "not-ready", "stage_to": "stage-1", "at": la(2026, 1, 2), "notes": None},
            {"dataset_id": i, "stage_from": "stage-1", "stage_to": "stage-2", "at": la(2026, 2, 1), "notes": None},
            {"dataset_id": i, "stage_from": "stage-2", "stage_to": "refreshing", "at": la(2026, 2, 2), "notes": None},
            {"dataset_id": i, "stage_from": "refreshing", "stage_to": "refreshing", "at": la(2026, 8, 1),
             "notes": "revision 4 held for approval"},
            {"dataset_id": i, "stage_from": "refreshing", "stage_to": "retired", "at": la(2026, 10, 20),
             "notes": None})])
        runs = []
        for n, i in enumerate(ids):
            day = dt.date(2026, 6, 1)
            while day <= dt.date(2026, 10, 10):
                failed = (day.toordinal() + n) % 7 in (0, 1)  # two in a row: a 3-day gap
                end = dt.datetime.combine(day, dt.time(12), LA).astimezone(dt.UTC) + n * dt.timedelta(minutes=1)
                runs.append({"dataset_id": i, "run_id": f"scheduled__{day}", "kind": "refresh",
                             "started_at": end - dt.timedelta(minutes=5), "ended_at": end,
                             "outcome": "failed" if failed else "success"})
                day += D
        conn.execute(run_log.insert(), runs)


def test_the_reader_gives_what_the_whole_history_gives_in_a_handful_of_queries(registry):
    ids = [f"d{n:03d}" for n in range(30)]
    fill(registry, ids)
    AlertStore(registry).save_comment_states([
        CommentWatch("d000", 3, AS_OF, pending_since=la(2026, 7, 10, 15), notified_at=la(2026, 7, 10, 15)),
        CommentWatch("d001", 2, AS_OF, notified_at=la(2026, 7, 10, 15), answered_at=la(2026, 7, 14, 15),
                     answered_by="jorge-ramos"),
        CommentWatch("d002", 5, AS_OF)])
    reader = QuarterlyReader(registry)
    statements = Statements(registry.engine)
    rows = reader.read(Q3, AS_OF)
    first = statements.count
    fill(registry, [f"e{n:03d}" for n in range(30)])
    statements.count = 0
    more = reader.read(Q3, AS_OF)
    statements.close()
    assert statements.count == first == 6  # five queries and the comment table's existence, whatever the number
    assert len(more.states) == 60

    history = rows.history["d000"]
    assert [(e.stage_from, e.stage_to) for e in history] == [
        (None, Stage.NOT_READY), (Stage.NOT_READY, Stage.STAGE_1), (Stage.STAGE_1, Stage.STAGE_2),
        (Stage.STAGE_2, Stage.REFRESHING)]  # the note-only row is left out, the change after as_of too
    assert history[0].notes == "Step 1 approved by Alicia Grant (airflow)"
    assert all(e.at.tzinfo is not None for e in history)
    runs = rows.runs["d000"]
    assert runs[0].kind is None and runs[0].at < Q3.starts_at  # the previous update before the quarter
    assert all(run.at >= Q3.starts_at and run.kind == "refresh" for run in runs[1:])
    assert runs[-1].at <= AS_OF and all(run.outcome == "success" for run in runs)
    assert rows.comments == {"d000": [CommentEpisode(la(2026, 7, 10, 15), None)],
                             "d001": [CommentEpisode(la(2026, 7, 10, 15), la(2026, 7, 14, 15))]}
    state = rows.states["d000"]
    assert (state.stage, state.public_at, state.last_refresh_at) == (Stage.REFRESHING, la(2026, 2, 1),
                                                                    la(2026, 10, 4))

    # The same figures as the dataset's whole run log and history give.
    policy = FreshnessPolicy.for_frequency("daily")
    with registry.engine.connect() as conn:
        everything = conn.execute(sa.select(run_log).where(run_log.c.dataset_id == "d003")).all()
        changes = conn.execute(sa.select(stage_change).where(stage_change.c.dataset_id == "d003")
                               .order_by(stage_change.c.id)).all()
    full = DatasetRecord(
        "d003", "a", "D003", policy=policy, stage=Stage.RETIRED,
        history=[StageEvent(c.at.replace(tzinfo=dt.UTC) if c.at.tzinfo is None else c.at,
                            Stage(c.stage_from) if c.stage_from else None, Stage(c.stage_to), c.notes)
                 for c in changes],
        runs=[RunEvent(r.ended_at.replace(tzinfo=dt.UTC) if r.ended_at.tzinfo is None else r.ended_at, r.kind,
                       r.outcome) for r in everything],
        department_approved_at=la(2026, 1, 1), public_at=la(2026, 2, 1), last_refresh_at=la(2026, 10, 4))
    read = dataclasses.replace(full, history=rows.history["d003"], runs=rows.runs["d003"], stage=Stage.REFRESHING)
    expected, got = dataset_figures(full, Q3, AS_OF), dataset_figures(read, Q3, AS_OF)
    assert got == expected
    assert 60 < got.refreshes.total < 92 and 0 < got.refreshes.count < got.refreshes.total  # the failures show
    assert got.published and not got.overdue


def test_a_registry_written_by_its_own_operations(registry, include):
    write_files(include, {"permits": "building-and-safety", "requests": "sanitation"})
    now = dt.datetime.now(dt.UTC)
    quarter = quarter_of(now)
    registry.record_department_rejection("permits", by="Alicia Grant", at=now - 20 * D, reason="no address")
    registry.record_department_approval("permits", by="Alicia Grant", at=now - 10 * D, source="airflow")
    registry.record_portal_dataset("permits", "abcd-1234")
    registry.record_submission("permits", at=now)
    registry.record_review("permits", approved=False, by="Maria Alvarez", at=now, notes="generalise addresses")
    registry.record_submission("permits", at=now)
    registry.record_review("permits", approved=True, by="Maria Alvarez", at=now, notes="fine")
    registry.start_run("permits", "r1", kind="publication")
    registry.update_run("permits", "r1", outcome="success")
    registry.record_public("permits", at=dt.datetime.now(dt.UTC), rows=10)
    registry.start_run("permits", "r2", kind="refresh")
    registry.update_run("permits", "r2", outcome="success")
    registry.start_run("permits", "r3", kind="refresh")
    registry.update_run("permits", "r3", outcome="failed", error="boom")
    registry.record_department_approval("requests", by="Helen Wu", at=now - D, source="airflow")
    registry.record_portal_dataset("requests", "efgh-5678")
    registry.record_submission("requests", at=now)
    registry.record_submission("orphan", at=now)  # in the registry, no dataset file holds it
    AlertStore(registry).save_comment_states([CommentWatch("permits", 1, now, pending_since=now, notified_at=now)])

    as_of = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    report = report_for(registry, quarter, as_of=as_of, include_dir=include)
    rows = {row.department: row for row in report.rows}
    assert set(rows) == {"building-and-safety", "sanitation", "environmental-health", NO_FILE_DEPARTMENT}
    permits = rows["building-and-safety"]
    assert (permits.name, permits.datasets, permits.published, permits.newly_public) == \
        ("Department of Building and Safety", 1, 1, 1)
    assert (permits.rejected, permits.rejected_step1, permits.rejected_review) == (1, 1, 1)
    assert permits.median_days_to_public == pytest.approx(10, abs=0.01)
    assert (permits.refreshes.count, permits.refreshes.total) == (1, 1)
    assert (permits.overdue_now, permits.comments_waiting) == (0, 1)
    assert (rows["sanitation"].in_review, rows[NO_FILE_DEPARTMENT].in_review) == (1, 1)
    assert rows["environmental-health"].datasets == 0
    assert (report.total.datasets, report.total.published, report.total.in_review) == (3, 1, 2)


def test_inputs_keep_the_files_facts_and_the_answer_time_setting(registry, include, monkeypatch):
    write_files(include, {"inspections": "environmental-health"}, frequency="weekly")
    monkeypatch.setenv("OPENDATA_COMMENT_ANSWER_HOURS", "24")
    inputs = load_quarter_inputs(registry, Q3, as_of=AS_OF, include_dir=include)
    (record,) = inputs.datasets
    assert (record.dataset_id, record.department, record.stage) == ("inspections", "environmental-health", None)
    assert record.policy == FreshnessPolicy.for_frequency("weekly")
    assert inputs.answer_within == dt.timedelta(hours=24)
    assert inputs.departments["sanitation"] == "LA Sanitation and Environment"
    assert quarterly_report(inputs).total.datasets == 1


def test_the_planned_files_are_the_reports_timeline_unless_the_caller_gives_one(registry, include):
    from opendata.catalog.quarterly import PlannedEntry

    write_files(include, {"permits": "building-and-safety"})
    planned = dict(dataset_file("pothole-repairs", "sanitation", "daily"), status="planned", target_date="2026-09-30")
    for section in ("publishing", "source", "columns"):
        planned.pop(section, None)
    (include / "datasets" / "sanitation").mkdir(exist_ok=True)
    (include / "datasets" / "sanitation" / "pothole-repairs.yaml").write_text(yaml.safe_dump(planned))
    inputs = load_quarter_inputs(registry, Q3, as_of=AS_OF, include_dir=include)
    assert [record.dataset_id for record in inputs.datasets] == ["permits"]  # a planned file is no dataset record
    assert tuple(inputs.planned) == (PlannedEntry("sanitation", "pothole-repairs", planned["name"],
                                                  dt.date(2026, 9, 30)),)
    report = quarterly_report(inputs)
    sanitation = {row.department: row for row in report.rows}["sanitation"]
    assert (sanitation.planned, sanitation.planned_past_target) == (1, 1)  # 30 September, before the cutoff
    assert [entry.dataset_id for entry in report.planned] == ["pothole-repairs"]
    # The caller's own list wins, even an empty one.
    assert load_quarter_inputs(registry, Q3, as_of=AS_OF, include_dir=include, planned=()).planned == ()


def test_a_quarter_not_yet_started_is_refused_before_reading(registry, include):
    with pytest.raises(ValueError, match="starts at"):
        load_quarter_inputs(registry, Quarter(2030, 1), as_of=AS_OF, include_dir=include)


def test_without_the_comment_table_there_are_no_comment_periods(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'bare.sqlite'}")
    try:
        comment_watch.drop(registry.engine)
        assert QuarterlyReader(registry).comment_periods() == {}
        assert sa.inspect(registry.engine).has_table(comment_watch.name) is False  # read-only: not created
    finally:
        registry.close()


def test_a_registry_that_cannot_be_read_raises_registry_unavailable(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'gone.sqlite'}")
    try:
        reader = QuarterlyReader(registry)
        reader.engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite'}")
        with pytest.raises(RegistryUnavailable, match="publication registry"):
            reader.states()
    finally:
        registry.close()
