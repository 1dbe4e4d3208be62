"""SQLAlchemy tables of the registry and the few operations the pipeline needs.

SQLite by default (a file in the state folder), PostgreSQL in production
(``OPENDATA_REGISTRY_URL`` or an Airflow connection ``opendata_registry``). Each operation is
one transaction; stage changes are also appended to a history table, so "who approved what
and when" survives later changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

import sqlalchemy as sa

from opendata.registry.errors import is_unavailability, unavailable
from opendata.registry.location import RegistryLocation, locate
from opendata.registry.stages import Stage

metadata = sa.MetaData()

dataset_state = sa.Table(
    "opendata_dataset_state", metadata,
    sa.Column("dataset_id", sa.String(100), primary_key=True),
    sa.Column("portal_id", sa.String(20)),
    # Set just before the portal is asked to create the dataset, cleared once its id is recorded:
    # a retry that finds it set knows an earlier attempt may have created the dataset.
    sa.Column("creation_started_at", sa.DateTime(timezone=True)),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("department_approved_by", sa.String(100)),
    sa.Column("department_approved_at", sa.DateTime(timezone=True)),
    sa.Column("department_approval_source", sa.String(20)),
    # Step 1 refused: scheduled runs stop at `plan` until the coordinator resubmits.
    sa.Column("department_rejected_by", sa.String(100)),
    sa.Column("department_rejected_at", sa.DateTime(timezone=True)),
    sa.Column("department_rejection_reason", sa.Text),
    sa.Column("submitted_at", sa.DateTime(timezone=True)),
    sa.Column("review_state", sa.String(20)),
    sa.Column("reviewed_by", sa.String(200)),
    sa.Column("reviewed_at", sa.DateTime(timezone=True)),
    sa.Column("review_notes", sa.Text),
    sa.Column("public_at", sa.DateTime(timezone=True)),
    sa.Column("last_refresh_at", sa.DateTime(timezone=True)),
    sa.Column("published_rows", sa.BigInteger),
    sa.Column("published_checksum", sa.String(64)),
    # Where the confirmed load's fingerprint is kept: a local path, or an object's URL in the store.
    sa.Column("fingerprint_path", sa.Text),
    # The highest watermark value the portal has confirmed (text; ISO for timestamps).
    sa.Column("last_watermark", sa.Text),
    # A replace the portal holds for its reviewer (revision number, the extract's checksum and rows):
    # not live, so not recorded as published until the portal applied it.
    sa.Column("held_revision", sa.Integer),
    sa.Column("held_checksum", sa.String(64)),
    sa.Column("held_rows", sa.BigInteger),
    sa.Column("retired_reason", sa.Text),
    sa.Column("retired_by", sa.String(200)),
    # Taken over from the portal by `opendata adopt` (already public there, created outside the
    # pipeline): when and by whom. An adopted dataset is never created on the portal.
    sa.Column("adopted_at", sa.DateTime(timezone=True)),
    sa.Column("adopted_by", sa.String(200)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

stage_change = sa.Table(
    "opendata_stage_change", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(100), nullable=False, index=True),
    sa.Column("stage_from", sa.String(20)),
    sa.Column("stage_to", sa.String(20), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("by", sa.String(200)),
    sa.Column("notes", sa.Text),
    sa.Column("run_id", sa.String(250)),
)

run_log = sa.Table(
    "opendata_run", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(100), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("kind", sa.String(20)),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("rows_extracted", sa.BigInteger),
    sa.Column("rows_validated", sa.BigInteger),
    sa.Column("rows_created", sa.BigInteger),
    sa.Column("rows_updated", sa.BigInteger),
    sa.Column("rows_deleted", sa.BigInteger),
    sa.Column("checksum", sa.String(64)),
    # The newest value of the dataset's freshness.newest_date_column the portal confirmed.
    sa.Column("newest_data_at", sa.Text),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("dataset_id", "run_id", name="uq_opendata_run"),
)


version = sa.Table(
    "opendata_version", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(100), nullable=False, index=True),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),        # full, incremental
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("archive_path", sa.Text),                      # path or store URL; None once pruned
    sa.Column("pruned_at", sa.DateTime(timezone=True)),
)


# Which file under datasets/ holds each dataset id (opendata.spec.holders): written by the DAG
# processor's unsharded parse when it changed, read by every DAG file and task through
# opendata.registry.stage_snapshot, so a dataset id stays with its file on every machine.
dataset_file = sa.Table(
    "opendata_dataset_file", metadata,
    sa.Column("dataset_id", sa.String(100), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class DatasetState:
    dataset_id: str
    portal_id: str | None
    stage: Stage
    department_approved_by: str | None
    department_approved_at: dt.datetime | None
    department_approval_source: str | None
    submitted_at: dt.datetime | None
    review_state: str | None
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    review_notes: str | None
    public_at: dt.datetime | None
    last_refresh_at: dt.datetime | None
    published_rows: int | None
    published_checksum: str | None
    fingerprint_path: str | None
    last_watermark: str | None
    retired_reason: str | None
    retired_by: str | None
    updated_at: dt.datetime
    department_rejected_by: str | None = None
    department_rejected_at: dt.datetime | None = None
    department_rejection_reason: str | None = None
    creation_started_at: dt.datetime | None = None
    held_revision: int | None = None
    held_checksum: str | None = None
    held_rows: int | None = None
    adopted_at: dt.datetime | None = None
    adopted_by: str | None = None

    @property
    def adopted(self) -> bool:
        """Taken over from the portal (``opendata adopt``): it existed there before the pipeline,
        so the pipeline never creates it, whatever the portal or the registry says later."""
        return self.adopted_at is not None

    @property
    def department_rejection(self) -> str | None:
        """Why Step 1 was refused, while no later approval replaced it (None: not refused)."""
        if not self.department_rejected_by or self.department_approved_by:
            return None
        return f"rejected at Step 1 by {self.department_rejected_by}: {self.department_rejection_reason or 'no reason'}"


@dataclass(frozen=True)
class PublishedVersion:
    dataset_id: str
    run_id: str
    kind: str
    published_at: dt.datetime
    rows: int
    checksum: str
    archive_path: str | None
    pruned_at: dt.datetime | None


@dataclass(frozen=True)
class StageChange:
    dataset_id: str
    stage_from: Stage | None
    stage_to: Stage
    at: dt.datetime
    by: str | None
    notes: str | None
    run_id: str | None


@dataclass(frozen=True)
class RunRecord:
    dataset_id: str
    run_id: str
    kind: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    rows_extracted: int | None
    rows_validated: int | None
    rows_created: int | None
    rows_updated: int | None
    rows_deleted: int | None
    checksum: str | None
    outcome: str
    error: str | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def stored_instant(value: dt.datetime) -> dt.datetime: ...
@overload
def stored_instant(value: dt.datetime | None) -> dt.datetime | None: ...
def stored_instant(value: dt.datetime | None) -> dt.datetime | None:
    """A time read from the registry (or Airflow's metadata database) as an aware UTC datetime:
    SQLite hands back naive ones (everything stored is UTC), PostgreSQL aware ones in the
    session's zone."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_READY: set[str] = set()


def _ensure_schema(engine: sa.Engine, url: str) -> None:
    """Create the tables once per process. Several tasks may start at the same moment on a
    fresh registry; whoever loses the race to create a table just finds it there."""
    if url in _READY:
        return
    for attempt in range(5):
        try:
            metadata.create_all(engine)
            _add_missing_columns(engine)
            break
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    _READY.add(url)


def _add_missing_columns(engine: sa.Engine) -> None:
    """Additive schema changes for registries created by an earlier version: new nullable
    columns are added in place (the registry's history is never dropped and recreated)."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def create_database_if_missing(url: str, location: RegistryLocation | None = None) -> bool:
    """For a PostgreSQL registry: create its database on the server if it is not there yet
    (deployment set-up; SQLite files are created on first use). Returns True if created."""
    location = location or RegistryLocation(url)
    target = sa.engine.make_url(url)
    if not target.drivername.startswith("postgresql"):
        return False
    if target.drivername == "postgresql":
        target = target.set(drivername="postgresql+psycopg")
    probe = sa.create_engine(target, connect_args=_connect_args(target))
    failure = None
    try:
        with probe.connect():
            return False
    except sa.exc.OperationalError as exc:
        if "does not exist" not in str(exc.orig):
            failure = unavailable(exc, location, doing="server cannot be reached")
    finally:
        probe.dispose()
    if failure is not None:
        raise failure
    # Every PostgreSQL server has the "postgres" maintenance database to connect to.
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    return True


def registry_url() -> str:
    """Where the registry lives: env, then an Airflow connection, then a local SQLite file."""
    location = locate()
    _prepare_default_file(location)
    return location.url


def _prepare_default_file(location: RegistryLocation, dataset_id: str | None = None) -> None:
    """The embedded default's folder is created on first use (a configured SQLite URL's folder
    is not: a typo there must fail, not start an empty registry somewhere else)."""
    if location.default_file is None:
        return
    failure = None
    try:
        location.default_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        failure = unavailable(exc, location, dataset_id=dataset_id, doing="file cannot be created")
    if failure is not None:
        raise failure


# A registry that does not answer must fail the task within seconds, not hold a worker for the
# operating system's TCP timeout (libpq has no connect timeout of its own).
PG_CONNECT_TIMEOUT_SECONDS = 10


def _connect_args(url: sa.engine.URL, timeout: float | None = None) -> dict[str, Any]:
    """``timeout``: seconds to wait for a connection (SQLite: for a lock), for callers that must
    not wait long (DAG parsing); None: the defaults above."""
    if url.get_backend_name() == "sqlite":
        return {"timeout": 30 if timeout is None else timeout}
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        # libpq counts whole seconds, and waits at least 2.
        return {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS if timeout is None else max(2, round(timeout))}
    return {}


def _engine_url(url: str) -> sa.engine.URL:
    target = sa.engine.make_url(url)
    if target.drivername in ("postgresql", "postgres"):
        target = target.set(drivername="postgresql+psycopg")
    return target


def read_snapshot(url: str, *, timeout: float) -> tuple[dict[str, str], dict[str, str]]:
    """Every dataset's stage and the dataset-file record, in one statement on one connection
    that waits at most about ``timeout`` seconds to connect and (PostgreSQL) to answer: what DAG
    parsing needs, without opening the registry (no schema check, no pool). Raises the database's
    error; tables that do not exist yet raise too (:func:`is_missing_table`)."""
    from sqlalchemy.pool import NullPool

    target = _engine_url(url)
    connect_args = _connect_args(target, timeout)
    if target.get_backend_name() == "postgresql":
        connect_args["options"] = f"-c statement_timeout={int(timeout * 1000)}"
    engine = sa.create_engine(target, connect_args=connect_args, poolclass=NullPool)
    query = sa.union_all(
        sa.select(sa.literal("stage").label("kind"), dataset_state.c.dataset_id,
                  sa.cast(dataset_state.c.stage, sa.Text).label("value")),
        sa.select(sa.literal("file").label("kind"), dataset_file.c.dataset_id, dataset_file.c.path.label("value")),
    )
    stages: dict[str, str] = {}
    files: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            for kind, dataset_id, value in conn.execute(query):
                (stages if kind == "stage" else files)[dataset_id] = value
    finally:
        engine.dispose()
    return stages, files


def is_missing_table(exc: BaseException) -> bool:
    """A registry created before the tables a read needs (or not yet used at all)."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return "no such table" in str(exc.orig).lower()  # SQLite


