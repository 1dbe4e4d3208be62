"""The quarterly report's reads: the registry in bulk and the dataset files, made into the
typed inputs of :func:`opendata.catalog.quarterly.quarterly_report`.

    report = report_for(Registry.from_settings(), previous_quarter(now))
    # or, step by step:
    inputs = load_quarter_inputs(registry, quarter, as_of=now)
    report = quarterly_report(inputs)

The registry is read with five queries whatever the number of datasets (never one per dataset),
on the registry's own engine and tables (``registry/store.py``, ``freshness/alert_store.py``),
read-only: no table is created or changed.

1. ``dataset_state``: every dataset's stage, Step 1 approval, ``public_at``, ``last_refresh_at``;
2. ``stage_change``: the stage history up to ``as_of`` (rows that only add a note to an unchanged
   stage are left out, except a rejected dataset's: a second Step 1 refusal is one of those);
3. ``run_log``: the successful runs from the quarter's start to ``as_of``, streamed
   (``yield_per``: a server-side cursor on PostgreSQL), three small fields each;
4. ``run_log``: per dataset, the end of its last successful run before the quarter (the previous
   confirmed update of the quarter's first refresh), one grouped query;
5. ``comment_watch``: each dataset's watch row (none when the monitor never created the table).

What the comment watch can tell. It keeps one row per dataset, its current state, not a history:
a waiting period shows as ``pending_since`` while nobody has answered; once marked answered, the
row keeps ``answered_at`` and clears ``pending_since``, so the clock's start is read from
``notified_at`` (the notice of the last rise: the same instant unless more comments came while
waiting, when it is later and the measured wait is shorter than the real one). A dataset's
earlier periods, overwritten by a later one, are not seen: at most one period a dataset counts.

Dataset files are read as the freshness monitor reads them (``freshness.sources.load_dataset_files``:
libyaml and the typed model, about a millisecond a file; a file that does not validate is
skipped, the lint command reports it). A registry dataset no valid file holds is reported
under :data:`~opendata.catalog.quarterly.NO_FILE_DEPARTMENT`, its freshness not judged.

The report's planned entries (the inventory's timeline) are the valid planned files
(``status: planned``, with their ``target_date``), unless the caller gives its own list.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from opendata import settings
from opendata.catalog.quarterly import (
    ANSWER_WITHIN,
    NO_FILE_DEPARTMENT,
    CommentEpisode,
    DatasetRecord,
    PlannedEntry,
    Quarter,
    QuarterInputs,
    QuarterlyReport,
    RunEvent,
    StageEvent,
    cutoff_of,
    quarterly_report,
)
from opendata.freshness.alert_store import comment_watch
from opendata.freshness.policy import FreshnessPolicy, policy_for
from opendata.freshness.sources import DatasetFiles, load_dataset_files
from opendata.registry.stages import Stage
from opendata.registry.store import Registry, dataset_state, guarded, run_log, stage_change, stored_instant
from opendata.spec.dataset import DatasetSpec, PlannedDataset
from opendata.spec.governance import Governance

log = logging.getLogger(__name__)

#: Rows fetched at a time from the run log (a server-side cursor on PostgreSQL).
YIELD_PER = 10_000
#: The part of a stage change's note that is read (the Step 1 refusal's wording is at its start).
NOTE_PREFIX_CHARS = 64
_SUCCESS = "success"


@dataclass(frozen=True, slots=True)
class StateRow:
    stage: Stage
    department_approved_at: dt.datetime | None
    public_at: dt.datetime | None
    last_refresh_at: dt.datetime | None


@dataclass
class RegistryRows:
    """What the five queries returned, per dataset id."""

    states: dict[str, StateRow] = field(default_factory=dict)
    history: dict[str, list[StageEvent]] = field(default_factory=dict)
    runs: dict[str, list[RunEvent]] = field(default_factory=dict)
    comments: dict[str, list[CommentEpisode]] = field(default_factory=dict)

    @property
    def dataset_ids(self) -> set[str]:
        return set(self.states) | set(self.history) | set(self.runs) | set(self.comments)


def _param(value: dt.datetime) -> dt.datetime:
    # In UTC: SQLite compares the stored text, written from UTC datetimes.
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give a time zone")
    return value.astimezone(dt.UTC)


class QuarterlyReader:
    """The report's bulk queries on a registry's engine. Database failures raise
    :class:`~opendata.registry.RegistryUnavailable`, as the registry's own operations do."""

    def __init__(self, registry: Registry):
        self.engine = registry.engine
        self.location = registry.location
        self.dataset_id: str | None = None  # named by ``guarded`` in errors: none, it reads them all

    def read(self, quarter: Quarter, as_of: dt.datetime) -> RegistryRows:
        """Everything the report needs about every dataset: five queries."""
        return RegistryRows(states=self.states(), history=self.stage_history(as_of),
                            runs=self.successful_runs(quarter.starts_at, as_of),
                            comments=self.comment_periods())

    @guarded
    def states(self) -> dict[str, StateRow]:
        c = dataset_state.c
        query = sa.select(c.dataset_id, c.stage, c.department_approved_at, c.public_at, c.last_refresh_at)
        with self.engine.connect() as conn:
            return {r.dataset_id: StateRow(Stage(r.stage), stored_instant(r.department_approved_at),
                                           stored_instant(r.public_at), stored_instant(r.last_refresh_at))
                    for r in conn.execute(query)}

    @guarded
    def stage_history(self, as_of: dt.datetime) -> dict[str, list[StageEvent]]:
        """Stage changes up to ``as_of``, oldest first per dataset."""
        c = stage_change.c
        changed = sa.or_(c.stage_from.is_(None), c.stage_from != c.stage_to, c.stage_to == Stage.REJECTED.value)
        query = (sa.select(c.dataset_id, c.stage_from, c.stage_to, c.at,
                           sa.func.substr(c.notes, 1, NOTE_PREFIX_CHARS).label("notes"))
                 .where(changed, c.at <= _param(as_of)).order_by(c.dataset_id, c.id))
        found: dict[str, list[StageEvent]] = {}
        stages = {stage.value: stage for stage in Stage}
        with self.engine.connect() as conn:
            for r in conn.execution_options(yield_per=YIELD_PER).execute(query):
                at = stored_instant(r.at)
                assert at is not None  # the column is NOT NULL
                found.setdefault(r.dataset_id, []).append(StageEvent(
                    at, stages[r.stage_from] if r.stage_from else None, stages[r.stage_to], r.notes))
        return found

    @guarded
    def successful_runs(self, since: dt.datetime, as_of: dt.datetime) -> dict[str, list[RunEvent]]:
        """Per dataset: its last successful run before ``since`` (kind unknown: only its instant is
        used), then every successful run from ``since`` to ``as_of``, oldest first."""
        at = sa.func.coalesce(run_log.c.ended_at, run_log.c.started_at)
        success = run_log.c.outcome == _SUCCESS
        earlier = (sa.select(run_log.c.dataset_id, sa.func.max(at).label("at"))
                   .where(success, at < _param(since)).group_by(run_log.c.dataset_id))
        during = (sa.select(run_log.c.dataset_id, run_log.c.kind, at.label("at"))
                  .where(success, at >= _param(since), at <= _param(as_of)))
        found: dict[str, list[RunEvent]] = {}
        kinds: dict[str | None, str | None] = {None: None}  # one string object per kind, not per row
        with self.engine.connect() as conn:
            for dataset_id, when in conn.execute(earlier):
                instant = stored_instant(when)
                if instant is not None:
                    found[dataset_id] = [RunEvent(instant, None, _SUCCESS)]
            for dataset_id, kind, when in conn.execution_options(yield_per=YIELD_PER).execute(during):
                instant = stored_instant(when)
                if instant is None:
                    continue
                runs = found.get(dataset_id)
                if runs is None:
                    runs = found[dataset_id] = []
                runs.append(RunEvent(instant, kinds.setdefault(kind, kind), _SUCCESS))
        for runs in found.values():
            runs.sort(key=lambda run: run.at)
        return found

    @guarded
    def comment_periods(self) -> dict[str, list[CommentEpisode]]:
        """The comment watch's waiting period per dataset (see the module docstring)."""
        if not sa.inspect(self.engine).has_table(comment_watch.name):
            return {}
        c = comment_watch.c
        query = (sa.select(c.dataset_id, c.pending_since, c.notified_at, c.answered_at)
                 .where(sa.or_(c.pending_since.is_not(None), c.answered_at.is_not(None))))
        found: dict[str, list[CommentEpisode]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                pending, notified, answered = (stored_instant(r.pending_since), stored_instant(r.notified_at),
                                               stored_instant(r.answered_at))
                if pending is not None:
                    found[r.dataset_id] = [CommentEpisode(pending, answered)]
                elif notified is not None and answered is not None:
                    found[r.dataset_id] = [CommentEpisode(notified, answered)]
        return found


def build_inputs(quarter: Quarter, as_of: dt.datetime, governance: Governance, specs: Iterable[DatasetSpec],
                 rows: RegistryRows, planned: Sequence[PlannedEntry] = (),
                 answer_within: dt.timedelta = ANSWER_WITHIN) -> QuarterInputs:
    """The report's inputs from the dataset files, the governance file and the registry's rows:
    every dataset a file or the registry knows (no I/O)."""
    by_id = {spec.id: spec for spec in specs}
    records: list[DatasetRecord] = []
    for dataset_id in sorted(set(by_id) | rows.dataset_ids):
        spec = by_id.get(dataset_id)
        state = rows.states.get(dataset_id)
        records.append(DatasetRecord(
            dataset_id=dataset_id,
            department=spec.department if spec else NO_FILE_DEPARTMENT,
            name=spec.name if spec else dataset_id,
            policy=_policy(spec, quarter.timezone) if spec else None,
            stage=state.stage if state else None,
            history=rows.history.get(dataset_id, ()),
            runs=rows.runs.get(dataset_id, ()),
            department_approved_at=state.department_approved_at if state else None,
            public_at=state.public_at if state else None,
            last_refresh_at=state.last_refresh_at if state else None,
            comments=rows.comments.get(dataset_id, ())))
    return QuarterInputs(quarter=quarter, as_of=as_of, departments=department_names(governance), datasets=records,
                         planned=tuple(planned), answer_within=answer_within)


def _policy(spec: DatasetSpec, timezone: str) -> FreshnessPolicy | None:
    try:
        return policy_for(spec, timezone)
    except ValueError as exc:  # thresholds the lint command rejects
        log.warning("%s: its freshness policy is invalid (%s); its refreshes are not judged", spec.id, exc)
        return None


def configured_answer_within() -> dt.timedelta:
    """The comment watch's answer time (``OPENDATA_COMMENT_ANSWER_HOURS``, default 48 business hours)."""
    hours = settings.freshness_number("OPENDATA_COMMENT_ANSWER_HOURS")
    return dt.timedelta(hours=hours) if hours and hours > 0 else ANSWER_WITHIN


def planned_entries(planned: Iterable[PlannedDataset]) -> list[PlannedEntry]:
    """The report's planned entries from planned dataset files, by id."""
    return [PlannedEntry(department=spec.department, dataset_id=spec.id, name=spec.name,
                         target_date=spec.target_date) for spec in sorted(planned, key=lambda spec: spec.id)]


def load_quarter_inputs(registry: Registry, quarter: Quarter, *, as_of: dt.datetime | None = None,
                        files: DatasetFiles | None = None, include_dir: Path | None = None,
                        planned: Sequence[PlannedEntry] | None = None,
                        answer_within: dt.timedelta | None = None) -> QuarterInputs:
    """Read the dataset files (``files``, else those under ``include_dir``, else the configured
    folder) and the registry (five queries), for ``quarter`` as of ``as_of`` (default: now).
    ``planned``: the timeline's entries; None (the default): the planned dataset files'."""
    as_of = dt.datetime.now(dt.UTC) if as_of is None else as_of
    cutoff_of(quarter, as_of)  # a quarter not yet started fails before anything is read
    files = files if files is not None else load_dataset_files(include_dir)
    rows = QuarterlyReader(registry).read(quarter, as_of)
    if planned is None:
        planned = planned_entries(files.planned.values())
    return build_inputs(quarter, as_of, files.governance, files.specs.values(), rows, planned,
                        answer_within or configured_answer_within())


def report_for(registry: Registry, quarter: Quarter, *, as_of: dt.datetime | None = None,
               files: DatasetFiles | None = None, include_dir: Path | None = None,
               planned: Sequence[PlannedEntry] | None = None) -> QuarterlyReport:
    """Read and compute: what the DAG's task and the command line call."""
    return quarterly_report(load_quarter_inputs(registry, quarter, as_of=as_of, files=files,
                                                include_dir=include_dir, planned=planned))


def department_names(governance: Governance) -> Mapping[str, str]:
    """Department code -> name, in the governance file's order."""
    return {code: department.name for code, department in governance.departments.items()}
