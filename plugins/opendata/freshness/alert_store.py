"""The freshness monitor's memory in the registry: what was reported about each dataset, and
the public comment watch. Same tables metadata and engine as :mod:`opendata.registry.store`.

    alerts = AlertStore(Registry.from_settings())
    alerts.alert_records(); alerts.save_alert_records([...]); alerts.clear_alert_records([...])
    alerts.last_successes(); alerts.newest_data(); alerts.watermarks()
    alerts.comment_states(); alerts.save_comment_states([...])
    alerts.mark_comment_answered("building-permits", by="jorge-ramos")

Every method is one transaction and reads in bulk: one query for all datasets, never one per
dataset, so a pass over a thousand datasets costs a handful of queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from opendata.freshness.alerts import AlertRecord, Channel
from opendata.freshness.comments import CommentWatch, mark_answered
from opendata.freshness.status import FreshnessState
from opendata.registry.store import Registry, dataset_state, guarded, metadata, run_log, stored_instant

freshness_alert = sa.Table(
    "opendata_freshness_alert", metadata,
    sa.Column("dataset_id", sa.String(100), primary_key=True),
    sa.Column("channel", sa.String(20), primary_key=True),      # department, cdo
    sa.Column("state", sa.String(20), nullable=False),          # due, overdue
    sa.Column("first_alerted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_alerted_at", sa.DateTime(timezone=True), nullable=False),
)

comment_watch = sa.Table(
    "opendata_comment_watch", metadata,
    sa.Column("dataset_id", sa.String(100), primary_key=True),
    sa.Column("comment_count", sa.Integer, nullable=False),     # numberOfComments at the last reading
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("pending_since", sa.DateTime(timezone=True)),     # the oldest unanswered rise
    sa.Column("notified_at", sa.DateTime(timezone=True)),
    sa.Column("reminded_at", sa.DateTime(timezone=True)),
    sa.Column("answered_at", sa.DateTime(timezone=True)),
    sa.Column("answered_by", sa.String(200)),
)

_TABLES = [freshness_alert, comment_watch]
_READY: set[str] = set()


class NotWatched(LookupError):
    """The comment watch has never read this dataset."""


def _parse_instant(value: object) -> dt.datetime | None:
    """A recorded date or timestamp (text or datetime) as an aware UTC datetime; None if unreadable."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return stored_instant(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stored_instant(parsed)