F = TypeVar("F", bound=Callable[..., Any])


def guarded(method: F) -> F:
    """Turn the database's failures during ``method`` into :class:`RegistryUnavailable`, naming
    the dataset (the method's ``dataset_id`` argument, else the one the registry was opened for)."""
    parameters = list(inspect.signature(method).parameters)
    position = parameters.index("dataset_id") - 1 if "dataset_id" in parameters else None

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            if not is_unavailability(exc):
                raise
            dataset_id = kwargs.get("dataset_id")
            if dataset_id is None and position is not None and position < len(args):
                dataset_id = args[position]
            failure = unavailable(exc, self.location, dataset_id=dataset_id or self.dataset_id)
        # Raised here, outside the except block: the driver's exception is not its context.
        raise failure

    # The mark tests/opendata/registry checks every operation for; typeshed's type of a wraps()
    # result declares no attributes of its own.
    wrapper.guarded = True  # type: ignore[attr-defined]
    return cast(F, wrapper)  # it takes and returns what ``method`` does


class Registry:
    """The registry's operations. Any failure of its database (on opening or during an
    operation) raises :class:`RegistryUnavailable` naming the dataset, the registry and where it
    is configured, never the password."""

    def __init__(self, url: str, *, location: RegistryLocation | None = None, dataset_id: str | None = None,
                 connect_timeout: float | None = None):
        self.location = location or RegistryLocation(url)
        #: The dataset the caller works on, named in errors of operations that take no dataset id.
        self.dataset_id = dataset_id
        failure = None
        try:
            target = _engine_url(url)
            self.engine = sa.create_engine(target, connect_args=_connect_args(target, connect_timeout),
                                           pool_pre_ping=True)
            _ensure_schema(self.engine, url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError, ImportError) as exc:
            failure = unavailable(exc, self.location, dataset_id=dataset_id, doing="URL cannot be used")
        except Exception as exc:
            if not is_unavailability(exc):
                raise
            failure = unavailable(exc, self.location, dataset_id=dataset_id)
        if failure is not None:  # raised outside the except blocks: see guarded
            raise failure

    @classmethod
    def from_settings(cls, dataset_id: str | None = None, *, connect_timeout: float | None = None) -> Registry:
        """The configured registry; ``dataset_id`` is named if it cannot be reached."""
        location = locate(dataset_id)
        _prepare_default_file(location, dataset_id)
        return cls(location.url, location=location, dataset_id=dataset_id, connect_timeout=connect_timeout)

    def close(self) -> None:
        self.engine.dispose()

    # --- reading -------------------------------------------------------------------------------

    @guarded
    def get_state(self, dataset_id: str) -> DatasetState | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(dataset_state).where(dataset_state.c.dataset_id == dataset_id)).first()
        return _state(row) if row is not None else None

    @guarded
    def all_states(self) -> list[DatasetState]:
        with self.engine.connect() as conn:
            return [_state(row) for row in conn.execute(sa.select(dataset_state).order_by(dataset_state.c.dataset_id))]

    @guarded
    def dataset_for_portal_id(self, portal_id: str) -> DatasetState | None:
        """The dataset the registry records for portal dataset ``portal_id`` (None: none)."""
        query = sa.select(dataset_state).where(dataset_state.c.portal_id == portal_id).order_by(
            dataset_state.c.dataset_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _state(row) if row is not None else None

    @guarded
    def history(self, dataset_id: str) -> list[StageChange]:
        query = sa.select(stage_change).where(stage_change.c.dataset_id == dataset_id).order_by(stage_change.c.id)
        with self.engine.connect() as conn:
            return [StageChange(r.dataset_id, Stage(r.stage_from) if r.stage_from else None, Stage(r.stage_to),
                                stored_instant(r.at), r.by, r.notes, r.run_id) for r in conn.execute(query)]

    @guarded
    def runs(self, dataset_id: str) -> list[RunRecord]:
        query = sa.select(run_log).where(run_log.c.dataset_id == dataset_id).order_by(run_log.c.id)
        with self.engine.connect() as conn:
            return [RunRecord(r.dataset_id, r.run_id, r.kind, stored_instant(r.started_at), stored_instant(r.ended_at),
                              r.rows_extracted, r.rows_validated, r.rows_created, r.rows_updated, r.rows_deleted,
                              r.checksum, r.outcome, r.error) for r in conn.execute(query)]

    # --- writing: each call records something the portal (or the department) confirmed ------------

    @guarded
    def record_adoption(self, dataset_id: str, portal_id: str, *, by: str, at: dt.datetime,
                        public_since: dt.datetime | None = None) -> DatasetState:
        """``opendata adopt``: a dataset already public on the portal (created outside the
        pipeline) is taken over as ``dataset_id``, recorded public (Stage 2) with its portal id and
        the approval-history entry "adopted on YYYY-MM-DD by <name>". One transaction that refuses
        (:class:`AdoptionConflict`, nothing written) when the registry knows ``dataset_id`` or
        ``portal_id`` already; the portal was not asked to change anything."""
        note = adoption_note(at, by)
        with self.engine.begin() as conn:
            taken = conn.execute(sa.select(dataset_state.c.dataset_id, dataset_state.c.portal_id,
                                           dataset_state.c.adopted_at).where(sa.or_(
                dataset_state.c.dataset_id == dataset_id, dataset_state.c.portal_id == portal_id))).first()
            if taken is not None:
                raise AdoptionConflict(taken.dataset_id, taken.portal_id, stored_instant(taken.adopted_at))
            conn.execute(dataset_state.insert().values(
                dataset_id=dataset_id, portal_id=portal_id, stage=Stage.STAGE_2.value, public_at=public_since or at,
                adopted_at=at, adopted_by=by, updated_at=at))
            conn.execute(stage_change.insert().values(dataset_id=dataset_id, stage_from=None,
                                                      stage_to=Stage.STAGE_2.value, at=at, by=by, notes=note))
        state = self.get_state(dataset_id)
        assert state is not None  # inserted just now
        return state

    @guarded
    def record_creation_intent(self, dataset_id: str, *, at: dt.datetime, run_id: str | None = None) -> None:
        """The portal is about to be asked to create the dataset (recorded first, so a retry
        after a lost answer knows to look for it rather than create another)."""
        self._update(dataset_id, {"creation_started_at": at}, run_id=run_id)

    @guarded
    def record_portal_dataset(self, dataset_id: str, portal_id: str, *, run_id: str | None = None,
                              note: str | None = None) -> None:
        """The dataset now exists (privately) on the portal as ``portal_id``."""
        self._update(dataset_id, {"portal_id": portal_id, "creation_started_at": None}, run_id=run_id, note=note)

    @guarded
    def record_department_approval(self, dataset_id: str, *, by: str, at: dt.datetime, source: str,
                                   run_id: str | None = None) -> None:
        """Step 1: department leadership approved the dataset leaving the department. A dataset
        refused earlier and not yet on the portal is "not ready" again (Stage 1 follows)."""
        state = self.get_state(dataset_id)
        stage = Stage.NOT_READY if state is not None and state.stage is Stage.REJECTED and not state.portal_id \
            else None
        self._update(dataset_id, {"department_approved_by": by, "department_approved_at": at,
                                  "department_approval_source": source, "department_rejected_by": None,
                                  "department_rejected_at": None, "department_rejection_reason": None},
                     stage=stage, run_id=run_id, by=by, note=f"Step 1 approved by {by} ({source})")

    @guarded
    def record_department_rejection(self, dataset_id: str, *, by: str, at: dt.datetime, reason: str,
                                    run_id: str | None = None) -> None:
        """Step 1 refused: a decision, recorded with the reason, the stage ``rejected``; a
        resubmission asks leadership again."""
        self._update(dataset_id, {"department_rejected_by": by, "department_rejected_at": at,
                                  "department_rejection_reason": reason, "department_approved_by": None,
                                  "department_approved_at": None, "department_approval_source": None},
                     stage=Stage.REJECTED, run_id=run_id, by=by, note=f"Step 1 rejected by {by}: {reason}")

    @guarded
    def record_submission(self, dataset_id: str, *, at: dt.datetime, run_id: str | None = None) -> None:
        """Stage 1: private on the portal with its data, submitted for public approval."""
        self._update(dataset_id, {"submitted_at": at, "review_state": "pending", "reviewed_by": None,
                                  "reviewed_at": None, "review_notes": None},
                     stage=Stage.STAGE_1, run_id=run_id)

    @guarded
    def record_review(self, dataset_id: str, *, approved: bool, by: str | None, at: dt.datetime | None,
                      notes: str | None, scheduled: bool = False, run_id: str | None = None) -> None:
        """The reviewer's decision as read from the portal."""
        stage = (Stage.SCHEDULED if scheduled else None) if approved else Stage.REJECTED
        self._update(dataset_id, {"review_state": "approved" if approved else "rejected", "reviewed_by": by,
                                  "reviewed_at": at, "review_notes": notes},
                     stage=stage, run_id=run_id, by=by, note=notes)

    @guarded
    def record_public(self, dataset_id: str, *, at: dt.datetime, rows: int | None = None,
                      checksum: str | None = None, run_id: str | None = None) -> None:
        """Stage 2: the portal reports the dataset public."""
        self._update(dataset_id, {"public_at": at, "published_rows": rows, "published_checksum": checksum},
                     stage=Stage.STAGE_2, run_id=run_id)

    @guarded
    def record_published_data(self, dataset_id: str, *, rows: int, checksum: str, fingerprint_path: str | None,
                              refreshed: bool, run_id: str | None = None) -> None:
        """The portal confirmed a load of ``rows`` rows (Stage 1 push or a refresh)."""
        values: dict[str, Any] = {"published_rows": rows, "published_checksum": checksum,
                                  "fingerprint_path": fingerprint_path}
        stage = None
        if refreshed:
            values["last_refresh_at"] = _now()
            stage = Stage.REFRESHING
        self._update(dataset_id, values, stage=stage, run_id=run_id)

    @guarded
    def record_held_version(self, dataset_id: str, *, revision: int, checksum: str, rows: int,
                            run_id: str | None = None) -> None:
        """A new version went to the portal and waits there for its reviewer (not live yet)."""
        self._update(dataset_id, {"held_revision": revision, "held_checksum": checksum, "held_rows": rows},
                     run_id=run_id, note=f"revision {revision} ({rows:,} rows) held for approval on the portal")

    @guarded
    def clear_held_version(self, dataset_id: str, *, note: str, run_id: str | None = None) -> None:
        """The held version was applied, superseded or discarded on the portal."""
        self._update(dataset_id, {"held_revision": None, "held_checksum": None, "held_rows": None},
                     run_id=run_id, note=note)

    @guarded
    def record_watermark(self, dataset_id: str, value: str, *, run_id: str | None = None) -> None:
        """The portal confirmed every row up to this watermark."""
        self._update(dataset_id, {"last_watermark": value}, run_id=run_id)

    @guarded
    def record_retirement(self, dataset_id: str, *, reason: str, approved_by: str) -> None:
        """Retired with the Mayor's Office's approval: refreshes stop; the dataset stays published."""
        self._update(dataset_id, {"retired_reason": reason, "retired_by": approved_by}, stage=Stage.RETIRED,
                     by=approved_by, note=reason)

    @guarded
    def dataset_files(self) -> dict[str, str]:
        """The record of which file holds each dataset id: id -> its path under datasets/."""
        query = sa.select(dataset_file.c.dataset_id, dataset_file.c.path)
        with self.engine.connect() as conn:
            return {r.dataset_id: r.path for r in conn.execute(query)}

    @guarded
    def record_dataset_files(self, holders: Mapping[str, str]) -> bool:
        """Keep ``holders`` (id -> path under datasets/) as the record, in one transaction that
        writes only the rows that changed (none, on most parses). True if anything changed."""
        for attempt in range(3):
            try:
                return self._replace_dataset_files(dict(holders))
            except sa.exc.IntegrityError:
                # Another DAG processor recorded an id between our read and insert: read again.
                if attempt == 2:
                    raise
        return False  # not reached

    def _replace_dataset_files(self, holders: dict[str, str]) -> bool:
        now = _now()
        with self.engine.begin() as conn:
            current = {r.dataset_id: r.path for r in conn.execute(
                sa.select(dataset_file.c.dataset_id, dataset_file.c.path))}
            gone = sorted(set(current) - set(holders))
            new = [{"dataset_id": k, "path": v, "recorded_at": now} for k, v in holders.items() if k not in current]
            moved = {k: v for k, v in holders.items() if k in current and current[k] != v}
            for start in range(0, len(gone), 500):
                conn.execute(dataset_file.delete().where(dataset_file.c.dataset_id.in_(gone[start:start + 500])))
            if new:
                conn.execute(dataset_file.insert(), new)
            for dataset_id, path in moved.items():
                conn.execute(dataset_file.update().where(dataset_file.c.dataset_id == dataset_id)
                             .values(path=path, recorded_at=now))
        return bool(gone or new or moved)

    @guarded
    def record_version(self, dataset_id: str, *, run_id: str, kind: str, rows: int, checksum: str,
                       archive_path: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(version.insert().values(dataset_id=dataset_id, run_id=run_id, kind=kind, rows=rows,
                                                 checksum=checksum, archive_path=archive_path,
                                                 published_at=_now()))

    @guarded
    def versions(self, dataset_id: str) -> list[PublishedVersion]:
        query = sa.select(version).where(version.c.dataset_id == dataset_id).order_by(version.c.id)
        with self.engine.connect() as conn:
            return [PublishedVersion(r.dataset_id, r.run_id, r.kind, stored_instant(r.published_at), r.rows, r.checksum,
                                     r.archive_path, stored_instant(r.pruned_at)) for r in conn.execute(query)]

    @guarded
    def mark_pruned(self, dataset_id: str, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(version.update().where(version.c.dataset_id == dataset_id, version.c.run_id == run_id)
                         .values(archive_path=None, pruned_at=_now()))

    @guarded
    def start_run(self, dataset_id: str, run_id: str, *, kind: str) -> None:
        """Idempotent: a retried task keeps the first start time."""
        self._upsert_run(dataset_id, run_id, {"kind": kind})

    @guarded
    def update_run(self, dataset_id: str, run_id: str, **values: Any) -> None:
        allowed = {"rows_extracted", "rows_validated", "rows_created", "rows_updated", "rows_deleted", "checksum",
                   "outcome", "error", "kind", "newest_data_at"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"unknown run fields: {', '.join(sorted(unknown))}")
        if values.get("outcome") in ("success", "failed"):
            values["ended_at"] = _now()
        self._upsert_run(dataset_id, run_id, values)

    def _upsert_run(self, dataset_id: str, run_id: str, values: dict[str, Any]) -> None:
        where = (run_log.c.dataset_id == dataset_id, run_log.c.run_id == run_id)
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(run_log.update().where(*where).values(**values)).rowcount:
                        return
                    conn.execute(run_log.insert().values(dataset_id=dataset_id, run_id=run_id, started_at=_now(),
                                                         **{"outcome": "running", **values}))
                    return
            except sa.exc.IntegrityError:
                # Another process inserted this run between our update and insert: update it.
                continue
        raise RuntimeError(f"could not record run {run_id} of {dataset_id}")

    # --- internals -----------------------------------------------------------------------------

    def _update(self, dataset_id: str, values: dict[str, Any], *, stage: Stage | None = None,
                run_id: str | None = None, by: str | None = None, note: str | None = None) -> None:
        now = _now()
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(dataset_state.c.stage).where(
                dataset_state.c.dataset_id == dataset_id).with_for_update()).first()
            previous = Stage(current.stage) if current is not None else None
            new_stage = stage or previous or Stage.NOT_READY
            row = {**values, "stage": new_stage.value, "updated_at": now}
            if current is None:
                conn.execute(dataset_state.insert().values(dataset_id=dataset_id, **row))
            else:
                conn.execute(dataset_state.update().where(dataset_state.c.dataset_id == dataset_id).values(**row))
            if previous != new_stage or note:
                conn.execute(stage_change.insert().values(
                    dataset_id=dataset_id, stage_from=previous.value if previous else None,
                    stage_to=new_stage.value, at=now, by=by, notes=note, run_id=run_id))


#: How an adoption reads in the approval history (the registry's stage changes).
ADOPTED_NOTE_PREFIX = "adopted on "


def adoption_note(at: dt.datetime, by: str) -> str:
    """``adopted on 2026-11-28 by Maria Alvarez``."""
    return f"{ADOPTED_NOTE_PREFIX}{at:%Y-%m-%d} by {by}"


class AdoptionConflict(RuntimeError):
    """The registry already records the dataset id or the portal id an adoption asked for."""

    def __init__(self, dataset_id: str, portal_id: str | None, adopted_at: dt.datetime | None):
        self.dataset_id, self.portal_id, self.adopted_at = dataset_id, portal_id, adopted_at
        how = f"adopted on {adopted_at:%Y-%m-%d}" if adopted_at else "managed by the pipeline"
        super().__init__(f"the registry records {dataset_id} (portal dataset {portal_id or 'none yet'}, {how})")


def _state(row: sa.Row) -> DatasetState:
    data = dict(row._mapping)
    for key, value in data.items():
        if isinstance(value, dt.datetime):
            data[key] = stored_instant(value)
    data["stage"] = Stage(data["stage"])
    return DatasetState(**data)
