"""The DSMAPI records (revisions, sources, output schemas, task sets): their dataclasses, the
columns they are stored in and how a stored row becomes one, the errors and timestamps every
part of the publishing model shares, and the task set log.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .config import Account
from .errors import SocrataError

RUNNING = ("initializing", "creating_columns", "upserting", "finishing")
DONE = ("successful", "failure")
STAGE_BATCH = 5000
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def iso(t: float | None) -> str | None:
    """DSMAPI timestamps: ISO-8601 UTC with microseconds."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def creator(account: Account) -> dict[str, Any]:
    return {"user_id": account.user_id, "display_name": account.name, "email": None}


def conflict(code: str, message: str, data: dict[str, Any] | None = None) -> SocrataError:
    return SocrataError(409, code, message, data)


def not_found(what: str, **data: Any) -> SocrataError:
    return SocrataError(404, "not_found", f"{what} not found", data)


@dataclass
class Revision:
    pk: int
    ds: int
    seq: int
    action: str
    permission: str | None
    metadata: dict[str, Any]
    notes: str | None
    output_schema_id: int | None
    created_at: float
    created_by: dict[str, Any]
    closed_at: float | None


@dataclass
class Source:
    id: int
    revision: int
    input_schema_id: int
    output_schema_id: int  # the first output schema, built when the upload is parsed
    source_type: dict[str, Any]
    parse_options: dict[str, Any]
    content_type: str | None
    state: str
    created_at: float
    created_by: dict[str, Any]
    columns: list[dict[str, Any]]
    row_identifier: str | None
    chunk_size: int | None
    filesize: int | None
    finished_at: float | None
    failed_at: float | None
    failure_details: dict[str, Any] | None
    input_columns: list[dict[str, Any]] | None  # {field_name, display_name, soql_type}
    total_rows: int | None
    num_row_errors: int | None

    def input_types(self) -> dict[str, str]:
        return {c["field_name"]: c["soql_type"] for c in self.input_columns or []}


@dataclass
class OutputSchema:
    id: int
    source: int
    input_schema_id: int
    columns: list[dict[str, Any]]
    created_at: float
    created_by: dict[str, Any]
    state: str  # evaluating | evaluated | failed
    completed_at: float | None
    total_rows: int | None
    error_count: int | None
    column_errors: dict[str, int] | None

    def complete(self, now: float | None = None) -> bool:
        """Evaluated, and (strict mode) past the moment its completion shows."""
        return self.state == "evaluated" and self.completed_at is not None and self.completed_at <= (now or time.time())

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.columns, key=lambda col: col["position"])

    @property
    def primary_key(self) -> str | None:
        return next((col["field_name"] for col in self.columns if col.get("is_primary_key")), None)


@dataclass
class TaskSet:
    id: int
    revision: int
    output_schema_id: int | None
    status: str
    log: list[dict[str, Any]]
    created_at: float
    updated_at: float
    finished_at: float | None
    created_by: dict[str, Any]
    job_uuid: str
    request_id: str | None


class JobFailure(Exception):
    def __init__(self, kind: str, message: str, **details: Any):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details


class SourceFailure(JobFailure):
    pass


REV_COLS = "pk, ds, seq, action, permission, metadata, notes, output_schema_id, created_at, created_by, closed_at"
SRC_COLS = (
    "id, revision, input_schema_id, output_schema_id, source_type, parse_options, content_type, state,"
    " created_at, created_by, columns, row_identifier, chunk_size, filesize, finished_at, failed_at,"
    " failure_details, input_columns, total_rows, num_row_errors"
)
OS_COLS = (
    "id, source, input_schema_id, columns, created_at, created_by, state, completed_at, total_rows, error_count,"
    " column_errors"
)
TS_COLS = (
    "id, revision, output_schema_id, status, log, created_at, updated_at, finished_at, created_by, job_uuid, request_id"
)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def decode_revision(row: tuple) -> Revision:
    r = list(row)
    r[5] = json.loads(r[5] or "{}")
    r[9] = json.loads(r[9])
    return Revision(*r)


def decode_source(row: tuple) -> Source:
    r = list(row)
    for i in (4, 5, 9, 10, 16, 17):
        r[i] = _loads(r[i])
    return Source(*r)


def decode_output_schema(row: tuple) -> OutputSchema:
    r = list(row)
    for i in (3, 5, 10):
        r[i] = _loads(r[i])
    return OutputSchema(*r)


def decode_task_set(row: tuple) -> TaskSet:
    r = list(row)
    r[4] = json.loads(r[4])
    r[8] = json.loads(r[8])
    return TaskSet(*r)


def advance(c: sqlite3.Connection, ts: TaskSet, status: str, stage: str | None = None, **details: Any) -> None:
    """Move a job to ``status`` with a log entry (``stage`` names the entry when it is not the
    status itself); ``finished_at`` is set once the job is done."""
    now = time.time()
    entries = ts.log + [{"stage": stage or status, "time": iso(now), "details": details}]
    finished = now if status in DONE else None
    c.execute(
        "UPDATE task_sets SET status=?, log=?, updated_at=?, finished_at=? WHERE id=?",
        (status, json.dumps(entries), now, finished, ts.id),
    )
    ts.log, ts.status = entries, status
