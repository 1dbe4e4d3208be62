"""SQLite persistence: every piece of portal state lives in one file so it survives a restart.

Connections are per thread (FastAPI runs sync work in a thread pool) and the database runs in WAL
mode, so reads never wait for a write. Writes go through one process-wide lock plus
``BEGIN IMMEDIATE`` so concurrent upserts apply one after the other, as on the portal.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import ids

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,                 -- editable metadata, columns, owner (JSON)
    audience TEXT NOT NULL DEFAULT 'private',   -- private | site | public
    publication_stage TEXT NOT NULL DEFAULT 'unpublished',
    approved_for_public INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    data_updated_at REAL NOT NULL,
    metadata_updated_at REAL NOT NULL,
    publication_date REAL,
    row_count INTEGER NOT NULL DEFAULT 0,
    number_of_comments INTEGER NOT NULL DEFAULT 0,
    rows_updated_by TEXT
);
-- sid is the storage id; a row's :id is derived from it (see ids.py).
CREATE TABLE IF NOT EXISTS rows (
    sid INTEGER PRIMARY KEY,
    ds INTEGER NOT NULL,
    row_key TEXT,                      -- row identifier value, NULL when the dataset has none
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL                 -- the row in SODA2 JSON output form, nulls omitted
);
CREATE UNIQUE INDEX IF NOT EXISTS rows_by_key ON rows (ds, row_key);
CREATE INDEX IF NOT EXISTS rows_by_ds ON rows (ds);
CREATE TABLE IF NOT EXISTS approvals (
    submission_id INTEGER PRIMARY KEY,
    ds INTEGER NOT NULL,
    object TEXT NOT NULL,
    outcome TEXT NOT NULL,
    target_audience TEXT NOT NULL,
    state TEXT NOT NULL,               -- pending | approved | rejected
    workflow_id INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    submitter_id TEXT, submitter_name TEXT,
    reviewed_at REAL, reviewer_id TEXT, reviewer_name TEXT,
    reviewed_automatically INTEGER NOT NULL DEFAULT 0,
    notes TEXT,                        -- for the /review page and CLI only: no API returns it
    applied_at REAL,                   -- when the approved outcome was carried out
    revision_seq INTEGER,              -- object 'revision': the revision whose apply waits
    outcome_status TEXT                -- in_progress | success | failure (NULL: not started)
);
CREATE INDEX IF NOT EXISTS approvals_by_ds ON approvals (ds, submission_id);
-- DSMAPI (/api/publishing/v1): revisions, their sources, rows staged from uploads, apply jobs.
CREATE TABLE IF NOT EXISTS revisions (
    pk INTEGER PRIMARY KEY,
    ds INTEGER NOT NULL,
    seq INTEGER NOT NULL,              -- revision_seq, per dataset
    action TEXT NOT NULL,              -- replace | update
    permission TEXT,                   -- public | private | NULL (keep the audience)
    metadata TEXT NOT NULL DEFAULT '{}',
    notes TEXT,
    output_schema_id INTEGER,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,          -- JSON {user_id, display_name}
    closed_at REAL,                    -- applied or discarded
    UNIQUE (ds, seq)
);
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    revision INTEGER NOT NULL,
    input_schema_id INTEGER NOT NULL,
    output_schema_id INTEGER NOT NULL, -- the first output schema, built when the upload is parsed
    source_type TEXT NOT NULL,         -- JSON
    parse_options TEXT NOT NULL,       -- JSON
    content_type TEXT,
    state TEXT NOT NULL,               -- created | receiving | parsing | finished | failed
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    columns TEXT NOT NULL,             -- JSON: the dataset's columns when the source was created
    row_identifier TEXT,
    chunk_size INTEGER,
    filesize INTEGER,
    finished_at REAL,                  -- strict: the bytes stopped; else: parsed
    failed_at REAL,
    failure_details TEXT,              -- JSON {message, type}
    input_columns TEXT,                -- JSON list of {field_name, display_name, soql_type}
    total_rows INTEGER,
    num_row_errors INTEGER
);
CREATE INDEX IF NOT EXISTS sources_by_revision ON sources (revision, id);
CREATE TABLE IF NOT EXISTS source_chunks (
    source INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (source, seq)
);
-- The parsed upload: one row per CSV record of the right width (cells as a JSON list).
CREATE TABLE IF NOT EXISTS input_rows (
    n INTEGER PRIMARY KEY,
    source INTEGER NOT NULL,
    cells TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS input_rows_by_source ON input_rows (source, n);
-- Output schemas: the transforms of an input schema, evaluated into output_rows.
CREATE TABLE IF NOT EXISTS output_schemas (
    id INTEGER PRIMARY KEY,
    source INTEGER NOT NULL,
    input_schema_id INTEGER NOT NULL,
    columns TEXT NOT NULL,             -- JSON output columns with their transforms
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    state TEXT NOT NULL,               -- evaluating | evaluated | failed
    completed_at REAL,                 -- shown (and applicable) from this time on
    total_rows INTEGER,
    error_count INTEGER,
    column_errors TEXT                 -- JSON {field_name: count}
);
CREATE INDEX IF NOT EXISTS output_schemas_by_source ON output_schemas (source, id);
-- Rows evaluated by an output schema, already in stored form; bad=1 rows are counted, never applied.
CREATE TABLE IF NOT EXISTS output_rows (
    n INTEGER PRIMARY KEY,
    output_schema INTEGER NOT NULL,
    row_key TEXT,
    bad INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS output_rows_by_schema ON output_rows (output_schema, n);
-- Rows staged by the emulator before output schemas existed; nothing reads them any more.
DROP TABLE IF EXISTS staged_rows;
CREATE TABLE IF NOT EXISTS task_sets (
    id INTEGER PRIMARY KEY,
    revision INTEGER NOT NULL,
    output_schema_id INTEGER,
    status TEXT NOT NULL,              -- initializing .. successful | failure
    log TEXT NOT NULL,                 -- JSON list of {stage, time, details}
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    created_by TEXT NOT NULL,
    job_uuid TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS task_sets_by_revision ON task_sets (revision, id);
"""

