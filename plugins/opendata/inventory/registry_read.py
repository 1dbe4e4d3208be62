"""The registry in bulk, for the inventory: four queries whatever the number of datasets.

1. ``opendata_dataset_state``: every dataset's stage, portal id, approvals, review, public and
   refresh times;
2. ``opendata_run``: each dataset's latest run (one grouped query on the run log's
   ``(dataset_id, run_id)`` index, joined back to its row);
3. ``opendata_run``: the last successful run's end of the datasets whose latest run is not a
   success (a failed or running one; usually a few): for the others the latest run is the last
   success (a dataset's DAG runs one run at a time). Grouping the whole run log instead took
   twice as long as all the other reads together at 1,000 datasets with a year of runs;
4. ``opendata_comment_watch``: the datasets whose public comments are not marked answered (none
   when the freshness monitor never created the table; whether it exists is asked once).

Read-only, on the registry's own engine and tables (``registry/store.py``,
``freshness/alert_store.py``). A dataset's page adds its whole run log, stage history and
versions (the registry's own per-dataset reads). Database failures raise
:class:`~opendata.registry.RegistryUnavailable`, as the registry's operations do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from opendata.freshness.alert_store import comment_watch
from opendata.inventory.model import CommentWait, RegistryFacts, RegistryState, RunSummary
from opendata.registry.store import Registry, dataset_state, guarded, run_log, stored_instant

_SUCCESS = "success"
#: Dataset ids per ``IN (...)`` list.
_IDS_PER_QUERY = 500


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _where_ids(column: sa.ColumnElement[Any], ids: Collection[str] | None) -> list[sa.ColumnElement[bool]]:
    return [] if ids is None else [column.in_(sorted(ids))]


def run_summary(row: Any) -> RunSummary:
    """A run log row (with the columns of :data:`RUN_COLUMNS`) as a :class:`RunSummary`."""
    started = stored_instant(row.started_at)
    assert started is not None  # the column is NOT NULL
    return RunSummary(run_id=row.run_id, kind=row.kind, outcome=row.outcome, started_at=started,
                      ended_at=stored_instant(row.ended_at), rows_extracted=_int(row.rows_extracted),
                      rows_created=_int(row.rows_created), rows_updated=_int(row.rows_updated),
                      rows_deleted=_int(row.rows_deleted), error=row.error)


RUN_COLUMNS = (run_log.c.dataset_id, run_log.c.run_id, run_log.c.kind, run_log.c.outcome, run_log.c.started_at,
               run_log.c.ended_at, run_log.c.rows_extracted, run_log.c.rows_created, run_log.c.rows_updated,
               run_log.c.rows_deleted, run_log.c.error)


class RegistryReader:
    """The inventory's reads on a registry's engine (``ids``: only these datasets; None: all)."""

    def __init__(self, registry: Registry):
        self.engine = registry.engine
        self.location = registry.location
        self.dataset_id: str | None = None  # named by ``guarded`` in errors: none, it reads them all
        self._comments_table = False

    def read(self, ids: Collection[str] | None = None) -> RegistryFacts:
        """Everything the inventory needs from the registry: four queries."""
        states = self.states(ids)
        latest = self.latest_runs(ids)
        last = {dataset_id: run.ended_at or run.started_at for dataset_id, run in latest.items()
                if run.outcome == _SUCCESS}
        others = sorted(set(latest) - set(last))
        for start in range(0, len(others), _IDS_PER_QUERY):
            last.update(self.last_successes(others[start:start + _IDS_PER_QUERY]))
        for dataset_id, state in states.items():
            refreshed = state.last_refresh_at
            if refreshed is not None and (dataset_id not in last or refreshed > last[dataset_id]):
                last[dataset_id] = refreshed
        return RegistryFacts(states=states, latest_runs=latest, last_updates=last,
                             comments=self.pending_comments(ids))

    @guarded
    def states(self, ids: Collection[str] | None = None) -> dict[str, RegistryState]:
        c = dataset_state.c
        query = sa.select(c.dataset_id, c.stage, c.portal_id, c.department_approved_by, c.department_approved_at,
                          c.department_approval_source, c.department_rejected_by, c.department_rejected_at,
                          c.department_rejection_reason, c.submitted_at, c.review_state, c.reviewed_by,
                          c.reviewed_at, c.review_notes, c.public_at, c.last_refresh_at, c.published_rows,
                          c.held_revision, c.retired_reason, c.updated_at).where(*_where_ids(c.dataset_id, ids))
        with self.engine.connect() as conn:
            return {r.dataset_id: RegistryState(
                stage=r.stage, portal_id=r.portal_id, department_approved_by=r.department_approved_by,
                department_approved_at=stored_instant(r.department_approved_at),
                department_approval_source=r.department_approval_source,
                department_rejected_by=r.department_rejected_by,
                department_rejected_at=stored_instant(r.department_rejected_at),
                department_rejection_reason=r.department_rejection_reason, submitted_at=stored_instant(r.submitted_at),
                review_state=r.review_state, reviewed_by=r.reviewed_by, reviewed_at=stored_instant(r.reviewed_at),
                review_notes=r.review_notes, public_at=stored_instant(r.public_at),
                last_refresh_at=stored_instant(r.last_refresh_at),
                published_rows=_int(r.published_rows), held_revision=_int(r.held_revision),
                retired_reason=r.retired_reason, updated_at=stored_instant(r.updated_at)) for r in conn.execute(query)}

    @guarded
    def latest_runs(self, ids: Collection[str] | None = None) -> dict[str, RunSummary]:
        """Each dataset's latest run (the highest id: the last one started)."""
        latest = (sa.select(sa.func.max(run_log.c.id).label("id"))
                  .where(*_where_ids(run_log.c.dataset_id, ids)).group_by(run_log.c.dataset_id).subquery())
        query = sa.select(*RUN_COLUMNS).join(latest, run_log.c.id == latest.c.id)
        with self.engine.connect() as conn:
            return {r.dataset_id: run_summary(r) for r in conn.execute(query)}

    @guarded
    def last_successes(self, ids: Collection[str] | None = None) -> dict[str, dt.datetime]:
        """Each dataset's last successful run's end (its start when it recorded no end)."""
        at = sa.func.max(sa.func.coalesce(run_log.c.ended_at, run_log.c.started_at))
        query = (sa.select(run_log.c.dataset_id, at).where(run_log.c.outcome == _SUCCESS,
                                                             *_where_ids(run_log.c.dataset_id, ids))
                 .group_by(run_log.c.dataset_id))
        found: dict[str, dt.datetime] = {}
        with self.engine.connect() as conn:
            for dataset_id, when in conn.execute(query):
                instant = stored_instant(when)
                if instant is not None:
                    found[dataset_id] = instant
        return found

    @guarded
    def pending_comments(self, ids: Collection[str] | None = None) -> dict[str, CommentWait]:
        """Datasets whose public comments wait for an answer (the comment watch's pending rows)."""
        if not self._comments_table:
            if not sa.inspect(self.engine).has_table(comment_watch.name):
                return {}
            self._comments_table = True
        c = comment_watch.c
        query = (sa.select(c.dataset_id, c.pending_since, c.comment_count, c.notified_at, c.reminded_at)
                 .where(c.pending_since.is_not(None), *_where_ids(c.dataset_id, ids)))
        found: dict[str, CommentWait] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                since = stored_instant(r.pending_since)
                if since is not None:
                    found[r.dataset_id] = CommentWait(since, int(r.comment_count), stored_instant(r.notified_at),
                                                      stored_instant(r.reminded_at))
        return found

    @guarded
    def runs(self, dataset_id: str) -> list[RunSummary]:
        """A dataset's whole run log, oldest first (its page)."""
        query = sa.select(*RUN_COLUMNS).where(run_log.c.dataset_id == dataset_id).order_by(run_log.c.id)
        with self.engine.connect() as conn:
            return [run_summary(r) for r in conn.execute(query)]
