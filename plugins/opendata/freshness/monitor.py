"""The monitor's two jobs, each a plain function the DAG's tasks call (and the benchmark and
tests call directly): read in bulk, decide with the pure modules, send, remember.

    check_freshness(settings)   reminders to departments, the CDO's digest, alert state
    watch_comments(settings)    public comments: notices, 48-business-hour reminders

Messages are remembered only once delivered, so a failed send is retried by the next run and
nothing is reported twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import logging
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from opendata import settings as deployment_settings
from opendata.freshness.alerts import DEFAULT_REALERT, Channel, plan_alerts, reported
from opendata.freshness.comments import (
    DEFAULT_ANSWER_WITHIN,
    CommentActionKind,
    answer_deadline,
    choose_to_read,
    plan_comments,
    read_budget,
    sweep_runs,
)
from opendata.freshness.evaluate import Evaluation, MonitoredDataset, Observation, evaluate_all
from opendata.freshness.policy import CITY_TIMEZONE

if TYPE_CHECKING:
    # Imported when a pass starts (World.connect and the pass functions), not with the DAG file.
    from opendata.freshness.alert_store import AlertStore
    from opendata.freshness.sources import DatasetFiles, PortalReads
    from opendata.notify.compose import Message
    from opendata.notify.send import Mailer
    from opendata.registry import Registry

log = logging.getLogger(__name__)

#: Runs within which a new comment is noticed, as the README promises (72 hours at hourly runs:
#: up to 1,008 public datasets at the default 14 comment reads a run). Past it, a warning.
NOTICE_RUNS_PROMISED = 72

#: How a coordinator marks a dataset's public comments answered (also shown in the e-mails).
MARK_ANSWERED = "python -m opendata.freshness comments answered {dataset_id} --by <your name>"


def _env_float(name: str, default: float) -> float:
    value = deployment_settings.freshness_number(name)
    return value if value is not None else default


@dataclass(frozen=True)
class MonitorSettings:
    """Every knob of the monitor; defaults from the environment (see the README)."""

    socrata_conn_id: str = "socrata_default"
    smtp_conn_id: str = "smtp_default"
    #: The digest is also posted to this Slack webhook connection when it exists; None: never.
    slack_conn_id: str | None = "opendata_slack"
    realert_hours: float = DEFAULT_REALERT / dt.timedelta(hours=1)
    timezone: str = CITY_TIMEZONE
    catalog_batch: int = 200
    #: Every public dataset's comment count is read once every this many runs (hourly: daily)...
    comment_sweep_runs: int = 24
    #: ...but never more than this many view reads in one run (one portal request each): with
    #: the freshness pass's Discovery requests (5 for 1,000 datasets, 200 ids each), an hourly
    #: run stays under 20 portal requests. Past 14 x 24 = 336 public datasets this bounds the
    #: sweep instead: every dataset read within ceil(public / 14) runs (72 for 1,000), which is
    #: then how long a new comment may wait to be noticed (see freshness/comments.py).
    comment_reads_max: int = 14
    comment_answer_hours: float = DEFAULT_ANSWER_WITHIN / dt.timedelta(hours=1)

    @classmethod
    def from_env(cls) -> MonitorSettings:
        return cls(
            realert_hours=_env_float("OPENDATA_FRESHNESS_REALERT_HOURS", cls.realert_hours),
            timezone=deployment_settings.freshness_timezone() or cls.timezone,
            comment_sweep_runs=int(_env_float("OPENDATA_COMMENT_SWEEP_RUNS", cls.comment_sweep_runs)),
            comment_reads_max=int(_env_float("OPENDATA_COMMENT_READS_MAX", cls.comment_reads_max)),
            comment_answer_hours=_env_float("OPENDATA_COMMENT_ANSWER_HOURS", cls.comment_answer_hours),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> MonitorSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})

    @property
    def realert(self) -> dt.timedelta:
        return dt.timedelta(hours=self.realert_hours)

    @property
    def answer_within(self) -> dt.timedelta:
        return dt.timedelta(hours=self.comment_answer_hours)


class _Closable(Protocol):
    def close(self) -> None: ...


class Send(Protocol):
    """Delivers one message as :func:`opendata.notify.send.send` does (tests pass a recorder)."""

    def __call__(self, message: Message, *, smtp_conn_id: str, slack_conn_id: str | None) -> None: ...


@dataclass
class World:
    """The monitor's I/O, injectable: tests and the benchmark may pass their own."""

    registry: Registry
    alerts: AlertStore
    files: DatasetFiles
    hook: PortalReads
    airflow_base_url: str | None = None
    send: Send | None = None

    @classmethod
    def connect(cls, settings: MonitorSettings) -> World:
        from opendata.freshness.alert_store import AlertStore
        from opendata.freshness.sources import load_dataset_files
        from opendata.portal.hook import SocrataHook
        from opendata.registry import Registry

        registry = Registry.from_settings()
        return cls(registry=registry, alerts=AlertStore(registry), files=load_dataset_files(),
                   hook=SocrataHook(settings.socrata_conn_id), airflow_base_url=deployment_settings.airflow_base_url())

    def close(self) -> None:
        resources: tuple[_Closable, ...] = (self.hook, self.registry)
        for resource in resources:
            try:
                resource.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass

    _mailer: Mailer | None = field(default=None, repr=False)

    @contextlib.contextmanager
    def mailing(self, smtp_conn_id: str) -> Iterator[None]:
        """Messages delivered inside share one SMTP connection (a first pass may send hundreds)."""
        from opendata.notify.send import Mailer

        with Mailer(smtp_conn_id) as mailer:
            self._mailer = mailer
            try:
                yield
            finally:
                self._mailer = None

    def deliver(self, message: Message, *, smtp_conn_id: str, slack_conn_id: str | None) -> None:
        from opendata.notify.send import send

        if self.send is not None:
            self.send(message, smtp_conn_id=smtp_conn_id, slack_conn_id=slack_conn_id)
        else:
            send(message, smtp_conn_id=smtp_conn_id, slack_conn_id=slack_conn_id, mailer=self._mailer)

    def deliver_all(self, messages: Sequence[Message], *,
                    smtp_conn_id: str) -> Generator[Exception | None, None, None]:
        """E-mail each message (no Slack copy); yield, in order, None for each delivered or its
        error. In :meth:`mailing`, the next message is built while the previous one is sent."""
        if self.send is not None or self._mailer is None:
            for message in messages:
                try:
                    self.deliver(message, smtp_conn_id=smtp_conn_id, slack_conn_id=None)
                except Exception as exc:  # noqa: BLE001 - the caller reports each message's failure
                    yield exc
                else:
                    yield None
            return
        yield from self._mailer.send_all(messages)

    @property
    def portal_base_url(self) -> str | None:
        try:
            return self.hook.base_url
        except Exception:  # noqa: BLE001 - links are a courtesy
            return None

    def monitored(self, timezone: str) -> list[MonitoredDataset]:
        from opendata.freshness.sources import monitored_datasets

        return monitored_datasets(self.files, self.registry.all_states(), timezone)