class AlertStore:
    """Its database failures raise RegistryUnavailable, like the registry's own operations."""

    def __init__(self, registry: Registry):
        self.engine = registry.engine
        self.location = registry.location
        self.dataset_id = registry.dataset_id
        self._create_tables()

    @guarded
    def _create_tables(self) -> None:
        url = self.engine.url.render_as_string(hide_password=False)
        if url not in _READY:
            # The registry creates every table of the shared metadata on first use; a registry
            # created before this module was imported still lacks these two.
            metadata.create_all(self.engine, tables=_TABLES)
            _READY.add(url)

    # --- freshness alerts ------------------------------------------------------------------------

    @guarded
    def alert_records(self) -> dict[tuple[str, Channel], AlertRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(freshness_alert)).all()
        return {(r.dataset_id, Channel(r.channel)): AlertRecord(
                    r.dataset_id, Channel(r.channel), FreshnessState(r.state), stored_instant(r.first_alerted_at),
                    stored_instant(r.last_alerted_at)) for r in rows}

    @guarded
    def save_alert_records(self, records: Iterable[AlertRecord]) -> None:
        records = list(records)
        rows = [{"dataset_id": r.dataset_id, "channel": r.channel.value, "state": r.state.value,
                 "first_alerted_at": r.first_alerted_at, "last_alerted_at": r.last_alerted_at} for r in records]
        if rows:
            with self.engine.begin() as conn:
                self._delete(conn, freshness_alert, [(r.dataset_id, r.channel.value) for r in records])
                conn.execute(freshness_alert.insert(), rows)

    @guarded
    def clear_alert_records(self, keys: Iterable[tuple[str, Channel]]) -> None:
        pairs = [(dataset_id, Channel(channel).value) for dataset_id, channel in keys]
        if pairs:
            with self.engine.begin() as conn:
                self._delete(conn, freshness_alert, pairs)

    @staticmethod
    def _delete(conn: sa.Connection, table: sa.Table, keys: Sequence[tuple[str, str]]) -> None:
        by_channel: dict[str, list[str]] = {}
        for dataset_id, channel in keys:
            by_channel.setdefault(channel, []).append(dataset_id)
        for channel, ids in by_channel.items():
            for start in range(0, len(ids), 500):
                conn.execute(table.delete().where(table.c.channel == channel,
                                                  table.c.dataset_id.in_(ids[start:start + 500])))

    # --- what the pipeline recorded, in bulk -------------------------------------------------------

    @guarded
    def last_successes(self) -> dict[str, dt.datetime]:
        """Per dataset: the end of its last successful run, or its last confirmed refresh if later."""
        runs = (sa.select(run_log.c.dataset_id, sa.func.max(run_log.c.ended_at))
                .where(run_log.c.outcome == "success").group_by(run_log.c.dataset_id))
        refreshes = sa.select(dataset_state.c.dataset_id, dataset_state.c.last_refresh_at)
        out: dict[str, dt.datetime] = {}
        with self.engine.connect() as conn:
            for dataset_id, at in [*conn.execute(runs), *conn.execute(refreshes)]:
                at = stored_instant(at)
                if at is not None and (dataset_id not in out or at > out[dataset_id]):
                    out[dataset_id] = at
        return out

    @guarded
    def newest_data(self) -> dict[str, dt.datetime]:
        """Per dataset: the newest value of its file's newest_date_column, as recorded by its last
        successful run (the run log's ``newest_data_at``, when the pipeline records it)."""
        column = run_log.c.get("newest_data_at")
        if column is None:
            return {}
        latest = (sa.select(run_log.c.dataset_id, sa.func.max(run_log.c.id).label("id"))
                  .where(run_log.c.outcome == "success", column.is_not(None)).group_by(run_log.c.dataset_id)
                  .subquery())
        query = sa.select(run_log.c.dataset_id, column).join(latest, run_log.c.id == latest.c.id)
        with self.engine.connect() as conn:
            found = {dataset_id: _parse_instant(value) for dataset_id, value in conn.execute(query)}
        return {k: v for k, v in found.items() if v is not None}

    @guarded
    def watermarks(self) -> dict[str, dt.datetime]:
        """Per dataset: the last watermark the portal confirmed, read as a date when it is one."""
        column = dataset_state.c.get("last_watermark")
        if column is None:
            return {}
        with self.engine.connect() as conn:
            found = {dataset_id: _parse_instant(value) for dataset_id, value in
                     conn.execute(sa.select(dataset_state.c.dataset_id, column).where(column.is_not(None)))}
        return {k: v for k, v in found.items() if v is not None}

    # --- the comment watch -----------------------------------------------------------------------

    @guarded
    def comment_states(self) -> dict[str, CommentWatch]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(comment_watch)).all()
        return {r.dataset_id: CommentWatch(r.dataset_id, r.comment_count, stored_instant(r.checked_at),
                                           stored_instant(r.pending_since), stored_instant(r.notified_at),
                                           stored_instant(r.reminded_at), stored_instant(r.answered_at),
                                           r.answered_by) for r in rows}

    @guarded
    def save_comment_states(self, states: Iterable[CommentWatch]) -> None:
        rows = [{"dataset_id": s.dataset_id, "comment_count": s.count, "checked_at": s.checked_at,
                 "pending_since": s.pending_since, "notified_at": s.notified_at, "reminded_at": s.reminded_at,
                 "answered_at": s.answered_at, "answered_by": s.answered_by} for s in states]
        if not rows:
            return
        ids = [r["dataset_id"] for r in rows]
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(comment_watch.delete().where(comment_watch.c.dataset_id.in_(ids[start:start + 500])))
            conn.execute(comment_watch.insert(), rows)

    @guarded
    def mark_comment_answered(self, dataset_id: str, *, by: str | None = None,
                              at: dt.datetime | None = None) -> CommentWatch:
        """The coordinator answered the dataset's public comments: no reminder until the next one."""
        state = self.comment_states().get(dataset_id)
        if state is None:
            raise NotWatched(dataset_id)
        answered = mark_answered(state, at or dt.datetime.now(dt.UTC), by)
        self.save_comment_states([answered])
        return answered
