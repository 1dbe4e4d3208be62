"""Reading the DSMAPI records from the store (a 404 for what does not exist), and the checks every
change to a revision starts with: is it still open, is the output schema one of its own.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .approvals import Workflow
from .config import EmulatorConfig
from .errors import not_found_view
from .revision_records import (
    OS_COLS,
    REV_COLS,
    RUNNING,
    SRC_COLS,
    TS_COLS,
    OutputSchema,
    Revision,
    Source,
    TaskSet,
    conflict,
    decode_output_schema,
    decode_revision,
    decode_source,
    decode_task_set,
    not_found,
)
from .stats import Stats
from .store import Dataset, Store

T = TypeVar("T")


@dataclass(eq=False)
class RevisionReads:
    """Every read of the revision tables; ``c`` is the caller's open transaction, if any."""

    store: Store
    workflow: Workflow

    def _one(self, c, sql: str, args: tuple, decode: Callable[[tuple], T], what: str, **data: Any) -> T:
        """The record the query finds, decoded; a 404 naming ``what`` (with ``data``) without one."""
        row = (c or self.store.conn()).execute(sql, args).fetchone()
        if row is None:
            raise not_found(what, **data)
        return decode(row)

    def _all(self, c, sql: str, args: tuple, decode: Callable[[tuple], T]) -> list[T]:
        return [decode(r) for r in (c or self.store.conn()).execute(sql, args).fetchall()]

    def dataset(self, dataset_id: str, c: sqlite3.Connection | None = None) -> Dataset:
        ds = self.store.get_dataset(dataset_id, c)
        if ds is None:
            raise not_found_view(dataset_id)
        return ds

    def revision(self, dataset_id: str, seq: int, c: sqlite3.Connection | None = None) -> tuple[Dataset, Revision]:
        c = c or self.store.conn()
        ds = self.dataset(dataset_id, c)
        sql = f"SELECT {REV_COLS} FROM revisions WHERE ds=? AND seq=?"
        return ds, self._one(c, sql, (ds.pk, seq), decode_revision, "Revision", fourfour=dataset_id, revision_seq=seq)

    def revisions(self, dataset_id: str, open_only: bool | None) -> tuple[Dataset, list[Revision]]:
        c = self.store.conn()
        ds = self.dataset(dataset_id, c)
        where = "ds=?"
        if open_only is True:
            where += " AND closed_at IS NULL"
        elif open_only is False:
            where += " AND closed_at IS NOT NULL"
        sql = f"SELECT {REV_COLS} FROM revisions WHERE {where} ORDER BY seq DESC"
        return ds, self._all(c, sql, (ds.pk,), decode_revision)

    @staticmethod
    def revision_by_pk(c: sqlite3.Connection, pk: int) -> Revision:
        """The revision a source or a job belongs to (it always exists)."""
        return decode_revision(c.execute(f"SELECT {REV_COLS} FROM revisions WHERE pk=?", (pk,)).fetchone())

    def source(self, source_id: int, c: sqlite3.Connection | None = None) -> Source:
        sql = f"SELECT {SRC_COLS} FROM sources WHERE id=?"
        return self._one(c, sql, (source_id,), decode_source, "Source", id=source_id)

    def sources(self, revision_pk: int, c: sqlite3.Connection | None = None) -> list[Source]:
        sql = f"SELECT {SRC_COLS} FROM sources WHERE revision=? ORDER BY id"
        return self._all(c, sql, (revision_pk,), decode_source)

    def output_schema(self, output_schema_id: int, c: sqlite3.Connection | None = None) -> OutputSchema:
        sql = f"SELECT {OS_COLS} FROM output_schemas WHERE id=?"
        return self._one(c, sql, (output_schema_id,), decode_output_schema, "Output schema", id=output_schema_id)

    def output_schemas(self, source_id: int, c: sqlite3.Connection | None = None) -> list[OutputSchema]:
        sql = f"SELECT {OS_COLS} FROM output_schemas WHERE source=? ORDER BY id"
        return self._all(c, sql, (source_id,), decode_output_schema)

    def input_schema(self, source_id: int, input_schema_id: int, c=None) -> Source:
        """The source whose (single) input schema this is: 404 for another id, 409 before it is parsed."""
        src = self.source(source_id, c)
        if src.input_schema_id != input_schema_id:
            raise not_found("Input schema", id=input_schema_id, source_id=source_id)
        if src.state != "finished":
            raise conflict(
                "source.state",
                f"The source is {src.state}; its input schema exists once it is parsed",
                {"id": source_id, "state": src.state},
            )
        return src

    def schema_of(self, source_id: int, input_schema_id: int, output_schema_id: int | str) -> OutputSchema:
        """An output schema by id, or ``latest`` (the newest) of an input schema."""
        src = self.input_schema(source_id, input_schema_id)
        schemas = self.output_schemas(src.id)
        if output_schema_id == "latest":
            if not schemas:
                raise not_found("Output schema", input_schema_id=input_schema_id)
            return schemas[-1]
        found = [o for o in schemas if str(o.id) == str(output_schema_id)]
        if not found:
            raise not_found("Output schema", id=output_schema_id)
        return found[0]

    def output_rows(self, schema: OutputSchema, *, errors: bool, offset: int, limit: int) -> list[list[dict]]:
        """Rows of an output schema as DSMAPI shows them (socrata-py ``rows`` / ``schema_errors``):
        one cell per output column, ``{"ok": value}`` or ``{"error": {...}}``."""
        fields = [col["field_name"] for col in schema.ordered()]
        found = self.store.conn().execute(
            "SELECT data FROM output_rows WHERE output_schema=? AND bad=? ORDER BY n LIMIT ? OFFSET ?",
            (schema.id, 1 if errors else 0, limit, offset),
        )
        out = []
        for (data,) in found.fetchall():
            row = json.loads(data)
            out.append(row["cells"] if errors else [{"ok": row.get(f)} for f in fields])
        return out

    def task_sets(self, revision_pk: int, c: sqlite3.Connection | None = None) -> list[TaskSet]:
        sql = f"SELECT {TS_COLS} FROM task_sets WHERE revision=? ORDER BY id"
        return self._all(c, sql, (revision_pk,), decode_task_set)

    def task_set(self, dataset_id: str, seq: int, task_set_id: int) -> tuple[Revision, TaskSet]:
        c = self.store.conn()
        _, rev = self.revision(dataset_id, seq, c)
        sql = f"SELECT {TS_COLS} FROM task_sets WHERE id=? AND revision=?"
        return rev, self._one(c, sql, (task_set_id, rev.pk), decode_task_set, "Task set", id=task_set_id)

    @staticmethod
    def job(c: sqlite3.Connection, ts_id: int) -> TaskSet:
        """A job by id alone, for the thread that runs it."""
        return decode_task_set(c.execute(f"SELECT {TS_COLS} FROM task_sets WHERE id=?", (ts_id,)).fetchone())

    def owner(self, source: Source, c: sqlite3.Connection | None = None) -> tuple[Dataset, Revision]:
        c = c or self.store.conn()
        rev = self.revision_by_pk(c, source.revision)
        return self.store.get_dataset_by_pk(rev.ds, c), rev

    # ---- checks before a change ----

    def check_open(self, c, ds: Dataset, rev: Revision) -> None:
        """Refuse (409) to change a revision that is closed, being applied or waiting for approval."""
        if rev.closed_at is not None:
            raise conflict(
                "revision.closed", "The revision is closed (applied or discarded)", {"revision_seq": rev.seq}
            )
        if any(j.status in RUNNING for j in self.task_sets(rev.pk, c)):
            raise conflict("revision.apply_in_progress", "The revision is being applied", {"revision_seq": rev.seq})
        held = self.workflow.pending_revision(c, ds, rev.seq)
        if held is not None:
            # What the reviewer sees is what gets applied: a held revision is frozen until reviewed
            # (or withdrawn, or discarded).
            raise conflict(
                "revision.submitted_for_approval",
                "The revision is waiting for approval and cannot change",
                {"revision_seq": rev.seq, "submission_id": held.submission_id},
            )

    def revision_output_schema(self, c, rev: Revision, output_schema_id: Any) -> OutputSchema:
        """An output schema of one of the revision's sources (404 for any other)."""
        try:
            schema = self.output_schema(int(output_schema_id), c)
        except (TypeError, ValueError):
            raise not_found("Output schema", id=output_schema_id) from None
        if schema.source not in {s.id for s in self.sources(rev.pk, c)}:
            raise not_found("Output schema", id=output_schema_id)
        return schema


@dataclass(eq=False)
class PublishingPart:
    """What every part of the publishing model works with; :class:`Publishing` builds the parts
    with the same five, then each part's own (the lower parts it calls)."""

    store: Store
    config: EmulatorConfig
    stats: Stats
    workflow: Workflow
    reads: RevisionReads