@contextlib.contextmanager
def _opened(world: World | None, settings: MonitorSettings) -> Iterator[World]:
    """The given world as it is, or one connected for this pass and closed after it; either way
    with the objects alive at the start left out of full garbage collections."""
    with _long_lived_frozen():
        if world is not None:
            yield world
            return
        world = World.connect(settings)
        try:
            yield world
        finally:
            world.close()


@contextlib.contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Objects alive now (Airflow's modules and whatever the task process holds: they outlive
    the pass) are left out of the collector's full passes until the pass ends. Each full pass
    walked the whole heap (200,000 objects with Airflow imported, 0.25-0.5 s), and a first pass
    loading 1,000 dataset files and building 546 e-mails triggered four: ~2 s, a fifth of it
    (~0.75 s with the heap frozen, measured in bench/freshness_bench.py). Objects someone else
    froze (a process may freeze before forking) are left as they are: then nothing is frozen
    here, so nothing of theirs is unfrozen."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def evaluate_now(world: World, settings: MonitorSettings, now: dt.datetime) -> list[Evaluation]:
    """Every monitored dataset's status and findings, from one bulk read of each source."""
    from opendata.freshness.sources import read_data_updates

    datasets = world.monitored(settings.timezone)
    assets = read_data_updates(world.hook, [d.portal_id for d in datasets], settings.catalog_batch)
    successes = world.alerts.last_successes()
    newest = world.alerts.newest_data()
    watermarks = world.alerts.watermarks() if any(d.newest_from_watermark for d in datasets) else {}
    observations = {}
    for d in datasets:
        asset = assets.get(d.portal_id)
        newest_at = newest.get(d.dataset_id) or (watermarks.get(d.dataset_id) if d.newest_from_watermark else None)
        observations[d.dataset_id] = Observation(
            data_updated_at=asset.data_updated_at if asset is not None else None,
            last_success_at=successes.get(d.dataset_id),
            newest_data_at=newest_at if d.newest_date_column else None,
            on_portal=asset is not None)
    return evaluate_all(datasets, observations, now)


