"""DSMAPI (``/api/publishing/v1``, reference §3.1): revisions, upload sources and apply jobs.

How a replace revision stays invisible until it is applied, and then appears all at once:

* Uploaded bytes go to a file next to the state file (one-shot uploads are streamed there; chunks
  are written at their byte offset, so a retried chunk overwrites itself). Nothing is held in
  memory beyond one request body chunk.
* A worker thread parses the file with the dataset's column types into ``staged_rows`` in small
  transactions (5,000 rows each): the stored form rows will have, plus the row key, or the row
  marked bad (counted as an output schema error, never applied). Readers never look there.
* Applying starts a job (TaskSet) on a thread: ``initializing``, ``creating_columns``,
  ``upserting``, ``finishing``, ``successful`` or ``failure``. The switch is ONE write transaction:
  the old rows are deleted, the staged rows copied in with fresh sids (new ``:id`` s, above every
  sid in use), ``row_count``/``dataUpdatedAt`` set, the audience set from the revision's
  permission, the revision closed and the job moved to ``finishing``. SQLite in WAL mode gives
  every read transaction one snapshot, so ``GET /resource`` serves the whole old version until the
  commit and the whole new one after it. A failure rolls everything back.
* Jobs and parses that a restart interrupted are resumed at start-up; the switch either committed
  (the job is at ``finishing``) or did not happen at all.

Errors use the Socrata shape of the rest of the emulator (``{"code","error","message","data"}``);
the publishing API documents no error body of its own. Failures that happen after the request
(a source that cannot be parsed, a job that fails) are reported the DSMAPI way, on the resource:
``failed_at`` + ``failure_details {type, message}`` on a source, a ``failure`` log entry on a job.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .approvals import Workflow
from .config import Account, EmulatorConfig
from .datatypes import SODA2_TYPE, BadValue, normalize_text, normalizer
from .errors import SocrataError, bad_request, not_found_view
from .rows import Report, apply_rows, key_of
from .stats import Stats
from .store import Dataset, Store

log = logging.getLogger("portal_emulator.publishing")

API = "/api/publishing/v1"
ACTIONS = ("replace", "update")
PERMISSIONS = ("public", "private")
RUNNING = ("initializing", "creating_columns", "upserting", "finishing")
DONE = ("successful", "failure")
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
STAGE_BATCH = 5000
# Revision metadata keys an apply copies onto the view (the rest of the metadata is kept as sent).
METADATA_KEYS = ("name", "description", "category", "tags", "attribution", "attributionLink", "licenseId")
_TRANSFORM = {
    "text": "to_text",
    "number": "to_number",
    "checkbox": "to_boolean",
    "floating_timestamp": "to_floating_timestamp",
    "fixed_timestamp": "to_fixed_timestamp",
    "url": "to_url",
    "location": "to_location",
}


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
    output_schema_id: int
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
    input_columns: list[str] | None
    total_rows: int | None
    error_count: int | None
    column_errors: dict[str, int] | None
    num_row_errors: int | None


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


_REV_COLS = "pk, ds, seq, action, permission, metadata, notes, output_schema_id, created_at, created_by, closed_at"
_SRC_COLS = (
    "id, revision, input_schema_id, output_schema_id, source_type, parse_options, content_type, state,"
    " created_at, created_by, columns, row_identifier, chunk_size, filesize, finished_at, failed_at,"
    " failure_details, input_columns, total_rows, error_count, column_errors, num_row_errors"
)
_TS_COLS = (
    "id, revision, output_schema_id, status, log, created_at, updated_at, finished_at, created_by, job_uuid, request_id"
)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _revision(row: tuple) -> Revision:
    r = list(row)
    r[5] = json.loads(r[5] or "{}")
    r[9] = json.loads(r[9])
    return Revision(*r)


def _source(row: tuple) -> Source:
    r = list(row)
    for i in (4, 5, 9, 10, 16, 17, 20):
        r[i] = _loads(r[i])
    return Source(*r)


def _task_set(row: tuple) -> TaskSet:
    r = list(row)
    r[4] = json.loads(r[4])
    r[8] = json.loads(r[8])
    return TaskSet(*r)


class Publishing:
    """The DSMAPI state machine over the store; routes stay thin."""

    def __init__(self, store: Store, config: EmulatorConfig, stats: Stats, workflow: Workflow):
        self.store = store
        self.config = config
        self.stats = stats
        self.workflow = workflow
        self.uploads = Path(config.uploads_dir)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._parsing: dict[int, threading.Event] = {}
        self._guard = threading.Lock()

    # ---- reading ----

    def dataset(self, dataset_id: str, c: sqlite3.Connection | None = None) -> Dataset:
        ds = self.store.get_dataset(dataset_id, c)
        if ds is None:
            raise not_found_view(dataset_id)
        return ds

    def revision(self, dataset_id: str, seq: int, c: sqlite3.Connection | None = None) -> tuple[Dataset, Revision]:
        c = c or self.store.conn()
        ds = self.dataset(dataset_id, c)
        row = c.execute(f"SELECT {_REV_COLS} FROM revisions WHERE ds=? AND seq=?", (ds.pk, seq)).fetchone()
        if row is None:
            raise not_found("Revision", fourfour=dataset_id, revision_seq=seq)
        return ds, _revision(row)

    def revisions(self, dataset_id: str, open_only: bool | None) -> tuple[Dataset, list[Revision]]:
        c = self.store.conn()
        ds = self.dataset(dataset_id, c)
        where = "ds=?"
        if open_only is True:
            where += " AND closed_at IS NULL"
        elif open_only is False:
            where += " AND closed_at IS NOT NULL"
        rows = c.execute(f"SELECT {_REV_COLS} FROM revisions WHERE {where} ORDER BY seq DESC", (ds.pk,))
        return ds, [_revision(r) for r in rows.fetchall()]

    def source(self, source_id: int, c: sqlite3.Connection | None = None) -> Source:
        row = (c or self.store.conn()).execute(f"SELECT {_SRC_COLS} FROM sources WHERE id=?", (source_id,)).fetchone()
        if row is None:
            raise not_found("Source", id=source_id)
        return _source(row)

    def sources(self, revision_pk: int, c: sqlite3.Connection | None = None) -> list[Source]:
        rows = (c or self.store.conn()).execute(
            f"SELECT {_SRC_COLS} FROM sources WHERE revision=? ORDER BY id", (revision_pk,)
        )
        return [_source(r) for r in rows.fetchall()]

    def task_sets(self, revision_pk: int, c: sqlite3.Connection | None = None) -> list[TaskSet]:
        rows = (c or self.store.conn()).execute(
            f"SELECT {_TS_COLS} FROM task_sets WHERE revision=? ORDER BY id", (revision_pk,)
        )
        return [_task_set(r) for r in rows.fetchall()]

    def task_set(self, dataset_id: str, seq: int, task_set_id: int) -> tuple[Revision, TaskSet]:
        c = self.store.conn()
        _, rev = self.revision(dataset_id, seq, c)
        row = c.execute(f"SELECT {_TS_COLS} FROM task_sets WHERE id=? AND revision=?", (task_set_id, rev.pk)).fetchone()
        if row is None:
            raise not_found("Task set", id=task_set_id)
        return rev, _task_set(row)

    def owner(self, source: Source, c: sqlite3.Connection | None = None) -> tuple[Dataset, Revision]:
        c = c or self.store.conn()
        row = c.execute(f"SELECT {_REV_COLS} FROM revisions WHERE pk=?", (source.revision,)).fetchone()
        rev = _revision(row)
        return self.store.get_dataset_by_pk(rev.ds, c), rev

    # ---- revisions ----

    def open_revision(self, dataset_id: str, body: Any, account: Account) -> tuple[Dataset, Revision]:
        if not isinstance(body, dict):
            raise bad_request('Send {"action": {"type": "replace"|"update", "permission": ...}}')
        if body.get("config"):
            raise bad_request("Import configs are not supported by this emulator", code="config.unsupported")
        action = body.get("action") or {}
        if not isinstance(action, dict):
            raise bad_request("action must be an object")
        kind = action.get("type")
        if kind not in ACTIONS:
            raise bad_request(
                f"Unsupported action type {kind!r} (supported: {', '.join(ACTIONS)})", code="action.invalid"
            )
        permission = action.get("permission")
        if permission is not None and permission not in PERMISSIONS:
            raise bad_request(
                f"Unknown permission {permission!r}; use 'public' or 'private'", code="permission.invalid"
            )
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise bad_request("metadata must be an object")
        with self.store.writing() as c:
            ds = self.dataset(dataset_id, c)
            seq = c.execute("SELECT coalesce(max(seq), 0) + 1 FROM revisions WHERE ds=?", (ds.pk,)).fetchone()[0]
            pk = self.store.next_counter(c, "revision_id", 41000)
            c.execute(
                "INSERT INTO revisions (pk, ds, seq, action, permission, metadata, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (pk, ds.pk, seq, kind, permission, json.dumps(metadata), time.time(), json.dumps(creator(account))),
            )
            _, rev = self.revision(dataset_id, seq, c)
        self.stats.revision(dataset_id, opened=1)
        return ds, rev

    def update_revision(self, dataset_id: str, seq: int, body: Any) -> Revision:
        if not isinstance(body, dict):
            raise bad_request("Send a JSON object with metadata, notes or output_schema_id")
        with self.store.writing() as c:
            ds, rev = self.revision(dataset_id, seq, c)
            self._check_open(c, rev)
            sets: dict[str, Any] = {}
            if "metadata" in body:
                if not isinstance(body["metadata"], dict):
                    raise bad_request("metadata must be an object")
                sets["metadata"] = json.dumps({**rev.metadata, **body["metadata"]})
            if "notes" in body:
                sets["notes"] = None if body["notes"] is None else str(body["notes"])
            if "output_schema_id" in body:
                sets["output_schema_id"] = self._ready_output_schema(c, rev, body["output_schema_id"]).output_schema_id
            if sets:
                assignments = ", ".join(f"{k}=?" for k in sets)
                c.execute(f"UPDATE revisions SET {assignments} WHERE pk=?", (*sets.values(), rev.pk))
            return self.revision(dataset_id, seq, c)[1]

    def discard(self, dataset_id: str, seq: int) -> Revision:
        with self.store.writing() as c:
            ds, rev = self.revision(dataset_id, seq, c)
            jobs = self.task_sets(rev.pk, c)
            if any(j.status in RUNNING for j in jobs):
                raise conflict("revision.apply_in_progress", "The revision is being applied", {"revision_seq": seq})
            if rev.closed_at is not None:
                if any(j.status == "successful" for j in jobs):
                    raise conflict("revision.closed", "The revision was applied and cannot be discarded")
                return rev  # already discarded: discarding again changes nothing
            c.execute("UPDATE revisions SET closed_at=? WHERE pk=?", (time.time(), rev.pk))
            sources = self.sources(rev.pk, c)
        self._drop_staged(sources)
        self.stats.revision(dataset_id, discarded=1)
        return self.revision(dataset_id, seq)[1]

    def _check_open(self, c, rev: Revision) -> None:
        if rev.closed_at is not None:
            raise conflict(
                "revision.closed", "The revision is closed (applied or discarded)", {"revision_seq": rev.seq}
            )
        if any(j.status in RUNNING for j in self.task_sets(rev.pk, c)):
            raise conflict("revision.apply_in_progress", "The revision is being applied", {"revision_seq": rev.seq})

    # ---- sources ----

    def create_source(self, dataset_id: str, seq: int, body: Any, account: Account) -> Source:
        if not isinstance(body, dict) or not isinstance(body.get("source_type"), dict):
            raise bad_request('Send {"source_type": {"type": "upload", "filename": ...}, "parse_options": {...}}')
        source_type = body["source_type"]
        if source_type.get("type") != "upload":
            raise bad_request(
                f"Source type {source_type.get('type')!r} is not supported by this emulator (supported: upload)",
                code="source_type.unsupported",
            )
        options = body.get("parse_options") or {}
        if not isinstance(options, dict):
            raise bad_request("parse_options must be an object")
        parse_options = {
            "parse_source": True,
            "header_count": 1,
            "column_header": 1,
            "encoding": "utf8",
            "column_separator": ",",
            "quote_char": '"',
            "trim_whitespace": False,
            "remove_empty_rows": True,
            **options,
        }
        if parse_options["parse_source"] in (False, "false"):
            raise bad_request("Blob (parse_source: false) sources are not supported by this emulator")
        if parse_options.get("column_separator") != "," or int(parse_options.get("header_count", 1)) != 1:
            raise bad_request("This emulator parses comma-separated files with one header row")
        with self.store.writing() as c:
            ds, rev = self.revision(dataset_id, seq, c)
            self._check_open(c, rev)
            source_id = self.store.next_counter(c, "source_id", 15786)
            schema_ids = self.store.next_counter(c, "schema_id", 15398, 2)
            columns = sorted(ds.columns, key=lambda col: col["position"])
            c.execute(
                "INSERT INTO sources (id, revision, input_schema_id, output_schema_id, source_type,"
                " parse_options, state, created_at, created_by, columns, row_identifier)"
                " VALUES (?, ?, ?, ?, ?, ?, 'created', ?, ?, ?, ?)",
                (
                    source_id,
                    rev.pk,
                    schema_ids,
                    schema_ids + 1,
                    json.dumps({"type": "upload", "filename": str(source_type.get("filename") or "upload.csv")}),
                    json.dumps(parse_options),
                    time.time(),
                    json.dumps(creator(account)),
                    json.dumps(columns),
                    ds.row_identifier_field,
                ),
            )
            src = self.source(source_id, c)
        self.stats.revision(dataset_id, sources=1)
        return src

    def _open_source(self, c, source_id: int, states: tuple[str, ...]) -> tuple[Dataset, Revision, Source]:
        src = self.source(source_id, c)
        ds, rev = self.owner(src, c)
        self._check_open(c, rev)
        if src.state not in states:
            raise conflict(
                "source.state",
                f"The source is {src.state}; this needs it {' or '.join(states)}",
                {"id": source_id, "state": src.state},
            )
        return ds, rev, src

    def path(self, source_id: int) -> Path:
        return self.uploads / f"{source_id}.bin"

    def initiate(self, source_id: int, body: Any) -> dict[str, Any]:
        content_type = (body or {}).get("content_type", "text/csv") if isinstance(body, dict) else "text/csv"
        _check_csv(content_type)
        with self.store.writing() as c:
            _, _, src = self._open_source(c, source_id, ("created", "receiving"))
            if src.state == "created":
                c.execute(
                    "UPDATE sources SET state='receiving', content_type=?, chunk_size=? WHERE id=?",
                    (content_type, self.config.upload_chunk_size, source_id),
                )
                self.path(source_id).write_bytes(b"")
        return {
            "preferred_chunk_size": self.config.upload_chunk_size,
            "preferred_upload_parallelism": self.config.upload_parallelism,
        }

    def chunk(self, source_id: int, seq: int, offset: int, data: bytes) -> None:
        if seq < 0 or offset < 0:
            raise bad_request("seq_num and byte_offset must be non-negative")
        with self.store.writing() as c:
            ds, _, src = self._open_source(c, source_id, ("receiving",))
            if len(data) > (src.chunk_size or self.config.upload_chunk_size):
                raise bad_request(
                    f"A chunk may hold at most {src.chunk_size} bytes (preferred_chunk_size)",
                    code="chunk.too_large",
                )
            fd = os.open(self.path(source_id), os.O_WRONLY | os.O_CREAT)
            try:
                os.pwrite(fd, data, offset)  # a retried chunk lands on the same bytes
            finally:
                os.close(fd)
            c.execute(
                "INSERT OR REPLACE INTO source_chunks (source, seq, byte_offset, size) VALUES (?, ?, ?, ?)",
                (source_id, seq, offset, len(data)),
            )
        self.stats.revision(ds.id, chunks=1, bytes_uploaded=len(data))

    def commit(self, source_id: int, seq: int, total: int) -> Source:
        with self.store.writing() as c:
            src = self.source(source_id, c)
            if src.state in ("parsing", "finished", "failed") and src.filesize == total:
                return src  # a retried commit: the first one was already taken
            self._open_source(c, source_id, ("receiving",))
            chunks = c.execute(
                "SELECT seq, byte_offset, size FROM source_chunks WHERE source=? ORDER BY seq", (source_id,)
            ).fetchall()
            expected = 0
            for i, (n, offset, size) in enumerate(chunks):
                if n != i or offset != expected:
                    raise bad_request(
                        f"Chunk {i} is missing or not at byte {expected}",
                        code="upload.incomplete",
                        data={"seq_num": i, "byte_offset": expected},
                    )
                if i < len(chunks) - 1 and size != chunks[0][2]:
                    raise bad_request("All chunks but the last must be the same size", code="upload.chunk_size")
                expected += size
            if not chunks or chunks[-1][0] != seq or expected != total:
                raise bad_request(
                    f"Commit names chunk {seq} and {total} bytes; received {len(chunks)} chunk(s), {expected} bytes",
                    code="upload.incomplete",
                    data={"chunks": len(chunks), "bytes": expected},
                )
            os.truncate(self.path(source_id), total)
            c.execute("UPDATE sources SET state='parsing', filesize=? WHERE id=?", (total, source_id))
            c.execute("DELETE FROM source_chunks WHERE source=?", (source_id,))
        return self.start_parse(source_id)

    def begin_upload(self, source_id: int, content_type: str) -> Path:
        """Claim a source for a one-shot upload; the caller streams the body to the returned path."""
        _check_csv(content_type)
        with self.store.writing() as c:
            self._open_source(c, source_id, ("created",))
            c.execute(
                "UPDATE sources SET state='receiving', content_type=?, chunk_size=NULL WHERE id=?",
                (content_type, source_id),
            )
        return self.path(source_id)

    def end_upload(self, source_id: int, size: int, ok: bool) -> Source:
        with self.store.writing() as c:
            if not ok:  # the client went away mid-body: the source can take a new upload
                c.execute("UPDATE sources SET state='created' WHERE id=?", (source_id,))
                return self.source(source_id, c)
            c.execute("UPDATE sources SET state='parsing', filesize=? WHERE id=?", (size, source_id))
            ds, _ = self.owner(self.source(source_id, c), c)
        self.stats.revision(ds.id, bytes_uploaded=size)
        return self.start_parse(source_id)

    def start_parse(self, source_id: int) -> Source:
        with self._guard:
            done = self._parsing.get(source_id)
            if done is None:
                done = self._parsing[source_id] = threading.Event()
                threading.Thread(
                    target=self._parse_thread, args=(source_id, done), name=f"parse-{source_id}", daemon=True
                ).start()
        done.wait(self.config.sync_parse_seconds)
        return self.source(source_id)

    def _parse_thread(self, source_id: int, done: threading.Event) -> None:
        try:
            self._parse(source_id)
        except Exception:  # noqa: BLE001 - a parse must end in a state, whatever happened
            log.exception("parsing source %s failed", source_id)
            self._fail_source(source_id, SourceFailure("internal_error", "The source could not be processed"))
        finally:
            done.set()
            with self._guard:
                self._parsing.pop(source_id, None)

    def _parse(self, source_id: int) -> None:
        src = self.source(source_id)
        ds, rev = self.owner(src)
        with self.store.writing() as c:  # an interrupted earlier parse may have staged some rows
            c.execute("DELETE FROM staged_rows WHERE source=?", (source_id,))
        try:
            with open(self.path(source_id), "rb") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                fields, total, bad_rows, row_errors, col_errors = self._stage_file(src, rev, text)
        except UnicodeDecodeError:
            return self._fail_source(source_id, SourceFailure("encoding", "The file is not UTF-8 text"))
        except csv.Error as exc:
            return self._fail_source(source_id, SourceFailure("parse_error", f"The CSV could not be parsed: {exc}"))
        except SourceFailure as failure:
            return self._fail_source(source_id, failure)
        with self.store.writing() as c:
            c.execute(
                "UPDATE sources SET state='finished', finished_at=?, input_columns=?, total_rows=?,"
                " error_count=?, column_errors=?, num_row_errors=? WHERE id=?",
                (time.time(), json.dumps(fields), total, bad_rows, json.dumps(col_errors), row_errors, source_id),
            )
            # The latest finished upload is what the revision applies unless told otherwise.
            c.execute(
                "UPDATE revisions SET output_schema_id=? WHERE pk=? AND closed_at IS NULL",
                (src.output_schema_id, rev.pk),
            )
        self.path(source_id).unlink(missing_ok=True)
        self.stats.revision(ds.id, rows_staged=total - bad_rows - row_errors, row_errors=bad_rows + row_errors)
        log.info("source %s parsed: %d rows, %d errors", source_id, total, bad_rows + row_errors)

    def _stage_file(self, src: Source, rev: Revision, text) -> tuple[list[str], int, int, int, Counter]:
        """Parse the CSV into staged rows, 5,000 per transaction; returns the header and counts."""
        types = {col["fieldName"]: col["dataTypeName"] for col in src.columns}
        order = [col["fieldName"] for col in src.columns]
        rid = src.row_identifier
        upsert = rev.action == "update"  # an update keeps explicit nulls: they clear cells
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        total = bad_rows = row_errors = 0
        col_errors: Counter[str] = Counter()
        batch: list[tuple] = []
        reader = csv.reader(text)
        fields = _check_header(next(reader, None), types)
        norms = [normalizer(types[f]) for f in fields]
        width = len(fields)
        for cells in reader:
            if not cells or (width > 1 and len(cells) == 1 and cells[0] == ""):
                continue  # remove_empty_rows
            total += 1
            if len(cells) != width:
                row_errors += 1
                batch.append((src.id, None, 1, dumps({"cells": cells})))
            else:
                values: dict[str, Any] = {}
                bad = False
                for f, norm, cell in zip(fields, norms, cells, strict=True):
                    if cell == "":
                        values[f] = None
                    elif norm is normalize_text:
                        values[f] = cell
                    else:
                        try:
                            values[f] = norm(cell)
                        except BadValue:
                            bad = True
                            col_errors[f] += 1
                key = None
                if rid is not None:
                    if values.get(rid) is None:
                        bad = True
                        col_errors[rid] += 1
                    else:
                        key = key_of(values[rid])
                if bad:
                    bad_rows += 1
                    batch.append((src.id, None, 1, dumps(dict(zip(fields, cells, strict=True)))))
                else:
                    data = values if upsert else {f: values[f] for f in order if values.get(f) is not None}
                    batch.append((src.id, key, 0, dumps(data)))
            if len(batch) >= STAGE_BATCH:
                self._stage(batch)
                batch = []
        if batch:
            self._stage(batch)
        return fields, total, bad_rows, row_errors, col_errors

    def _stage(self, batch: list[tuple]) -> None:
        with self.store.writing() as c:
            c.executemany("INSERT INTO staged_rows (source, row_key, bad, data) VALUES (?, ?, ?, ?)", batch)

    def _fail_source(self, source_id: int, failure: JobFailure) -> None:
        with self.store.writing() as c:
            c.execute("DELETE FROM staged_rows WHERE source=?", (source_id,))
            c.execute(
                "UPDATE sources SET state='failed', failed_at=?, failure_details=? WHERE id=?",
                (
                    time.time(),
                    json.dumps({"type": failure.kind, "message": failure.message, **failure.details}),
                    source_id,
                ),
            )
        self.path(source_id).unlink(missing_ok=True)

    def _drop_staged(self, sources: list[Source]) -> None:
        for src in sources:
            with self.store.writing() as c:
                c.execute("DELETE FROM staged_rows WHERE source=?", (src.id,))
            self.path(src.id).unlink(missing_ok=True)

    # ---- applying ----

    def _ready_output_schema(self, c, rev: Revision, output_schema_id: Any) -> Source:
        for src in self.sources(rev.pk, c):
            if src.output_schema_id == output_schema_id:
                if src.state != "finished":
                    raise conflict(
                        "output_schema.not_ready",
                        f"Output schema {output_schema_id} is not ready (source {src.state})",
                        {"output_schema_id": output_schema_id},
                    )
                return src
        raise not_found("Output schema", id=output_schema_id)

    def apply(
        self, dataset_id: str, seq: int, body: Any, account: Account, request_id: str | None
    ) -> tuple[Revision, TaskSet]:
        body = body if isinstance(body, dict) else {}
        with self.store.writing() as c:
            ds, rev = self.revision(dataset_id, seq, c)
            self._check_open(c, rev)  # inside the write lock: two applies can never both start
            wanted = body.get("output_schema_id", rev.output_schema_id)
            if wanted is not None:
                src = self._ready_output_schema(c, rev, wanted)
                wanted = src.output_schema_id
            else:
                busy = [s.id for s in self.sources(rev.pk, c) if s.state in ("created", "receiving", "parsing")]
                if busy:
                    raise conflict(
                        "source.not_ready",
                        "A source of this revision is still being uploaded or parsed",
                        {"sources": busy},
                    )
            now = time.time()
            ts_id = self.store.next_counter(c, "task_set_id", 60000)
            entry = {"stage": "initializing", "time": iso(now), "details": {}}
            c.execute(
                "INSERT INTO task_sets (id, revision, output_schema_id, status, log, created_at, updated_at,"
                " created_by, job_uuid, request_id) VALUES (?, ?, ?, 'initializing', ?, ?, ?, ?, ?, ?)",
                (
                    ts_id,
                    rev.pk,
                    wanted,
                    json.dumps([entry]),
                    now,
                    now,
                    json.dumps(creator(account)),
                    str(uuid.uuid4()),
                    request_id,
                ),
            )
            if wanted is not None:
                c.execute("UPDATE revisions SET output_schema_id=? WHERE pk=?", (wanted, rev.pk))
        self._start_job(ts_id)
        return self.task_set(dataset_id, seq, ts_id)

    def _start_job(self, ts_id: int) -> None:
        threading.Thread(target=self._run_job, args=(ts_id,), name=f"apply-{ts_id}", daemon=True).start()

    def _job(self, c, ts_id: int) -> TaskSet:
        return _task_set(c.execute(f"SELECT {_TS_COLS} FROM task_sets WHERE id=?", (ts_id,)).fetchone())

    def _advance(self, c, ts: TaskSet, status: str, stage: str | None = None, **details: Any) -> None:
        now = time.time()
        entries = ts.log + [{"stage": stage or status, "time": iso(now), "details": details}]
        finished = now if status in DONE else None
        c.execute(
            "UPDATE task_sets SET status=?, log=?, updated_at=?, finished_at=? WHERE id=?",
            (status, json.dumps(entries), now, finished, ts.id),
        )
        ts.log, ts.status = entries, status

    def _step(self, ts_id: int, status: str, **details: Any) -> None:
        time.sleep(self.config.apply_stage_seconds)
        with self.store.writing() as c:
            self._advance(c, self._job(c, ts_id), status, **details)

    def _run_job(self, ts_id: int) -> None:
        with self.store.writing() as c:
            status = self._job(c, ts_id).status
        dataset_id = "?"
        try:
            if status in ("initializing", "creating_columns", "upserting"):
                self._step(ts_id, "creating_columns")
                self._step(ts_id, "upserting")
                time.sleep(self.config.apply_stage_seconds)
                dataset_id = self._switch(ts_id)
            time.sleep(self.config.apply_stage_seconds)
            with self.store.writing() as c:
                ts = self._job(c, ts_id)
                self._advance(c, ts, "successful")
                rev = _revision(c.execute(f"SELECT {_REV_COLS} FROM revisions WHERE pk=?", (ts.revision,)).fetchone())
                sources = self.sources(rev.pk, c)
                dataset_id = self.store.get_dataset_by_pk(rev.ds, c).id
            self._drop_staged(sources)
            self.stats.revision(dataset_id, applied=1)
        except JobFailure as failure:
            self._fail_job(ts_id, failure)
        except Exception:  # noqa: BLE001 - a job must end in a state, whatever happened
            log.exception("apply job %s failed", ts_id)
            self._fail_job(ts_id, JobFailure("internal_error", "Internal error while applying the revision"))

    def _fail_job(self, ts_id: int, failure: JobFailure) -> None:
        with self.store.writing() as c:
            ts = self._job(c, ts_id)
            self._advance(c, ts, "failure", message=failure.message, type=failure.kind, **failure.details)
            rev = _revision(c.execute(f"SELECT {_REV_COLS} FROM revisions WHERE pk=?", (ts.revision,)).fetchone())
            dataset_id = self.store.get_dataset_by_pk(rev.ds, c).id
        self.stats.revision(dataset_id, failed=1)
        log.warning("apply job %s failed: %s", ts_id, failure.message)

    def _switch(self, ts_id: int) -> str:
        """Everything the revision changes, in one transaction (see the module docstring)."""
        try:
            with self.store.writing() as c:
                return self._switch_in(c, ts_id)
        except sqlite3.IntegrityError:
            raise JobFailure(
                "duplicate_row_identifier",
                "The upload holds the same row identifier value more than once",
            ) from None

    def _switch_in(self, c, ts_id: int) -> str:
        ts = self._job(c, ts_id)
        if ts.status not in RUNNING or ts.status == "finishing":
            raise JobFailure("internal_error", f"job is {ts.status}")
        rev = _revision(c.execute(f"SELECT {_REV_COLS} FROM revisions WHERE pk=?", (ts.revision,)).fetchone())
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        account = self.config.accounts.get(ts.created_by.get("display_name")) or Account(
            ts.created_by.get("display_name") or "unknown", "-", "publisher"
        )
        now = time.time()
        report: dict[str, int] | None = None
        if ts.output_schema_id is not None:
            src = next(s for s in self.sources(rev.pk, c) if s.output_schema_id == ts.output_schema_id)
            _check_schema(ds, src)
            if rev.action == "replace":
                report = self._replace_rows(c, ds, src, account, now)
            else:
                report = self._upsert_rows(c, ds, src, account)
            self._advance(c, ts, "upserting", stage="upsert_complete", **report)
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        if rev.permission is not None and rev.permission != ds.audience:
            before = ds.audience
            outcome = self.workflow.change_audience(c, ds, rev.permission, account)
            after = self.store.get_dataset_by_pk(rev.ds, c).audience
            self._advance(
                c,
                ts,
                "upserting",
                stage="set_permission",
                permission=rev.permission,
                audience_before=before,
                audience_after=after,
                outcome=outcome,
            )
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        changes = {k: rev.metadata[k] for k in METADATA_KEYS if k in rev.metadata}
        if changes:
            ds.doc.update(changes)
            self.store.update_dataset(c, ds)
            self._advance(c, ts, "upserting", stage="apply_metadata", keys=sorted(changes))
        if not ds.is_published:
            c.execute(
                "UPDATE datasets SET publication_stage='published', publication_date=coalesce(publication_date, ?),"
                " metadata_updated_at=? WHERE pk=?",
                (now, now, ds.pk),
            )
            self._advance(c, ts, "upserting", stage="publish")
        c.execute("UPDATE revisions SET closed_at=? WHERE pk=?", (now, rev.pk))
        self._advance(c, ts, "finishing")
        if report is not None:
            self.stats.rows_written(ds.id, report["Rows Created"] + report["Rows Updated"] + report["Errors"], report)
        return ds.id

    def _replace_rows(self, c, ds: Dataset, src: Source, account: Account, now: float) -> dict[str, int]:
        base = c.execute("SELECT coalesce(max(sid), 0) FROM rows").fetchone()[0]
        first = c.execute("SELECT min(n) FROM staged_rows WHERE source=?", (src.id,)).fetchone()[0] or 0
        removed = c.execute("DELETE FROM rows WHERE ds=?", (ds.pk,)).rowcount
        # Fresh sids above every sid in use: every row gets a new :id, in upload order.
        created = c.execute(
            "INSERT INTO rows (sid, ds, row_key, created_at, updated_at, data)"
            " SELECT ? + n - ?, ?, row_key, ?, ?, data FROM staged_rows WHERE source=? AND bad=0 ORDER BY n",
            (base + 1, first, ds.pk, now, now, src.id),
        ).rowcount
        c.execute(
            "UPDATE datasets SET row_count=?, data_updated_at=?, rows_updated_by=? WHERE pk=?",
            (created, now, account.user_id, ds.pk),
        )
        errors = (src.error_count or 0) + (src.num_row_errors or 0)
        return {"Rows Created": created, "Rows Updated": 0, "Rows Deleted": removed, "Errors": errors}

    def _upsert_rows(self, c, ds: Dataset, src: Source, account: Account) -> dict[str, int]:
        total = Report()
        last = 0
        while True:
            page = c.execute(
                "SELECT n, data FROM staged_rows WHERE source=? AND bad=0 AND n>? ORDER BY n LIMIT ?",
                (src.id, last, STAGE_BATCH),
            ).fetchall()
            if not page:
                break
            last = page[-1][0]
            current = self.store.get_dataset_by_pk(ds.pk, c)
            rep = apply_rows(
                c, current, [json.loads(d) for _, d in page], replace=False, is_csv=False, user_id=account.user_id
            )
            for name in ("created", "updated", "deleted", "errors"):
                setattr(total, name, getattr(total, name) + getattr(rep, name))
        out = {
            "Rows Created": total.created,
            "Rows Updated": total.updated,
            "Rows Deleted": total.deleted,
            "Errors": total.errors + (src.error_count or 0) + (src.num_row_errors or 0),
        }
        return out

    # ---- restarts ----

    def recover(self) -> None:
        """Resume what a restart interrupted: parses of committed uploads, unfinished apply jobs."""
        c = self.store.conn()
        for (source_id,) in c.execute("SELECT id FROM sources WHERE state='parsing'").fetchall():
            if self.path(source_id).exists():
                threading.Thread(target=self._parse_thread, args=(source_id, threading.Event()), daemon=True).start()
            else:
                self._fail_source(source_id, SourceFailure("internal_error", "The upload was lost"))
        with self.store.writing() as c:  # one-shot bodies cut off by the restart can be sent again
            c.execute("UPDATE sources SET state='created' WHERE state='receiving' AND chunk_size IS NULL")
        for (ts_id,) in c.execute(
            "SELECT id FROM task_sets WHERE status IN ('initializing','creating_columns','upserting','finishing')"
        ).fetchall():
            self._start_job(ts_id)

    # ---- JSON ----

    def revision_json(self, ds: Dataset, rev: Revision) -> dict[str, Any]:
        base = f"{API}/revision/{ds.id}/{rev.seq}"
        resource = {
            "id": rev.pk,
            "fourfour": ds.id,
            "revision_seq": rev.seq,
            "action": {"type": rev.action, "permission": rev.permission},
            "metadata": rev.metadata,
            "notes": rev.notes,
            "output_schema_id": rev.output_schema_id,
            "blob_id": None,
            "attachments": [],
            "href": [],
            "task_sets": [self.task_set_resource(t) for t in self.task_sets(rev.pk)],
            "created_at": iso(rev.created_at),
            "created_by": rev.created_by,
            "closed_at": iso(rev.closed_at),
        }
        links = {
            "show": base,
            "update": base,
            "discard": base,
            "apply": f"{base}/apply",
            "create_source": f"{base}/source",
            "list_sources": f"{base}/source",
        }
        return {"resource": resource, "links": links}

    @staticmethod
    def task_set_resource(ts: TaskSet) -> dict[str, Any]:
        return {
            "id": ts.id,
            "status": ts.status,
            "log": ts.log,
            "created_at": iso(ts.created_at),
            "updated_at": iso(ts.updated_at),
            "finished_at": iso(ts.finished_at),
            "created_by": ts.created_by,
            "job_uuid": ts.job_uuid,
            "output_schema_id": ts.output_schema_id,
            "request_id": ts.request_id,
        }

    def task_set_json(self, ds_id: str, rev: Revision, ts: TaskSet) -> dict[str, Any]:
        return {
            "resource": self.task_set_resource(ts),
            "links": {"show": f"{API}/revision/{ds_id}/{rev.seq}/apply/{ts.id}"},
        }

    def source_json(self, src: Source) -> dict[str, Any]:
        ds, rev = self.owner(src)
        base = f"{API}/source/{src.id}"
        resource = {
            "id": src.id,
            "source_type": src.source_type,
            "parse_options": src.parse_options,
            "content_type": src.content_type,
            "created_at": iso(src.created_at),
            "created_by": src.created_by,
            "finished_at": iso(src.finished_at),
            "failed_at": iso(src.failed_at),
            "failure_details": src.failure_details,
            "filesize": src.filesize,
            "revision": {"fourfour": ds.id, "revision_seq": rev.seq},
            "schemas": [self._input_schema(src)] if src.state == "finished" else [],
        }
        links = {
            "show": base,
            "bytes": base,
            "initiate": f"{base}/initiate",
            "chunk": f"{base}/chunk/{{seq_num}}/{{byte_offset}}",
            "commit": f"{base}/chunk/{{seq_num}}/{{byte_offset}}/commit",
        }
        return {"resource": resource, "links": links}

    def _input_schema(self, src: Source) -> dict[str, Any]:
        fields = src.input_columns or []
        errors = src.column_errors or {}
        done = iso(src.finished_at)
        output_columns = []
        for col in src.columns:
            soql = SODA2_TYPE.get(col["dataTypeName"], "text")
            field = col["fieldName"]
            output_columns.append(
                {
                    "id": col["id"],
                    "field_name": field,
                    "display_name": col["name"],
                    "description": col.get("description", ""),
                    "position": col["position"] - 1,
                    "format": col.get("format") or {},
                    "initial_output_column_id": col["id"],
                    "is_primary_key": field == src.row_identifier,
                    "transform": {
                        "id": col["id"],
                        "transform_expr": f"{_TRANSFORM.get(soql, 'to_' + soql)}(`{field}`)"
                        if field in fields
                        else "null",
                        "output_soql_type": soql,
                        "finished_at": done,
                        "failed_at": None,
                        "error_count": errors.get(field, 0),
                    },
                }
            )
        rows = (src.total_rows or 0) - (src.num_row_errors or 0)
        return {
            "id": src.input_schema_id,
            "name": src.source_type.get("filename"),
            "created_at": iso(src.created_at),
            "total_rows": src.total_rows,
            "num_row_errors": src.num_row_errors,
            "input_columns": [
                {
                    "id": src.input_schema_id * 1000 + i,
                    "field_name": f,
                    "display_name": f,
                    "position": i,
                    "soql_type": "text",
                    "input_schema_id": src.input_schema_id,
                }
                for i, f in enumerate(fields)
            ],
            "output_schemas": [
                {
                    "id": src.output_schema_id,
                    "input_schema_id": src.input_schema_id,
                    "created_at": iso(src.created_at),
                    "finished_at": done,
                    "completed_at": done,
                    "total_rows": rows,
                    "error_count": src.error_count,
                    "output_columns": output_columns,
                }
            ],
        }


def _check_csv(content_type: str) -> None:
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in CSV_TYPES:
        raise SocrataError(
            415,
            "content_type.unsupported",
            f"This emulator parses CSV uploads only, not {content_type or 'an unnamed type'}",
        )


def _check_header(header: list[str] | None, types: dict[str, str]) -> list[str]:
    if not header or not any(h.strip() for h in header):
        raise SourceFailure("empty", "The file has no header row")
    fields = [h.strip() for h in header]
    dupes = sorted({f for f in fields if fields.count(f) > 1})
    if dupes:
        raise SourceFailure("duplicate_columns", f"Duplicate column names: {', '.join(dupes)}", columns=dupes)
    unknown = [f for f in fields if f not in types]
    if unknown:
        # The output schema is the dataset's columns; the emulator maps input columns to them by
        # API field name and refuses names it cannot map, rather than dropping their data.
        raise SourceFailure(
            "unknown_columns",
            f"Columns not in the dataset: {', '.join(unknown)} (the header must use API field names)",
            columns=unknown,
        )
    return fields


def _check_schema(ds: Dataset, src: Source) -> None:
    now = [(c["fieldName"], c["dataTypeName"]) for c in sorted(ds.columns, key=lambda c: c["position"])]
    then = [(c["fieldName"], c["dataTypeName"]) for c in src.columns]
    if now != then or ds.row_identifier_field != src.row_identifier:
        raise JobFailure(
            "schema_changed",
            "The dataset's columns or row identifier changed after the upload; upload again",
        )