_ADDED_COLUMNS = {"approvals": [("revision_seq", "INTEGER"), ("outcome_status", "TEXT")]}
FIRST_COLUMN_ID = 230641050  # column ids look like the recorded ones (reference §1 create fixture)
FIRST_SUBMISSION_ID = 4792823


@dataclass
class Dataset:
    pk: int
    id: str
    doc: dict[str, Any]
    audience: str
    publication_stage: str
    approved_for_public: bool
    created_at: float
    data_updated_at: float
    metadata_updated_at: float
    publication_date: float | None
    row_count: int
    number_of_comments: int
    rows_updated_by: str | None

    @property
    def columns(self) -> list[dict[str, Any]]:
        return self.doc["columns"]

    @property
    def is_public(self) -> bool:
        return self.audience == "public"

    @property
    def is_published(self) -> bool:
        return self.publication_stage == "published"

    def column_by_field(self) -> dict[str, dict[str, Any]]:
        return {c["fieldName"]: c for c in self.columns}

    @property
    def row_identifier_field(self) -> str | None:
        cid = self.doc.get("rowIdentifierColumnId")
        for c in self.columns:
            if c["id"] == cid:
                return c["fieldName"]
        return None

    @property
    def updated_at(self) -> float:
        return max(self.data_updated_at, self.metadata_updated_at)


@dataclass
class Approval:
    submission_id: int
    ds: int
    object: str
    outcome: str
    target_audience: str
    state: str
    workflow_id: int
    submitted_at: float
    submitter_id: str | None
    submitter_name: str | None
    reviewed_at: float | None
    reviewer_id: str | None
    reviewer_name: str | None
    reviewed_automatically: bool
    notes: str | None
    applied_at: float | None
    revision_seq: int | None
    outcome_status: str | None
    dataset_id: str = field(default="")

    @property
    def is_audience_request(self) -> bool:
        return self.object == "public_audience_request"


def keyset_pages(c: sqlite3.Connection, sql: str, key: Any, batch: int) -> Iterator[list[tuple]]:
    """The pages of a large read, each fetched after the last key of the one before, so memory
    stays flat and the caller may write between pages. ``sql`` takes ``(key, last, batch)``, as in
    ``... WHERE ds=? AND sid>? ORDER BY sid LIMIT ?``, and its first column is the ordering key."""
    last = 0
    while True:
        page = c.execute(sql, (key, last, batch)).fetchall()
        if not page:
            return
        last = page[-1][0]
        yield page