@dataclass
class _PassReport:
    """A pass's counts and lists, returned to the task (XCom) as plain data."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FreshnessReport(_PassReport):
    monitored: int = 0
    states: dict[str, int] = field(default_factory=dict)
    overdue: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    digest_sent: bool = False
    digest_datasets: list[str] = field(default_factory=list)
    unscheduled: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def check_freshness(settings: MonitorSettings | None = None, *, world: World | None = None,
                    now: dt.datetime | None = None) -> FreshnessReport:
    """One freshness pass: read, decide, send the reminders and the digest, remember them."""
    from opendata.freshness.report import build_digest, reminder_details
    from opendata.notify.compose import compose
    from opendata.notify.digest import compose_digest
    from opendata.notify.events import DigestEvent, NotificationEvent

    settings = settings or MonitorSettings.from_env()
    now = now or dt.datetime.now(dt.UTC)
    report = FreshnessReport()
    with _opened(world, settings) as world:
        evaluations = evaluate_now(world, settings, now)
        records = world.alerts.alert_records()
        plan = plan_alerts(evaluations, records, now, settings.realert)
        report.monitored = len(evaluations)
        for ev in evaluations:
            report.states[ev.state.value] = report.states.get(ev.state.value, 0) + 1
        report.overdue = sorted(ev.dataset.dataset_id for ev in plan.overdue)
        report.unscheduled = [ev.dataset.dataset_id for ev in plan.unscheduled]
        report.disagreements = [ev.dataset.dataset_id for ev in plan.disagreements]
        links = {"airflow_base_url": world.airflow_base_url, "portal_base_url": world.portal_base_url}

        delivered = []
        try:
            with world.mailing(settings.smtp_conn_id):
                outgoing = []
                for ev in plan.reminders:
                    spec = world.files.specs[ev.dataset.dataset_id]
                    try:
                        outgoing.append((ev, compose(NotificationEvent.FRESHNESS_DUE, spec, world.files.governance,
                                                     reminder_details(ev, **links))))
                    except Exception as exc:  # noqa: BLE001 - one dataset's failure must not silence the rest
                        _reminder_failed(report, ev, exc)
                # Sent in turn (the next built while the previous is on the wire), each remembered
                # as soon as it is delivered; closed (the one on the wire finished) before the
                # connection is, whatever happens here.
                with contextlib.closing(world.deliver_all([message for _, message in outgoing],
                                                          smtp_conn_id=settings.smtp_conn_id)) as sent:
                    for (ev, _), error in zip(outgoing, sent, strict=True):
                        if error is not None:
                            _reminder_failed(report, ev, error)
                            continue
                        delivered.append(reported(ev, Channel.DEPARTMENT, records, now))
                        report.reminded.append(ev.dataset.dataset_id)
                if plan.send_digest:
                    digest = build_digest(plan, records, monitored=len(evaluations), now=now,
                                          timezone=settings.timezone, **links)
                    message = compose_digest(DigestEvent.OVERDUE_DIGEST, digest, world.files.governance,
                                             {"realert_days": settings.realert_hours / 24})
                    world.deliver(message, smtp_conn_id=settings.smtp_conn_id, slack_conn_id=settings.slack_conn_id)
                    delivered += [reported(ev, Channel.CDO, records, now) for ev in plan.digest]
                    report.digest_sent = True
                    report.digest_datasets = [row.dataset_id for row in digest.overdue]
        finally:
            world.alerts.save_alert_records(delivered)
            world.alerts.clear_alert_records(plan.cleared)
        log.info("Freshness: %d public datasets, %s; %d reminder(s), digest %s (%d overdue)", report.monitored,
                 report.states, len(report.reminded), "sent" if report.digest_sent else "not needed",
                 len(report.overdue))
    if report.errors:
        raise RuntimeError(f"{len(report.errors)} reminder(s) could not be sent: " + "; ".join(report.errors[:5]))
    return report


def _reminder_failed(report: FreshnessReport, ev: Evaluation, exc: Exception) -> None:
    report.errors.append(f"{ev.dataset.dataset_id}: {exc}")
    log.error("Could not remind the department of %s: %s", ev.dataset.dataset_id, exc)


@dataclass
class CommentReport(_PassReport):
    public: int = 0
    read: int = 0
    #: Every public dataset is read at least once within this many runs at this run's budget:
    #: the bound on the runs a new comment waits to be noticed (None: never, no budget).
    sweep_runs: int | None = 0
    baselines: int = 0
    notified: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def watch_comments(settings: MonitorSettings | None = None, *, world: World | None = None,
                   now: dt.datetime | None = None, answered: Sequence[str] = (),
                   answered_by: str | None = None) -> CommentReport:
    """One comment-watch pass. ``answered``: dataset ids to mark answered first (run conf)."""
    from opendata.freshness.alert_store import NotWatched
    from opendata.freshness.report import local
    from opendata.freshness.sources import read_comment_counts
    from opendata.notify.compose import compose
    from opendata.notify.events import NotificationEvent

    settings = settings or MonitorSettings.from_env()
    now = now or dt.datetime.now(dt.UTC)
    report = CommentReport()
    with _opened(world, settings) as world:
        for dataset_id in answered:
            try:
                world.alerts.mark_comment_answered(dataset_id, by=answered_by, at=now)
                report.answered.append(dataset_id)
            except NotWatched:
                log.warning("%s: no comment watch yet; nothing to mark answered", dataset_id)
        datasets = {d.dataset_id: d for d in world.monitored(settings.timezone)}
        report.public = len(datasets)
        states = {k: v for k, v in world.alerts.comment_states().items() if k in datasets}
        budget = read_budget(len(datasets), settings.comment_sweep_runs, settings.comment_reads_max)
        report.sweep_runs = sweep_runs(len(datasets), budget)
        to_read = choose_to_read(datasets, states, budget)
        counts = read_comment_counts(world.hook, [datasets[i].portal_id for i in to_read])
        by_portal = {datasets[i].portal_id: i for i in to_read}
        observed = {by_portal[p]: n for p, n in counts.items()}
        report.read = len(to_read)
        plan = plan_comments(states, observed, now, answer_within=settings.answer_within,
                             timezone=settings.timezone)
        report.baselines = sum(1 for s in plan.quiet if s.dataset_id not in states)
        delivered = list(plan.quiet)
        try:
            with world.mailing(settings.smtp_conn_id):
                for action in plan.actions:
                    spec = world.files.specs[action.dataset_id]
                    event = (NotificationEvent.COMMENT_RECEIVED if action.kind is CommentActionKind.RECEIVED
                             else NotificationEvent.COMMENT_REMINDER)
                    portal = world.portal_base_url
                    deadline = answer_deadline(action.after, settings.answer_within, settings.timezone)
                    details = {
                        "comment_count": action.count,
                        "new_comments": action.new_comments or None,
                        "waiting_since": local(action.pending_since, settings.timezone),
                        "answer_by": local(deadline, settings.timezone)
                        if action.kind is CommentActionKind.RECEIVED else None,
                        "hours_waited": action.waited / dt.timedelta(hours=1) if action.waited else None,
                        "portal_id": datasets[action.dataset_id].portal_id,
                        "portal_url": f"{portal}/d/{datasets[action.dataset_id].portal_id}" if portal else None,
                        "mark_answered": MARK_ANSWERED.format(dataset_id=action.dataset_id),
                    }
                    try:
                        message = compose(event, spec, world.files.governance, details)
                        world.deliver(message, smtp_conn_id=settings.smtp_conn_id, slack_conn_id=None)
                    except Exception as exc:  # noqa: BLE001 - one dataset's failure must not silence the rest
                        report.errors.append(f"{action.dataset_id}: {exc}")
                        log.error("Could not send the %s notice of %s: %s", action.kind.value, action.dataset_id, exc)
                        continue
                    delivered.append(action.after)
                    (report.notified if action.kind is CommentActionKind.RECEIVED else report.reminded).append(
                        action.dataset_id)
        finally:
            world.alerts.save_comment_states(delivered)
        log.info("Comments: %d public datasets, %d read (%d first readings; each dataset read within %s runs); "
                 "%d notice(s), %d reminder(s)", report.public, report.read, report.baselines,
                 report.sweep_runs if report.sweep_runs is not None else "no", len(report.notified),
                 len(report.reminded))
        if report.sweep_runs is None or report.sweep_runs > NOTICE_RUNS_PROMISED:
            log.warning("At %d comment reads a run, a new comment on one of %d public datasets may wait %s runs "
                        "to be noticed (the README promises %d at hourly runs): raise OPENDATA_COMMENT_READS_MAX",
                        budget, report.public, report.sweep_runs or "forever", NOTICE_RUNS_PROMISED)
    if report.errors:
        raise RuntimeError(f"{len(report.errors)} comment notice(s) could not be sent: "
                           + "; ".join(report.errors[:5]))
    return report


def answered_from_conf(conf: dict[str, Any] | None) -> tuple[list[str], str | None]:
    """``{"comments_answered": ["id", ...], "answered_by": "name"}`` from a run configuration."""
    conf = conf or {}
    ids = conf.get("comments_answered") or []
    if isinstance(ids, str):
        ids = [ids]
    return [str(i) for i in ids if str(i).strip()], (str(conf["answered_by"]) if conf.get("answered_by") else None)
