"""The quarterly Open Data Working Group report: per department and for the city, what was
published, what waits, what was refused, what is planned, how long publication took, whether
refreshes kept their promise and public comments were answered. Pure, in the manner of dbt's
source freshness: typed inputs in, a typed :class:`QuarterlyReport` out, no I/O.

    quarter = previous_quarter(now)                       # or quarter_of(day), parse_quarter("2026 Q3")
    inputs = load_quarter_inputs(registry, quarter)       # catalog/quarterly_read.py: the reads
    report = quarterly_report(inputs)                     # this module
    render_html(report), render_csv(report)               # catalog/quarterly_render.py

Quarters are calendar quarters in the city's time zone: 2026 Q3 runs from 1 July 2026 00:00 to
1 October 2026 00:00, Los Angeles time (``Quarter.starts_at`` inclusive, ``Quarter.ends_at``
exclusive). A report is made ``as_of`` an instant (normally: now). Its *cutoff* is the end of
the quarter, or ``as_of`` for the quarter still under way; events count for the quarter when
``starts_at <= at < cutoff``.

The figures, exactly (per department; the city's row adds them up, and its median is the
median of every department's values, not a median of medians):

``published``
    Datasets public at the cutoff: their stage then (the last stage change before it) is
    stage-2 or refreshing, or retired after having been public (a retired dataset stays
    published, it is no longer refreshed).
``newly_public``
    Of those, the datasets that first became public during the quarter (their first change to
    stage-2 or refreshing; without any stage history, the registry's ``public_at``).
``in_review``
    Datasets in stage-1 at the cutoff: private on the portal, waiting for the Chief Data
    Officer's review.
``rejected`` (``rejected_step1``, ``rejected_review``)
    Datasets with a refusal during the quarter, counted once each however many refusals:
    ``rejected_step1`` refused by department leadership at Step 1 (a change to ``rejected``
    from a stage before the portal review, or the Step 1 refusal note on a dataset already
    rejected), ``rejected_review`` rejected in the Stage 1 review (a change to ``rejected``
    from stage-1 or scheduled). ``rejected`` is the datasets with either (a dataset refused
    twice, by each, counts once there).
``planned`` (``planned_past_target``)
    The planned entries given (:class:`PlannedEntry`) whose dataset is not published at the
    cutoff; ``planned_past_target``: of those, the ones whose target date is before the
    cutoff's date (the timeline slipped).
``median_days_to_public`` (``days_to_public``: the values)
    For the datasets that became public during the quarter and whose Step 1 approval is
    recorded: calendar days (fractional) from the department's Step 1 approval (the
    registry's ``department_approved_at``: the approval that led to publication, a refused
    and resubmitted dataset counts from its later approval) to becoming public. None when no
    dataset qualifies.
``refreshes`` (a :class:`Share`: on time of judged)
    Each successful run of kind ``refresh`` that ended during the quarter is judged, if its
    dataset's policy promises a frequency (irregular and historical data are not judged) and
    an earlier successful run of the dataset exists (the refresh or the Stage 1 load before
    it: the previous confirmed update of the data). It is on time when the counted time
    between the two (:func:`opendata.freshness.calendar.counted_time`: the policy's
    no-update days do not count) is at most the policy's ``due_after``: the dataset was not
    due or overdue when it was refreshed (exactly ``due_after`` is on time, as the freshness
    status is fresh at exactly its threshold). A run's instant is its end (its start when it
    recorded no end). Refreshes that never happened are not in this share: "overdue now"
    shows them.
``overdue_now``
    Datasets public at ``as_of`` (stage-2 or refreshing; retired ones are no longer
    refreshed) whose freshness status (:func:`opendata.freshness.status.status`) at ``as_of``
    is overdue, judged from the registry's last confirmed update: the later of the last
    successful run's end and ``last_refresh_at``, both at or before ``as_of``. (The hourly
    monitor judges the portal's ``dataUpdatedAt``; the report has no portal to read.)
``comments`` (a :class:`Share`: answered in time of judged; ``comments_waiting``)
    Each waiting period of the comment watch whose clock started during the quarter: answered
    in time when marked answered (at or before ``as_of``) within ``answer_within`` (48 hours)
    of business time (:func:`opendata.freshness.calendar.business_time`: every hour of Monday
    to Friday in the city's time zone) of the clock's start; late when answered after that, or
    still unanswered at ``as_of`` with more than 48 business hours gone. A period still
    unanswered within its 48 hours is ``comments_waiting``, not judged yet. (The comment watch
    keeps each dataset's latest period only: see ``quarterly_read`` for what it can tell.)
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opendata.freshness.calendar import business_time, counted_time, zone
from opendata.freshness.policy import CITY_TIMEZONE, FreshnessPolicy
from opendata.freshness.status import FreshnessState, FreshnessStatus, status
from opendata.registry.stages import Stage

if TYPE_CHECKING:
    from opendata.spec.governance import Governance

_DAY = dt.timedelta(days=1)

#: Business time within which a public comment should be answered (playbook, Communications).
ANSWER_WITHIN = dt.timedelta(hours=48)

#: The note the registry writes with a Step 1 refusal (``Registry.record_department_rejection``).
STEP1_REJECTION_NOTE = "Step 1 rejected by"

#: The department code of registry datasets no dataset file holds (not a valid slug: it cannot
#: be a real department's code).
NO_FILE_DEPARTMENT = "(no dataset file)"

_PUBLIC = frozenset({Stage.STAGE_2, Stage.REFRESHING})
#: A change to rejected from these is the Stage 1 review's decision.
_REVIEWED_FROM = frozenset({Stage.STAGE_1, Stage.SCHEDULED})
_SUCCESS = "success"
_REFRESH = "refresh"


# --- quarters ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter in a time zone (by default the city's)."""

    year: int
    number: int
    timezone: str = field(default=CITY_TIMEZONE, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"quarter number {self.number} is not 1 to 4")
        if not dt.MINYEAR <= self.year < dt.MAXYEAR:
            raise ValueError(f"year {self.year} is out of range")
        zone(self.timezone)  # an unknown zone fails here, not half-way through a report

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - _DAY

    @property
    def starts_at(self) -> dt.datetime:
        """Local midnight of the first day, in UTC (aware)."""
        return _local_midnight(self.first_day, self.timezone)

    @property
    def ends_at(self) -> dt.datetime:
        """Local midnight after the last day, in UTC (aware; exclusive)."""
        return _local_midnight(self.last_day + _DAY, self.timezone)

    @property
    def label(self) -> str:
        """``2026 Q3``."""
        return f"{self.year} Q{self.number}"

    @property
    def slug(self) -> str:
        """``2026-q3``: for file names."""
        return f"{self.year}-q{self.number}"

    def next(self) -> Quarter:
        return Quarter(self.year + self.number // 4, self.number % 4 + 1, self.timezone)

    def previous(self) -> Quarter:
        return Quarter(self.year - (self.number == 1), (self.number - 2) % 4 + 1, self.timezone)

    def contains(self, instant: dt.datetime) -> bool:
        return self.starts_at <= _require_aware(instant) < self.ends_at

    def __str__(self) -> str:
        return self.label


def _local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), zone(timezone)).astimezone(dt.UTC)