class Store:
    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._lock = threading.RLock()
        conn = self.conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        self._migrate(conn)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Bring a state file written by an earlier emulator up to this schema (CREATE TABLE IF NOT
        EXISTS leaves existing tables alone): add the columns that are new since then, and fail
        parsed sources that have no output schema, whose staged rows are gone (upload again)."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns:
                if name not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        conn.execute(
            "UPDATE sources SET state='failed', failed_at=?, failure_details=? WHERE state='finished'"
            " AND NOT EXISTS (SELECT 1 FROM output_schemas o WHERE o.source=sources.id)",
            (time.time(), json.dumps({"type": "internal_error", "message": "Uploaded before an emulator upgrade"})),
        )

    # ---- connections and transactions ----

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            # Survives process restarts (the requirement); fsync for power loss is not worth the time.
            c.execute("PRAGMA synchronous=OFF")
            c.execute("PRAGMA busy_timeout=30000")
            c.execute("PRAGMA cache_size=-16384")  # 16 MiB page cache per connection (one per thread)
            c.execute("PRAGMA temp_store=MEMORY")
            self._local.conn = c
        return c

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            c = self.conn()
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every statement inside sees the same committed snapshot (WAL), so a
        response built from several queries never mixes the state before and after a write."""
        c = self.conn()
        c.execute("BEGIN")
        try:
            yield c
        finally:
            c.execute("COMMIT")

    def reader(self) -> sqlite3.Connection:
        """A private connection for a long read (a streamed export) that must keep one snapshot."""
        c = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        c.execute("PRAGMA busy_timeout=30000")
        return c

    def next_counter(self, c: sqlite3.Connection, name: str, first: int, n: int = 1) -> int:
        """Reserve ``n`` consecutive values of a counter; returns the first one."""
        row = c.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        start = row[0] if row else first
        c.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, start + n))
        return start

    # ---- datasets ----

    _DS_COLS = (
        "pk, id, doc, audience, publication_stage, approved_for_public, created_at, data_updated_at,"
        " metadata_updated_at, publication_date, row_count, number_of_comments, rows_updated_by"
    )

    @staticmethod
    def _ds(row: tuple) -> Dataset:
        return Dataset(row[0], row[1], json.loads(row[2]), row[3], row[4], bool(row[5]), *row[6:])

    def get_dataset_by_pk(self, pk: int, c: sqlite3.Connection | None = None) -> Dataset | None:
        row = (c or self.conn()).execute(f"SELECT {self._DS_COLS} FROM datasets WHERE pk=?", (pk,)).fetchone()
        return self._ds(row) if row else None

    def get_dataset(self, dataset_id: str, c: sqlite3.Connection | None = None) -> Dataset | None:
        row = (
            (c or self.conn())
            .execute(f"SELECT {self._DS_COLS} FROM datasets WHERE id=?", (dataset_id,))
            .fetchone()
        )
        return self._ds(row) if row else None

    def list_datasets(self) -> list[Dataset]:
        rows = self.conn().execute(f"SELECT {self._DS_COLS} FROM datasets ORDER BY pk").fetchall()
        return [self._ds(r) for r in rows]

    def create_dataset(
        self, doc: dict[str, Any], columns: list[dict[str, Any]], row_identifier: str | int | None
    ) -> Dataset:
        """Insert a dataset; columns get ids/positions and the row identifier becomes a column id."""
        now = time.time()
        with self.writing() as c:
            first_id = self.next_counter(c, "column_id", FIRST_COLUMN_ID, max(len(columns), 1))
            for i, col in enumerate(columns):
                col["id"] = first_id + i
                col["tableColumnId"] = first_id + i
                col["position"] = i + 1
            doc["columns"] = columns
            doc["rowIdentifierColumnId"] = resolve_column_id(columns, row_identifier)
            while True:
                new_id = ids.new_fourfour()
                if not c.execute("SELECT 1 FROM datasets WHERE id=?", (new_id,)).fetchone():
                    break
            c.execute(
                "INSERT INTO datasets (id, doc, created_at, data_updated_at, metadata_updated_at,"
                " publication_date) VALUES (?, ?, ?, ?, ?, ?)",
                (new_id, json.dumps(doc), now, now, now, now),
            )
            return self.get_dataset(new_id, c)

    def update_dataset(
        self, c: sqlite3.Connection, ds: Dataset, *, touch_metadata: bool = True, **fields: Any
    ) -> None:
        """Write back ``ds.doc`` and the given scalar columns inside an open transaction."""
        fields["doc"] = json.dumps(ds.doc)
        if touch_metadata:
            fields["metadata_updated_at"] = time.time()
        sets = ", ".join(f"{k}=?" for k in fields)
        c.execute(f"UPDATE datasets SET {sets} WHERE pk=?", (*fields.values(), ds.pk))

    def set_admin_fields(self, dataset_id: str, **fields: Any) -> Dataset | None:
        with self.writing() as c:
            ds = self.get_dataset(dataset_id, c)
            if ds is None:
                return None
            if fields:
                sets = ", ".join(f"{k}=?" for k in fields)
                c.execute(f"UPDATE datasets SET {sets} WHERE pk=?", (*fields.values(), ds.pk))
            return self.get_dataset(dataset_id, c)

    # ---- approvals ----

    _AP_COLS = (
        "a.submission_id, a.ds, a.object, a.outcome, a.target_audience, a.state, a.workflow_id,"
        " a.submitted_at, a.submitter_id, a.submitter_name, a.reviewed_at, a.reviewer_id,"
        " a.reviewer_name, a.reviewed_automatically, a.notes, a.applied_at, a.revision_seq, a.outcome_status, d.id"
    )

    @staticmethod
    def _ap(row: tuple) -> Approval:
        a = Approval(*row[:18], dataset_id=row[18])
        a.reviewed_automatically = bool(a.reviewed_automatically)
        return a

    def approvals_for(self, ds_pk: int, c: sqlite3.Connection | None = None) -> list[Approval]:
        rows = (
            (c or self.conn())
            .execute(
                f"SELECT {self._AP_COLS} FROM approvals a JOIN datasets d ON d.pk=a.ds"
                " WHERE a.ds=? ORDER BY a.submission_id",
                (ds_pk,),
            )
            .fetchall()
        )
        return [self._ap(r) for r in rows]

    def approvals_where(self, where: str, params: tuple = (), limit: int | None = None) -> list[Approval]:
        sql = (
            f"SELECT {self._AP_COLS} FROM approvals a JOIN datasets d ON d.pk=a.ds WHERE {where}"
            " ORDER BY a.submission_id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._ap(r) for r in self.conn().execute(sql, params).fetchall()]

    def get_approval(self, submission_id: int, c: sqlite3.Connection | None = None) -> Approval | None:
        row = (
            (c or self.conn())
            .execute(
                f"SELECT {self._AP_COLS} FROM approvals a JOIN datasets d ON d.pk=a.ds"
                " WHERE a.submission_id=?",
                (submission_id,),
            )
            .fetchone()
        )
        return self._ap(row) if row else None

    def insert_approval(self, c: sqlite3.Connection, **values: Any) -> int:
        sid = self.next_counter(c, "submission_id", FIRST_SUBMISSION_ID)
        values["submission_id"] = sid
        cols = ", ".join(values)
        c.execute(
            f"INSERT INTO approvals ({cols}) VALUES ({', '.join('?' * len(values))})", tuple(values.values())
        )
        return sid

    def update_approval(self, c: sqlite3.Connection, submission_id: int, **values: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in values)
        c.execute(f"UPDATE approvals SET {sets} WHERE submission_id=?", (*values.values(), submission_id))


def resolve_column_id(columns: list[dict[str, Any]], ref: str | int | None) -> int | None:
    """A row identifier given as a column id (view JSON) or a field name (sodapy ``create``)."""
    if ref in (None, ""):
        return None
    for col in columns:
        if col["id"] == ref or col["fieldName"] == ref or str(col["id"]) == str(ref):
            return col["id"]
    raise KeyError(ref)