def _require_aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give a time zone")
    return value


def quarter_of(when: dt.date | dt.datetime, timezone: str = CITY_TIMEZONE) -> Quarter:
    """The quarter holding a day, or an instant (aware) as the city's clock reads it."""
    if isinstance(when, dt.datetime):
        when = _require_aware(when).astimezone(zone(timezone)).date()
    return Quarter(when.year, (when.month - 1) // 3 + 1, timezone)


def previous_quarter(when: dt.date | dt.datetime, timezone: str = CITY_TIMEZONE) -> Quarter:
    """The last complete quarter before ``when``: what a report run at the start of a quarter covers."""
    return quarter_of(when, timezone).previous()


_QUARTER_TEXT = re.compile(r"^\s*(?:(\d{4})\s*[-_ ]?\s*q([1-4])|q([1-4])\s*[-_ ]?\s*(\d{4}))\s*$", re.IGNORECASE)


def parse_quarter(text: str, timezone: str = CITY_TIMEZONE) -> Quarter:
    """``2026 Q3``, ``2026-Q3``, ``2026q3`` or ``Q3 2026`` (for the command line)."""
    found = _QUARTER_TEXT.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a quarter: write it like 2026 Q3")
    year, number = (found[1], found[2]) if found[1] else (found[4], found[3])
    return Quarter(int(year), int(number), timezone)


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageEvent:
    """One row of the registry's stage history."""

    at: dt.datetime
    stage_from: Stage | None
    stage_to: Stage
    #: The row's note; only its start is read (the Step 1 refusal's wording).
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One run of the run log: when it ended (its start if it recorded no end), its kind and outcome."""

    at: dt.datetime
    kind: str | None
    outcome: str

    @property
    def succeeded(self) -> bool:
        return self.outcome == _SUCCESS


@dataclass(frozen=True, slots=True)
class CommentEpisode:
    """A waiting period of the comment watch: the clock's start and when it was marked answered."""

    started_at: dt.datetime
    answered_at: dt.datetime | None = None


@dataclass(frozen=True)
class DatasetRecord:
    """What the dataset file and the registry say about one dataset.

    ``runs`` need not be the whole log: every successful run from the quarter's start to
    ``as_of`` and the last one before the quarter give the same figures (what the reader passes).
    """

    dataset_id: str
    department: str
    name: str
    #: Its freshness policy; None when no valid dataset file gives one (nothing is judged).
    policy: FreshnessPolicy | None = None
    #: The registry's current stage; None: the registry has no row (not ready).
    stage: Stage | None = None
    history: Sequence[StageEvent] = ()
    runs: Sequence[RunEvent] = ()
    department_approved_at: dt.datetime | None = None
    public_at: dt.datetime | None = None
    last_refresh_at: dt.datetime | None = None
    comments: Sequence[CommentEpisode] = ()


@dataclass(frozen=True)
class PlannedEntry:
    """A dataset a department plans to publish, with its target date (the inventory's timeline)."""

    department: str
    dataset_id: str
    name: str
    target_date: dt.date


@dataclass(frozen=True)
class QuarterInputs:
    quarter: Quarter
    #: When the report is made: "now" for overdue, and the cutoff of a quarter under way.
    as_of: dt.datetime
    #: Department code -> name (the governance file's departments; each gets a row, even empty).
    departments: Mapping[str, str]
    datasets: Sequence[DatasetRecord]
    planned: Sequence[PlannedEntry] = ()
    answer_within: dt.timedelta = ANSWER_WITHIN


# --- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """``count`` of ``total`` (on time of judged); ``value`` None when nothing was judged."""

    count: int = 0
    total: int = 0

    @property
    def value(self) -> float | None:
        return self.count / self.total if self.total else None

    def __add__(self, other: Share) -> Share:
        return Share(self.count + other.count, self.total + other.total)


@dataclass(frozen=True)
class DatasetFigures:
    """One dataset's part in its department's row (see the module docstring)."""

    dataset_id: str
    published: bool = False
    newly_public: bool = False
    in_review: bool = False
    rejected_step1: bool = False
    rejected_review: bool = False
    days_to_public: float | None = None
    refreshes: Share = Share()
    #: The freshness status at ``as_of`` when the dataset is public and promises a frequency.
    freshness: FreshnessStatus | None = None
    comments: Share = Share()
    comments_waiting: int = 0

    @property
    def overdue(self) -> bool:
        return self.freshness is not None and self.freshness.state is FreshnessState.OVERDUE


@dataclass(frozen=True)
class DepartmentRow:
    department: str
    name: str
    datasets: int = 0
    published: int = 0
    newly_public: int = 0
    in_review: int = 0
    rejected: int = 0
    rejected_step1: int = 0
    rejected_review: int = 0
    planned: int = 0
    planned_past_target: int = 0
    days_to_public: tuple[float, ...] = ()
    refreshes: Share = Share()
    overdue_now: int = 0
    comments: Share = Share()
    comments_waiting: int = 0

    @property
    def median_days_to_public(self) -> float | None:
        return statistics.median(self.days_to_public) if self.days_to_public else None


@dataclass(frozen=True)
class OverdueDataset:
    dataset_id: str
    name: str
    department: str
    #: The last confirmed update (None: never updated).
    last_update: dt.datetime | None
    #: Counted days past one promised cycle (None: never updated).
    days_late: float | None


@dataclass(frozen=True)
class QuarterlyReport:
    quarter: Quarter
    as_of: dt.datetime
    #: The end of the quarter, or ``as_of`` for a quarter still under way.
    cutoff: dt.datetime
    rows: tuple[DepartmentRow, ...]
    total: DepartmentRow
    overdue: tuple[OverdueDataset, ...] = ()
    planned: tuple[PlannedEntry, ...] = ()
    answer_within: dt.timedelta = ANSWER_WITHIN

    @property
    def complete(self) -> bool:
        """False for a quarter still under way (figures to date)."""
        return self.cutoff >= self.quarter.ends_at

    @property
    def department_names(self) -> dict[str, str]:
        return {row.department: row.name for row in self.rows}


# --- the figures -----------------------------------------------------------------------------


def cutoff_of(quarter: Quarter, as_of: dt.datetime) -> dt.datetime:
    """The end of the quarter, or ``as_of`` if earlier; refuses a quarter not yet started."""
    as_of = _require_aware(as_of).astimezone(dt.UTC)
    if as_of <= quarter.starts_at:
        raise ValueError(f"{quarter.label} starts at {quarter.starts_at.isoformat()}, after {as_of.isoformat()}")
    return min(quarter.ends_at, as_of)


def stage_at(record: DatasetRecord, instant: dt.datetime, history: Sequence[StageEvent] | None = None) -> Stage | None:
    """The dataset's stage just before ``instant`` (the last change before it); None: not in the
    registry yet. A dataset with no stage history at all is taken at its current stage."""
    events = record.history if history is None else history
    if not events:
        return record.stage
    found: Stage | None = None
    for event in events:
        if event.at >= instant:
            break
        found = event.stage_to
    return found


def became_public_at(record: DatasetRecord, history: Sequence[StageEvent] | None = None) -> dt.datetime | None:
    """Its first change to a public stage; without stage history, the registry's ``public_at``."""
    events = record.history if history is None else history
    for event in events:
        if event.stage_to in _PUBLIC:
            return event.at
    return None if events else record.public_at


def dataset_figures(record: DatasetRecord, quarter: Quarter, as_of: dt.datetime,
                    answer_within: dt.timedelta = ANSWER_WITHIN) -> DatasetFigures:
    """One dataset's figures for the quarter (see the module docstring for each definition)."""
    as_of = _require_aware(as_of).astimezone(dt.UTC)
    start, cutoff = quarter.starts_at, cutoff_of(quarter, as_of)
    history = sorted(record.history, key=lambda e: e.at)
    stage_then = stage_at(record, cutoff, history)
    public_since = became_public_at(record, history)
    published = (stage_then in _PUBLIC or (stage_then is Stage.RETIRED and public_since is not None)) \
        and (public_since is None or public_since < cutoff)
    newly_public = published and public_since is not None and start <= public_since < cutoff
    days: float | None = None
    approved = record.department_approved_at
    if newly_public and approved is not None and public_since is not None and approved <= public_since:
        days = (public_since - approved) / _DAY
    step1, review = _rejections(history, start, cutoff)
    successes = sorted((run for run in record.runs if run.succeeded), key=lambda run: run.at)
    comments, waiting = _comments(record.comments, start, cutoff, as_of, answer_within, quarter.timezone)
    return DatasetFigures(
        dataset_id=record.dataset_id,
        published=published,
        newly_public=newly_public,
        in_review=stage_then is Stage.STAGE_1,
        rejected_step1=step1,
        rejected_review=review,
        days_to_public=days,
        refreshes=_refreshes(successes, record.policy, start, cutoff),
        freshness=_freshness_now(record, successes, history, as_of),
        comments=comments,
        comments_waiting=waiting,
    )


def _rejections(history: Sequence[StageEvent], start: dt.datetime, cutoff: dt.datetime) -> tuple[bool, bool]:
    step1 = review = False
    for event in history:
        if event.stage_to is not Stage.REJECTED or not start <= event.at < cutoff:
            continue
        if event.stage_from in _REVIEWED_FROM:
            review = True
        elif event.stage_from is not Stage.REJECTED or (event.notes or "").startswith(STEP1_REJECTION_NOTE):
            step1 = True
    return step1, review


def _refreshes(successes: Sequence[RunEvent], policy: FreshnessPolicy | None, start: dt.datetime,
               cutoff: dt.datetime) -> Share:
    if policy is None or policy.due_after is None:
        return Share()
    on_time = judged = 0
    previous: dt.datetime | None = None
    for run in successes:
        if run.at >= cutoff:
            break
        if previous is not None and run.kind == _REFRESH and run.at >= start:
            judged += 1
            # status()'s rule: fresh while the counted age is at most due_after.
            if counted_time(previous, run.at, policy.no_updates_on, policy.timezone) <= policy.due_after:
                on_time += 1
        previous = run.at
    return Share(on_time, judged)


def _freshness_now(record: DatasetRecord, successes: Sequence[RunEvent], history: Sequence[StageEvent],
                   as_of: dt.datetime) -> FreshnessStatus | None:
    policy = record.policy
    if policy is None or not policy.monitored or stage_at(record, as_of, history) not in _PUBLIC:
        return None
    candidates = [run.at for run in successes if run.at <= as_of]
    if record.last_refresh_at is not None and record.last_refresh_at <= as_of:
        candidates.append(record.last_refresh_at)
    return status(max(candidates, default=None), as_of, policy)


def _comments(episodes: Iterable[CommentEpisode], start: dt.datetime, cutoff: dt.datetime, as_of: dt.datetime,
              answer_within: dt.timedelta, timezone: str) -> tuple[Share, int]:
    on_time = late = waiting = 0
    for episode in episodes:
        if not start <= episode.started_at < cutoff:
            continue
        answered = episode.answered_at if episode.answered_at is not None and episode.answered_at <= as_of \
            else None
        waited = business_time(episode.started_at, answered or as_of, timezone)
        if waited > answer_within:
            late += 1
        elif answered is not None:
            on_time += 1
        else:
            waiting += 1
    return Share(on_time, on_time + late), waiting


def quarterly_report(inputs: QuarterInputs) -> QuarterlyReport:
    """Every department's row (each department of ``inputs.departments``, even with nothing to
    count, and any other department a dataset or plan names), the city's total and the
    overdue datasets, for ``inputs.quarter`` as of ``inputs.as_of``."""
    quarter, as_of = inputs.quarter, _require_aware(inputs.as_of).astimezone(dt.UTC)
    cutoff = cutoff_of(quarter, as_of)
    names = dict(inputs.departments)
    rows: dict[str, _Tally] = {}

    def tally(department: str) -> _Tally:
        if department not in rows:
            rows[department] = _Tally()
        return rows[department]

    for department in names:
        tally(department)
    published_ids: set[str] = set()
    overdue: list[OverdueDataset] = []
    for record in inputs.datasets:
        figures = dataset_figures(record, quarter, as_of, inputs.answer_within)
        tally(record.department).add(figures)
        if figures.published:
            published_ids.add(record.dataset_id)
        if figures.overdue and figures.freshness is not None:
            overdue.append(OverdueDataset(record.dataset_id, record.name, record.department,
                                          figures.freshness.last_update, figures.freshness.days_late))
    cutoff_day = cutoff.astimezone(zone(quarter.timezone)).date()
    planned = tuple(sorted((p for p in inputs.planned if p.dataset_id not in published_ids),
                           key=lambda p: (p.target_date, p.department, p.dataset_id)))
    for entry in planned:
        tally(entry.department).add_plan(past_target=entry.target_date < cutoff_day)
    department_rows = tuple(sorted((rows[code].row(code, names.get(code, code)) for code in rows),
                                   key=lambda row: (" ".join(row.name.split()).casefold(), row.department)))
    total = _Tally()
    for code in rows:
        total.merge(rows[code])
    return QuarterlyReport(
        quarter=quarter, as_of=as_of, cutoff=cutoff, rows=department_rows, total=total.row("", "City total"),
        overdue=tuple(sorted(overdue, key=lambda d: (-(d.days_late if d.days_late is not None else float("inf")),
                                                     d.department, d.dataset_id))),
        planned=planned, answer_within=inputs.answer_within)


class _Tally:
    """A department's (or the city's) figures while they are added up; :meth:`row` freezes
    them. The counts are :class:`DepartmentRow`'s integer fields, by name (a missing one is 0)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.days_to_public: list[float] = []
        self.refreshes = Share()
        self.comments = Share()

    def add(self, figures: DatasetFigures) -> None:
        self.counts.update(datasets=1, published=figures.published, newly_public=figures.newly_public,
                           in_review=figures.in_review,
                           rejected=int(bool(figures.rejected_step1 or figures.rejected_review)),
                           rejected_step1=figures.rejected_step1, rejected_review=figures.rejected_review,
                           overdue_now=figures.overdue, comments_waiting=figures.comments_waiting)
        if figures.days_to_public is not None:
            self.days_to_public.append(figures.days_to_public)
        self.refreshes += figures.refreshes
        self.comments += figures.comments

    def add_plan(self, *, past_target: bool) -> None:
        self.counts.update(planned=1, planned_past_target=int(past_target))

    def merge(self, other: _Tally) -> None:
        self.counts.update(other.counts)
        self.days_to_public += other.days_to_public
        self.refreshes += other.refreshes
        self.comments += other.comments

    def row(self, department: str, name: str) -> DepartmentRow:
        return DepartmentRow(department=department, name=name, days_to_public=tuple(sorted(self.days_to_public)),
                             refreshes=self.refreshes, comments=self.comments, **self.counts)


# --- for the DAG, the command line and the e-mail ------------------------------------------------


def report_title(report: QuarterlyReport) -> str:
    """``Open data quarterly report, 2026 Q3`` (``(to date)`` while the quarter is under way)."""
    return f"Open data quarterly report, {report.quarter.label}" + ("" if report.complete else " (to date)")


def report_file_stem(quarter: Quarter) -> str:
    """``opendata-quarterly-2026-q3``: the HTML and CSV files' name without suffix."""
    return f"opendata-quarterly-{quarter.slug}"


def report_recipients(governance: Governance) -> list[str]:
    """The Chief Data Officer and every department's Open Data Coordinators (addresses, each once)."""
    keys = [governance.chief_data_officer]
    for department in governance.departments.values():
        keys += department.coordinators
    addresses: list[str] = []
    for key in keys:
        person = governance.people.get(key)
        if person is not None and str(person.email) not in addresses:
            addresses.append(str(person.email))
    return addresses
