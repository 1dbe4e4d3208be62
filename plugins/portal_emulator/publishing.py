"""DSMAPI (``/api/publishing/v1``, reference §3.1): revisions, upload sources, output schemas
(transforms) and apply jobs.

How a replace revision stays invisible until it is applied, and then appears all at once:

* Uploaded bytes go to a file next to the state file (one-shot uploads are streamed there; chunks
  are written at their byte offset, so a retried chunk overwrites itself). Nothing is held in
  memory beyond one request body chunk.
* A worker thread parses the file into ``input_rows`` (the CSV cells, 5,000 rows per
  transaction), then evaluates the first output schema into ``output_rows``: the stored form each
  row will have plus its row key, or the row marked bad (counted as an output schema error, never
  applied). A transform (``POST /source/{id}/schema/{input_schema_id}``) makes another output
  schema, evaluated from the same input rows on its own thread. Readers never look at any of it.
* An output schema is *complete* (``completed_at``, every transform's ``error_count``) once
  evaluated, and in strict mode no sooner than ``parse_complete_seconds`` after the bytes stopped
  (the source's ``finished_at``, set at once in strict mode) or after the transform was posted.
  Only a complete output schema can be applied.
* Which columns: without ``--strict`` the first output schema mirrors the dataset's columns and
  types. In strict mode each column's type is *guessed* from the upload (the first type every
  value fits: a ZIP code "02134" becomes a number), as Socrata does. Applying an output schema
  makes it the dataset's schema: column types change (existing rows of an update revision are
  converted), new columns are added, columns it leaves out are dropped.
* Applying starts a job (TaskSet) on a thread: ``initializing``, ``creating_columns``,
  ``upserting``, ``finishing``, ``successful`` or ``failure``. The switch is ONE write transaction:
  the schema changed, the old rows deleted, the output rows copied in with fresh sids (new
  ``:id`` s, above every sid in use), ``row_count``/``dataUpdatedAt`` set, the audience set from
  the revision's permission, the revision closed and the job moved to ``finishing``. SQLite in
  WAL mode gives every read transaction one snapshot, so ``GET /resource`` serves the whole old
  version until the commit and the whole new one after it. A failure rolls everything back.
* In strict mode, with approvals, applying a revision to a public dataset is held for approval
  (``approval_submitted``); the job starts when a reviewer approves (see approvals.py).
* Jobs, parses and evaluations that a restart interrupted are resumed at start-up; the switch
  either committed (the job is at ``finishing``) or did not happen at all.

Errors use the Socrata shape of the rest of the emulator (``{"code","error","message","data"}``);
the publishing API documents no error body of its own. Failures that happen after the request
(a source that cannot be parsed, a job that fails) are reported the DSMAPI way, on the resource:
``failed_at`` + ``failure_details {type, message}`` on a source, a ``failure`` log entry on a job.

The records and their reads are in revision_records.py and revision_reads.py (``self.reads``), the
JSON answers in revision_render.py (``self.render``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import sqlite3
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from .approvals import Workflow
from .config import Account, EmulatorConfig
from .datatypes import (
    BadValue,
    TypeGuesser,
    compile_transform,
    function_expr,
    normalize_text,
    normalizer,
    soql_type,
    to_csv_cell,
    view_type,
)
from .errors import SocrataError, bad_request
from .revision_reads import RevisionReads
from .revision_records import (
    FIELD_NAME,
    REV_COLS,
    RUNNING,
    STAGE_BATCH,
    JobFailure,
    OutputSchema,
    Revision,
    Source,
    SourceFailure,
    TaskSet,
    advance,
    conflict,
    creator,
    decode_revision,
    dumps,
    iso,
)
from .revision_render import RevisionRender
from .rows import Report, apply_rows, key_of, rekey
from .stats import Stats
from .store import Approval, Dataset, Store

log = logging.getLogger("portal_emulator.publishing")

ACTIONS = ("replace", "update")
PERMISSIONS = ("public", "private")
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
# Revision metadata keys an apply copies onto the view (the rest of the metadata is kept as sent).
METADATA_KEYS = ("name", "description", "category", "tags", "attribution", "attributionLink", "licenseId")
FIRST_OUTPUT_COLUMN_ID = 7_000_000


class Publishing:
    """The DSMAPI state machine over the store; routes stay thin."""

    def __init__(self, store: Store, config: EmulatorConfig, stats: Stats, workflow: Workflow):
        self.store = store
        self.config = config
        self.stats = stats
        self.workflow = workflow
        self.reads = RevisionReads(store, workflow)
        self.render = RevisionRender(self.reads)
        workflow.revisions = self  # an approved held revision comes back here to be applied
        self.uploads = Path(config.uploads_dir)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._parsing: dict[int, threading.Event] = {}
        self._guard = threading.Lock()

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
            ds = self.reads.dataset(dataset_id, c)
            seq = c.execute("SELECT coalesce(max(seq), 0) + 1 FROM revisions WHERE ds=?", (ds.pk,)).fetchone()[0]
            pk = self.store.next_counter(c, "revision_id", 41000)
            c.execute(
                "INSERT INTO revisions (pk, ds, seq, action, permission, metadata, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (pk, ds.pk, seq, kind, permission, json.dumps(metadata), time.time(), json.dumps(creator(account))),
            )
            _, rev = self.reads.revision(dataset_id, seq, c)
        self.stats.revision(dataset_id, opened=1)
        return ds, rev

    def update_revision(self, dataset_id: str, seq: int, body: Any) -> Revision:
        if not isinstance(body, dict):
            raise bad_request("Send a JSON object with metadata, notes or output_schema_id")
        with self.store.writing() as c:
            ds, rev = self.reads.revision(dataset_id, seq, c)
            self.reads.check_open(c, ds, rev)
            sets: dict[str, Any] = {}
            if "metadata" in body:
                if not isinstance(body["metadata"], dict):
                    raise bad_request("metadata must be an object")
                sets["metadata"] = json.dumps({**rev.metadata, **body["metadata"]})
            if "notes" in body:
                sets["notes"] = None if body["notes"] is None else str(body["notes"])
            if "output_schema_id" in body:
                # Any output schema of the revision; whether it is complete matters when applying.
                sets["output_schema_id"] = self.reads.revision_output_schema(c, rev, body["output_schema_id"]).id
            if sets:
                assignments = ", ".join(f"{k}=?" for k in sets)
                c.execute(f"UPDATE revisions SET {assignments} WHERE pk=?", (*sets.values(), rev.pk))
            return self.reads.revision(dataset_id, seq, c)[1]

    def discard(self, dataset_id: str, seq: int) -> Revision:
        with self.store.writing() as c:
            ds, rev = self.reads.revision(dataset_id, seq, c)
            jobs = self.reads.task_sets(rev.pk, c)
            if any(j.status in RUNNING for j in jobs):
                raise conflict("revision.apply_in_progress", "The revision is being applied", {"revision_seq": seq})
            if rev.closed_at is not None:
                if any(j.status == "successful" for j in jobs):
                    raise conflict("revision.closed", "The revision was applied and cannot be discarded")
                return rev  # already discarded: discarding again changes nothing
            held = self.workflow.pending_revision(c, ds, seq)
            if held is not None:  # a discarded draft leaves the approval queue with it
                c.execute("DELETE FROM approvals WHERE submission_id=?", (held.submission_id,))
            c.execute("UPDATE revisions SET closed_at=? WHERE pk=?", (time.time(), rev.pk))
            sources = self.reads.sources(rev.pk, c)
        self._drop_staged(sources)
        self.stats.revision(dataset_id, discarded=1)
        return self.reads.revision(dataset_id, seq)[1]

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
            ds, rev = self.reads.revision(dataset_id, seq, c)
            self.reads.check_open(c, ds, rev)
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
            src = self.reads.source(source_id, c)
        self.stats.revision(dataset_id, sources=1)
        return src

    def _open_source(self, c, source_id: int, states: tuple[str, ...]) -> tuple[Dataset, Revision, Source]:
        src = self.reads.source(source_id, c)
        ds, rev = self.reads.owner(src, c)
        self.reads.check_open(c, ds, rev)
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
            src = self.reads.source(source_id, c)
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
            self._bytes_stopped(c, source_id, total)
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
                return self.reads.source(source_id, c)
            self._bytes_stopped(c, source_id, size)
            ds, _ = self.reads.owner(self.reads.source(source_id, c), c)
        self.stats.revision(ds.id, bytes_uploaded=size)
        return self.start_parse(source_id)

    def _bytes_stopped(self, c, source_id: int, size: int) -> None:
        """The upload is whole; parsing starts. ``finished_at`` means "bytes stopped flowing"
        (publishing.json), so strict mode sets it now, before the parse; otherwise it is set when
        the parse is done, so a client that waits for it always finds the schema complete."""
        finished = time.time() if self.config.strict else None
        c.execute(
            "UPDATE sources SET state='parsing', filesize=?, finished_at=? WHERE id=?", (size, finished, source_id)
        )

    def add_to_revision(self, source_id: int, body: Any) -> Source:
        """``PATCH /source/{id}`` (socrata-py ``Source.add_to_revision`` sends ``{"revision": {...}}``,
        publishing.json documents the two keys at the top level): move the source to another open
        revision of the same dataset (its columns were taken from that dataset)."""
        target = body.get("revision", body) if isinstance(body, dict) else None
        if not isinstance(target, dict) or not target.get("fourfour") or target.get("revision_seq") is None:
            raise bad_request('Send {"revision": {"fourfour": ..., "revision_seq": ...}}')
        with self.store.writing() as c:
            src = self.reads.source(source_id, c)
            ds, rev = self.reads.owner(src, c)
            new_ds, new_rev = self.reads.revision(str(target["fourfour"]), int(target["revision_seq"]), c)
            if new_ds.pk != ds.pk:
                raise bad_request(
                    "A source can only move to another revision of the dataset it was made for",
                    code="source.revision_invalid",
                )
            if new_rev.pk != rev.pk:
                self.reads.check_open(c, new_ds, new_rev)
                c.execute("UPDATE sources SET revision=? WHERE id=?", (new_rev.pk, source_id))
            return self.reads.source(source_id, c)

    def start_parse(self, source_id: int) -> Source:
        with self._guard:
            done = self._parsing.get(source_id)
            if done is None:
                done = self._parsing[source_id] = threading.Event()
                threading.Thread(
                    target=self._parse_thread, args=(source_id, done), name=f"parse-{source_id}", daemon=True
                ).start()
        done.wait(self.config.sync_parse_seconds)
        return self.reads.source(source_id)

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
        """Stage the upload's rows, build the first output schema, evaluate it; then the source is
        ``finished`` (its input schema shows)."""
        src = self.reads.source(source_id)
        ds, _ = self.reads.owner(src)
        self._clear_source_rows(source_id)  # an interrupted earlier parse may have staged some
        try:
            with open(self.path(source_id), "rb") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                inputs, total, row_errors = self._stage_file(src, text)
        except UnicodeDecodeError:
            return self._fail_source(source_id, SourceFailure("encoding", "The file is not UTF-8 text"))
        except csv.Error as exc:
            return self._fail_source(source_id, SourceFailure("parse_error", f"The CSV could not be parsed: {exc}"))
        except SourceFailure as failure:
            return self._fail_source(source_id, failure)
        with self.store.writing() as c:
            c.execute(
                "UPDATE sources SET input_columns=?, total_rows=?, num_row_errors=? WHERE id=?",
                (json.dumps(inputs), total, row_errors, source_id),
            )
            src = self.reads.source(source_id, c)
            self._insert_output_schema(c, src, self._first_columns(c, src), src.created_by, src.output_schema_id)
        output = self._evaluate(src.output_schema_id)
        self.path(source_id).unlink(missing_ok=True)
        bad = (output.error_count or 0) + row_errors
        self.stats.revision(ds.id, rows_staged=total - bad, row_errors=bad)
        log.info("source %s parsed: %d rows, %d errors", source_id, total, bad)

    def _stage_file(self, src: Source, text) -> tuple[list[dict[str, Any]], int, int]:
        """Stage the CSV's records as input rows, 5,000 per transaction; returns the input columns
        (with their soql types: guessed in strict mode, else text), the row count and the count of
        records of the wrong width (``num_row_errors``, never staged)."""
        reader = csv.reader(text)
        header = next(reader, None)
        fields, names = _check_header(header, None if self.config.strict else {c["fieldName"] for c in src.columns})
        width = len(fields)
        guesser = TypeGuesser(width) if self.config.strict else None
        total = row_errors = 0
        batch: list[tuple] = []
        for cells in reader:
            if not cells or (width > 1 and len(cells) == 1 and cells[0] == ""):
                continue  # remove_empty_rows
            total += 1
            if len(cells) != width:
                row_errors += 1
                continue
            if guesser is not None:
                guesser.see(cells)
            batch.append((src.id, dumps(cells)))
            if len(batch) >= STAGE_BATCH:
                self._stage_inputs(batch)
                batch = []
        if batch:
            self._stage_inputs(batch)
        types = guesser.types() if guesser is not None else ["text"] * width
        inputs = [
            {"field_name": f, "display_name": n, "soql_type": t} for f, n, t in zip(fields, names, types, strict=True)
        ]
        return inputs, total, row_errors

    def _stage_inputs(self, batch: list[tuple]) -> None:
        with self.store.writing() as c:
            c.executemany("INSERT INTO input_rows (source, cells) VALUES (?, ?)", batch)

    def _first_columns(self, c, src: Source) -> list[dict[str, Any]]:
        """The output schema an upload gets. Without --strict: the dataset's columns with their
        types (what the emulator always did). Strict: each uploaded column with the type guessed
        from its values, as Socrata does, then the dataset's columns the upload lacks (null, their
        type kept) and the upload's columns the dataset lacks (new columns once applied)."""
        inputs = src.input_types()
        out = []
        for col in src.columns:  # position order
            field = col["fieldName"]
            dataset_type = soql_type(col["dataTypeName"])
            output_type = inputs[field] if self.config.strict and field in inputs else dataset_type
            out.append(
                self._output_column(
                    c,
                    field_name=field,
                    display_name=col["name"],
                    description=col.get("description", ""),
                    fmt=col.get("format") or {},
                    expr=function_expr(output_type, field) if field in inputs else "null",
                    output_type=output_type,
                    is_primary_key=field == src.row_identifier,
                    initial_id=col["id"],
                    dataset_column_id=col["id"],
                )
            )
        known = {col["fieldName"] for col in src.columns}
        for item in src.input_columns or []:
            if item["field_name"] not in known:  # strict only: the header check refuses them otherwise
                out.append(
                    self._output_column(
                        c,
                        field_name=item["field_name"],
                        display_name=item["display_name"],
                        description="",
                        fmt={},
                        expr=function_expr(item["soql_type"], item["field_name"]),
                        output_type=item["soql_type"],
                        is_primary_key=False,
                        initial_id=None,
                        dataset_column_id=None,
                    )
                )
        for position, col in enumerate(out):
            col["position"] = position
        return out

    def _output_column(
        self,
        c,
        *,
        field_name: str,
        display_name: str,
        description: str,
        fmt: dict[str, Any],
        expr: str,
        output_type: str,
        is_primary_key: bool,
        initial_id: int | None,
        dataset_column_id: int | None,
        position: int = 0,
    ) -> dict[str, Any]:
        """One stored output column. ``dataset_column_id`` (never shown) is the dataset column it
        becomes when applied, None for a new column."""
        column_id = self.store.next_counter(c, "output_column_id", FIRST_OUTPUT_COLUMN_ID)
        return {
            "id": column_id,
            "field_name": field_name,
            "display_name": display_name,
            "description": description,
            "position": position,
            "format": fmt,
            "is_primary_key": is_primary_key,
            "initial_output_column_id": initial_id,
            "dataset_column_id": dataset_column_id,
            "transform": {"id": column_id, "transform_expr": expr, "output_soql_type": output_type},
        }

    def _insert_output_schema(
        self, c, src: Source, columns: list[dict[str, Any]], created_by: dict[str, Any], output_schema_id: int
    ) -> None:
        c.execute(
            "INSERT INTO output_schemas (id, source, input_schema_id, columns, created_at, created_by, state)"
            " VALUES (?, ?, ?, ?, ?, ?, 'evaluating')",
            (output_schema_id, src.id, src.input_schema_id, json.dumps(columns), time.time(), json.dumps(created_by)),
        )

    # ---- output schemas: transforms and their evaluation ----

    def transform(
        self, source_id: int, input_schema_id: int, body: Any, account: Account, increment_revision: bool
    ) -> OutputSchema:
        """``POST /source/{id}/schema/{input_schema_id}`` (socrata-py ``InputSchema.transform``,
        ``OutputSchema.run``): a new output schema from ``output_columns``, evaluated on a thread.
        ``increment_revision`` (default true) makes it the one the revision applies."""
        if not isinstance(body, dict) or not isinstance(body.get("output_columns"), list) or not body["output_columns"]:
            raise bad_request(
                'Send {"output_columns": [{"field_name", "display_name", "position", "transform": '
                '{"transform_expr"}}, ...]}',
                code="output_schema.invalid",
            )
        with self.store.writing() as c:
            src = self.reads.input_schema(source_id, input_schema_id, c)
            ds, rev = self.reads.owner(src, c)
            self.reads.check_open(c, ds, rev)
            derived = self._derivations(c, src)
            columns = [self._posted_column(c, src, spec, i, derived) for i, spec in enumerate(body["output_columns"])]
            _check_output_columns(columns)
            output_schema_id = self.store.next_counter(c, "schema_id", 15398)
            self._insert_output_schema(c, src, columns, creator(account), output_schema_id)
            if increment_revision:
                c.execute("UPDATE revisions SET output_schema_id=? WHERE pk=?", (output_schema_id, rev.pk))
        self._start_evaluation(output_schema_id)
        return self.reads.output_schema(output_schema_id)

    def _derivations(self, c, src: Source) -> dict[int, dict[str, Any]]:
        """Output column ids of this source's output schemas (and the dataset column ids they came
        from) -> the column: what a posted column's ``id`` / ``initial_output_column_id`` names."""
        found: dict[int, dict[str, Any]] = {}
        for col in src.columns:
            found[col["id"]] = {
                "dataset_column_id": col["id"],
                "is_primary_key": col["fieldName"] == src.row_identifier,
            }
        for schema in self.reads.output_schemas(src.id, c):
            for col in schema.columns:
                found[col["id"]] = col
        return found

    def _posted_column(
        self, c, src: Source, spec: Any, index: int, derived: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise bad_request("Each output column must be an object", code="output_schema.invalid")
        field = spec.get("field_name")
        if not isinstance(field, str) or not FIELD_NAME.match(field):
            raise bad_request(f"Invalid output column field_name {field!r}", code="output_schema.invalid")
        transform = spec.get("transform") if isinstance(spec.get("transform"), dict) else {}
        expr = transform.get("transform_expr")
        # A column derived from another (socrata-py sends initial_output_column_id for a changed
        # column and the unchanged ones with their id), else the dataset column of that name.
        base = derived.get(spec.get("initial_output_column_id")) or derived.get(spec.get("id"))
        if base is None:
            base = next((derived[col["id"]] for col in src.columns if col["fieldName"] == field), None)
        null_type = transform.get("output_soql_type") or (base or {}).get("transform", {}).get("output_soql_type")
        try:
            compiled = compile_transform(expr, src.input_types(), null_type or "text")
        except ValueError as exc:
            raise bad_request(
                str(exc), code="transform.invalid", data={"field_name": field, "transform_expr": expr}
            ) from None
        primary = spec.get("is_primary_key")
        position = spec.get("position", index)
        if not isinstance(position, int | float):
            raise bad_request(f"Output column {field} has a non-numeric position", code="output_schema.invalid")
        return self._output_column(
            c,
            field_name=field,
            display_name=str(spec.get("display_name") or field),
            description=str(spec.get("description") or ""),
            fmt=spec.get("format") if isinstance(spec.get("format"), dict) else {},
            expr=compiled.expr,
            output_type=compiled.output_type,
            # Not named: as the column it derives from (inferred; socrata-py always sends it).
            is_primary_key=bool(primary) if primary is not None else bool((base or {}).get("is_primary_key")),
            initial_id=spec.get("initial_output_column_id") or spec.get("id"),
            dataset_column_id=(base or {}).get("dataset_column_id"),
            position=position,
        )

    def _start_evaluation(self, output_schema_id: int) -> None:
        threading.Thread(
            target=self._evaluation_thread, args=(output_schema_id,), name=f"transform-{output_schema_id}", daemon=True
        ).start()

    def _evaluation_thread(self, output_schema_id: int) -> None:
        try:
            self._evaluate(output_schema_id)
        except Exception:  # noqa: BLE001 - an output schema must end in a state, whatever happened
            log.exception("evaluating output schema %s failed", output_schema_id)
            with self.store.writing() as c:  # completed_at holds when it failed
                c.execute(
                    "UPDATE output_schemas SET state='failed', completed_at=? WHERE id=?",
                    (time.time(), output_schema_id),
                )

    def _evaluate(self, output_schema_id: int) -> OutputSchema:
        """Run the output schema's transforms over the input rows into output rows, 5,000 per
        transaction, then record its counts and when it shows as complete. The first output schema
        of an upload also finishes its source."""
        schema = self.reads.output_schema(output_schema_id)
        src = self.reads.source(schema.source)
        ds, rev = self.reads.owner(src)
        with self.store.writing() as c:  # an interrupted earlier evaluation may have written some
            c.execute("DELETE FROM output_rows WHERE output_schema=?", (output_schema_id,))
        plan = _Plan(schema, src, keep_nulls=rev.action == "update")
        last = 0
        while True:
            page = (
                self.store.conn()
                .execute(
                    "SELECT n, cells FROM input_rows WHERE source=? AND n>? ORDER BY n LIMIT ?",
                    (src.id, last, STAGE_BATCH),
                )
                .fetchall()
            )
            if not page:
                break
            last = page[-1][0]
            out = [(output_schema_id, *plan.row(json.loads(cells))) for _, cells in page]
            with self.store.writing() as c:
                c.executemany("INSERT INTO output_rows (output_schema, row_key, bad, data) VALUES (?, ?, ?, ?)", out)
        now = time.time()
        first = output_schema_id == src.output_schema_id
        # Strict: complete no sooner than the delay after the bytes stopped (the first schema) or
        # after the transform was posted; a client applying as soon as finished_at appears fails.
        started = (src.finished_at or now) if first else schema.created_at
        completed = max(now, started + self.config.parse_complete_seconds) if self.config.strict else now
        with self.store.writing() as c:
            c.execute(
                "UPDATE output_schemas SET state='evaluated', completed_at=?, total_rows=?, error_count=?,"
                " column_errors=? WHERE id=?",
                (completed, plan.rows, plan.bad_rows, json.dumps(plan.column_errors), output_schema_id),
            )
            if first:
                c.execute(
                    "UPDATE sources SET state='finished', finished_at=coalesce(finished_at, ?) WHERE id=?",
                    (now, src.id),
                )
                # The latest parsed upload is what the revision applies unless told otherwise.
                c.execute(
                    "UPDATE revisions SET output_schema_id=? WHERE pk=? AND closed_at IS NULL",
                    (output_schema_id, rev.pk),
                )
        return self.reads.output_schema(output_schema_id)

    def _fail_source(self, source_id: int, failure: JobFailure) -> None:
        self._clear_source_rows(source_id)
        with self.store.writing() as c:
            c.execute(
                "UPDATE sources SET state='failed', failed_at=?, failure_details=? WHERE id=?",
                (
                    time.time(),
                    json.dumps({"type": failure.kind, "message": failure.message, **failure.details}),
                    source_id,
                ),
            )
        self.path(source_id).unlink(missing_ok=True)

    def _clear_source_rows(self, source_id: int) -> None:
        """Forget a source's parse: its input rows, output schemas and their rows."""
        with self.store.writing() as c:
            c.execute("DELETE FROM input_rows WHERE source=?", (source_id,))
            c.execute(
                "DELETE FROM output_rows WHERE output_schema IN (SELECT id FROM output_schemas WHERE source=?)",
                (source_id,),
            )
            c.execute("DELETE FROM output_schemas WHERE source=?", (source_id,))

    def _drop_staged(self, sources: list[Source]) -> None:
        """Once a revision is applied or discarded its rows are not needed; the schemas stay."""
        for src in sources:
            with self.store.writing() as c:
                c.execute("DELETE FROM input_rows WHERE source=?", (src.id,))
                c.execute(
                    "DELETE FROM output_rows WHERE output_schema IN (SELECT id FROM output_schemas WHERE source=?)",
                    (src.id,),
                )
            self.path(src.id).unlink(missing_ok=True)

    # ---- applying ----

    def _ready_output_schema(self, c, rev: Revision, output_schema_id: Any) -> OutputSchema:
        """The output schema to apply, which must be complete: applying one that is still being
        evaluated (strict: before its ``completed_at``) is refused, never silently waited for."""
        schema = self.reads.revision_output_schema(c, rev, output_schema_id)
        if not schema.complete():
            state = "failed" if schema.state == "failed" else "not complete yet (completed_at is null)"
            raise conflict(
                "output_schema.not_ready",
                f"Output schema {schema.id} is {state}; wait for its completed_at before applying",
                {"output_schema_id": schema.id},
            )
        return schema

    def apply(
        self, dataset_id: str, seq: int, body: Any, account: Account, request_id: str | None
    ) -> tuple[Revision, TaskSet | None, Approval | None]:
        """Start the apply job, or (strict mode, a public dataset, approvals on) hold the revision
        for a reviewer: then the answer is the submission and no job exists until it is approved."""
        body = body if isinstance(body, dict) else {}
        with self.store.writing() as c:
            ds, rev = self.reads.revision(dataset_id, seq, c)
            held = self.workflow.pending_revision(c, ds, seq)
            if held is not None:  # applying again while it waits: the same submission
                return rev, None, held
            self.reads.check_open(c, ds, rev)  # inside the write lock: two applies can never both start
            wanted = body.get("output_schema_id", rev.output_schema_id)
            if wanted is not None:
                wanted = self._ready_output_schema(c, rev, wanted).id
            else:
                busy = [s.id for s in self.reads.sources(rev.pk, c) if s.state in ("created", "receiving", "parsing")]
                if busy:
                    raise conflict(
                        "source.not_ready",
                        "A source of this revision is still being uploaded or parsed",
                        {"sources": busy},
                    )
            if wanted is not None:
                c.execute("UPDATE revisions SET output_schema_id=? WHERE pk=?", (wanted, rev.pk))
            if self.workflow.holds_applies(ds):
                held = self.workflow.hold_revision(c, ds, seq, account)
                return self.reads.revision(dataset_id, seq, c)[1], None, held
            ts_id = self._new_job(c, rev, wanted, creator(account), request_id)
        self.start_job(ts_id)
        rev, ts = self.reads.task_set(dataset_id, seq, ts_id)
        return rev, ts, None

    def _new_job(
        self, c, rev: Revision, output_schema_id: int | None, created_by: dict[str, Any], request_id: str | None
    ) -> int:
        now = time.time()
        ts_id = self.store.next_counter(c, "task_set_id", 60000)
        entry = {"stage": "initializing", "time": iso(now), "details": {}}
        c.execute(
            "INSERT INTO task_sets (id, revision, output_schema_id, status, log, created_at, updated_at,"
            " created_by, job_uuid, request_id) VALUES (?, ?, ?, 'initializing', ?, ?, ?, ?, ?, ?)",
            (
                ts_id,
                rev.pk,
                output_schema_id,
                json.dumps([entry]),
                now,
                now,
                json.dumps(created_by),
                str(uuid.uuid4()),
                request_id,
            ),
        )
        return ts_id

    def approved(self, c, approval: Approval) -> int:
        """A reviewer approved a held revision (inside the review's transaction): its apply job,
        run as the publisher who applied it, on the output schema chosen then."""
        row = c.execute(
            f"SELECT {REV_COLS} FROM revisions WHERE ds=? AND seq=?", (approval.ds, approval.revision_seq)
        ).fetchone()
        rev = decode_revision(row)
        if rev.closed_at is not None:
            raise conflict("revision.closed", "The revision was closed while it waited for approval")
        submitter = {"user_id": approval.submitter_id, "display_name": approval.submitter_name, "email": None}
        return self._new_job(c, rev, rev.output_schema_id, submitter, None)

    def start_job(self, ts_id: int) -> None:
        threading.Thread(target=self._run_job, args=(ts_id,), name=f"apply-{ts_id}", daemon=True).start()

    def _step(self, ts_id: int, status: str, **details: Any) -> None:
        time.sleep(self.config.apply_stage_seconds)
        with self.store.writing() as c:
            advance(c, self.reads.job(c, ts_id), status, **details)

    def _run_job(self, ts_id: int) -> None:
        with self.store.writing() as c:
            status = self.reads.job(c, ts_id).status
        dataset_id = "?"
        try:
            if status in ("initializing", "creating_columns", "upserting"):
                self._step(ts_id, "creating_columns")
                self._step(ts_id, "upserting")
                time.sleep(self.config.apply_stage_seconds)
                dataset_id = self._switch(ts_id)
            time.sleep(self.config.apply_stage_seconds)
            with self.store.writing() as c:
                ts = self.reads.job(c, ts_id)
                advance(c, ts, "successful")
                rev = self.reads.revision_by_pk(c, ts.revision)
                sources = self.reads.sources(rev.pk, c)
                ds = self.store.get_dataset_by_pk(rev.ds, c)
                self.workflow.outcome_done(c, ds, rev.seq, ok=True)
                dataset_id = ds.id
            self._drop_staged(sources)
            self.stats.revision(dataset_id, applied=1)
        except JobFailure as failure:
            self._fail_job(ts_id, failure)
        except Exception:  # noqa: BLE001 - a job must end in a state, whatever happened
            log.exception("apply job %s failed", ts_id)
            self._fail_job(ts_id, JobFailure("internal_error", "Internal error while applying the revision"))

    def _fail_job(self, ts_id: int, failure: JobFailure) -> None:
        with self.store.writing() as c:
            ts = self.reads.job(c, ts_id)
            advance(c, ts, "failure", message=failure.message, type=failure.kind, **failure.details)
            rev = self.reads.revision_by_pk(c, ts.revision)
            ds = self.store.get_dataset_by_pk(rev.ds, c)
            self.workflow.outcome_done(c, ds, rev.seq, ok=False)
            dataset_id = ds.id
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
        ts = self.reads.job(c, ts_id)
        if ts.status not in RUNNING or ts.status == "finishing":
            raise JobFailure("internal_error", f"job is {ts.status}")
        rev = self.reads.revision_by_pk(c, ts.revision)
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        account = self.config.accounts.get(ts.created_by.get("display_name")) or Account(
            ts.created_by.get("display_name") or "unknown", "-", "publisher"
        )
        now = time.time()
        report: dict[str, int] | None = None
        if ts.output_schema_id is not None:
            schema = self.reads.output_schema(ts.output_schema_id, c)
            src = self.reads.source(schema.source, c)
            _check_schema(ds, src)
            changed = self._apply_schema(c, ds, schema, convert=rev.action == "update")
            if changed:
                advance(c, ts, "creating_columns", stage="apply_schema", **changed)
            ds = self.store.get_dataset_by_pk(rev.ds, c)
            if rev.action == "replace":
                report = self._replace_rows(c, ds, src, schema, account, now)
            else:
                report = self._upsert_rows(c, ds, src, schema, account)
            advance(c, ts, "upserting", stage="upsert_complete", **report)
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        if rev.permission is not None and rev.permission != ds.audience:
            before = ds.audience
            outcome = self.workflow.change_audience(c, ds, rev.permission, account)
            after = self.store.get_dataset_by_pk(rev.ds, c).audience
            advance(c, ts,
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
            advance(c, ts, "upserting", stage="apply_metadata", keys=sorted(changes))
        if not ds.is_published:
            c.execute(
                "UPDATE datasets SET publication_stage='published', publication_date=coalesce(publication_date, ?),"
                " metadata_updated_at=? WHERE pk=?",
                (now, now, ds.pk),
            )
            advance(c, ts, "upserting", stage="publish")
        c.execute("UPDATE revisions SET closed_at=? WHERE pk=?", (now, rev.pk))
        advance(c, ts, "finishing")
        if report is not None:
            self.stats.rows_written(ds.id, report["Rows Created"] + report["Rows Updated"] + report["Errors"], report)
        return ds.id

    def _apply_schema(self, c, ds: Dataset, schema: OutputSchema, convert: bool) -> dict[str, Any] | None:
        """Make the output schema the dataset's schema, as applying does on Socrata: each output
        column becomes (or updates) a dataset column with its type, name and description; dataset
        columns it leaves out are dropped; its primary key is the row identifier. An update keeps
        the existing rows, so they are converted (a value the new type refuses becomes null).
        Returns what changed for the job log, None when nothing did."""
        old = {col["id"]: col for col in ds.columns}
        columns = []
        for position, out in enumerate(schema.ordered(), start=1):
            data_type = view_type(out["transform"]["output_soql_type"])
            base = old.get(out.get("dataset_column_id"))
            col = dict(base) if base else {"id": self.store.next_counter(c, "column_id", 230641050), "format": {}}
            col["tableColumnId"] = col.get("tableColumnId", col["id"])
            col.update(
                name=out["display_name"],
                fieldName=out["field_name"],
                description=out.get("description") or "",
                dataTypeName=data_type,
                renderTypeName=data_type,
                position=position,
            )
            if out.get("format"):
                col["format"] = out["format"]
            columns.append(col)
        key = schema.primary_key
        key_id = next((col["id"] for col in columns if col["fieldName"] == key), None)
        if columns == sorted(ds.columns, key=lambda col: col["position"]) and key_id == ds.doc.get(
            "rowIdentifierColumnId"
        ):
            return None
        kept = {col["id"] for col in columns}
        changed: dict[str, Any] = {
            "columns_added": [col["fieldName"] for col in columns if col["id"] not in old],
            "columns_dropped": [col["fieldName"] for col in ds.columns if col["id"] not in kept],
            "types_changed": {
                col["fieldName"]: f"{old[col['id']]['dataTypeName']} -> {col['dataTypeName']}"
                for col in columns
                if col["id"] in old and old[col["id"]]["dataTypeName"] != col["dataTypeName"]
            },
            "row_identifier": key,
        }
        if convert:
            changed["values_not_converted"] = self._convert_rows(c, ds, columns)
        ds.doc["columns"] = columns
        ds.doc["rowIdentifierColumnId"] = key_id
        self.store.update_dataset(c, ds)
        if convert:
            try:
                rekey(c, self.store.get_dataset_by_pk(ds.pk, c), key)
            except SocrataError as exc:
                raise JobFailure("row_identifier.invalid", exc.message) from None
        return changed

    def _convert_rows(self, c, ds: Dataset, columns: list[dict[str, Any]]) -> int:
        """Rewrite the existing rows for the new columns (renamed, retyped, dropped); returns how
        many values the new type refused (they are nulled)."""
        old = {col["id"]: col for col in ds.columns}
        plan = []
        for col in columns:
            before = old.get(col["id"])
            if before is not None:
                same = before["dataTypeName"] == col["dataTypeName"]
                plan.append((before["fieldName"], col["fieldName"], None if same else normalizer(col["dataTypeName"])))
        lost = 0
        last = 0
        while True:
            page = c.execute(
                "SELECT sid, data FROM rows WHERE ds=? AND sid>? ORDER BY sid LIMIT ?", (ds.pk, last, STAGE_BATCH)
            ).fetchall()
            if not page:
                return lost
            last = page[-1][0]
            updates = []
            for sid, data in page:
                row = json.loads(data)
                new = {}
                for before, after, convert in plan:
                    value = row.get(before)
                    if value is None:
                        continue
                    if convert is not None:
                        try:
                            value = convert(to_csv_cell(value))
                        except BadValue:
                            lost += 1
                            continue
                    new[after] = value
                if new != row:
                    updates.append((dumps(new), sid))
            c.executemany("UPDATE rows SET data=? WHERE sid=?", updates)

    def _replace_rows(
        self, c, ds: Dataset, src: Source, schema: OutputSchema, account: Account, now: float
    ) -> dict[str, int]:
        base = c.execute("SELECT coalesce(max(sid), 0) FROM rows").fetchone()[0]
        first = c.execute("SELECT min(n) FROM output_rows WHERE output_schema=?", (schema.id,)).fetchone()[0] or 0
        removed = c.execute("DELETE FROM rows WHERE ds=?", (ds.pk,)).rowcount
        # Fresh sids above every sid in use: every row gets a new :id, in upload order.
        created = c.execute(
            "INSERT INTO rows (sid, ds, row_key, created_at, updated_at, data)"
            " SELECT ? + n - ?, ?, row_key, ?, ?, data FROM output_rows WHERE output_schema=? AND bad=0 ORDER BY n",
            (base + 1, first, ds.pk, now, now, schema.id),
        ).rowcount
        c.execute(
            "UPDATE datasets SET row_count=?, data_updated_at=?, rows_updated_by=? WHERE pk=?",
            (created, now, account.user_id, ds.pk),
        )
        errors = (schema.error_count or 0) + (src.num_row_errors or 0)
        return {"Rows Created": created, "Rows Updated": 0, "Rows Deleted": removed, "Errors": errors}

    def _upsert_rows(self, c, ds: Dataset, src: Source, schema: OutputSchema, account: Account) -> dict[str, int]:
        total = Report()
        last = 0
        while True:
            page = c.execute(
                "SELECT n, data FROM output_rows WHERE output_schema=? AND bad=0 AND n>? ORDER BY n LIMIT ?",
                (schema.id, last, STAGE_BATCH),
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
        return {
            "Rows Created": total.created,
            "Rows Updated": total.updated,
            "Rows Deleted": total.deleted,
            "Errors": total.errors + (schema.error_count or 0) + (src.num_row_errors or 0),
        }

    # ---- restarts ----

    def recover(self) -> None:
        """Resume what a restart interrupted: parses of committed uploads, evaluations of posted
        transforms, unfinished apply jobs."""
        c = self.store.conn()
        for (source_id,) in c.execute("SELECT id FROM sources WHERE state='parsing'").fetchall():
            if self.path(source_id).exists():
                threading.Thread(target=self._parse_thread, args=(source_id, threading.Event()), daemon=True).start()
            else:
                self._fail_source(source_id, SourceFailure("internal_error", "The upload was lost"))
        for (schema_id,) in c.execute(
            "SELECT o.id FROM output_schemas o JOIN sources s ON s.id=o.source"
            " WHERE o.state='evaluating' AND s.state='finished'"
        ).fetchall():
            self._start_evaluation(schema_id)
        with self.store.writing() as c:  # one-shot bodies cut off by the restart can be sent again
            c.execute("UPDATE sources SET state='created' WHERE state='receiving' AND chunk_size IS NULL")
        for (ts_id,) in c.execute(
            "SELECT id FROM task_sets WHERE status IN ('initializing','creating_columns','upserting','finishing')"
        ).fetchall():
            self.start_job(ts_id)

class _Plan:
    """How an output schema turns one input row (its cells) into the stored row, counting errors."""

    def __init__(self, schema: OutputSchema, src: Source, keep_nulls: bool):
        index = {c["field_name"]: i for i, c in enumerate(src.input_columns or [])}
        types = src.input_types()
        self.columns: list[tuple[str, int | None, Any]] = []
        for col in schema.ordered():
            t = compile_transform(col["transform"]["transform_expr"], types, col["transform"]["output_soql_type"])
            self.columns.append(
                (col["field_name"], None, None)
                if t.column is None
                else (col["field_name"], index[t.column], t.function())
            )
        self.key = schema.primary_key
        # An update keeps empty cells as nulls (they clear the cell); a replace stores none.
        self.keep_nulls = keep_nulls
        self.rows = self.bad_rows = 0
        self.column_errors: Counter[str] = Counter()

    def row(self, cells: list[str]) -> tuple[str | None, int, str]:
        """(row key, bad, stored JSON): the row's values, or its cells with the errors."""
        self.rows += 1
        values: dict[str, Any] = {}
        errors: dict[str, dict[str, str]] = {}
        for field, i, convert in self.columns:
            if i is None:
                continue  # the null transform: nothing (a replace stores null, an update keeps the cell)
            cell = cells[i]
            if cell == "":
                values[field] = None
            elif convert is normalize_text:
                values[field] = cell
            else:
                try:
                    values[field] = convert(cell)
                except BadValue as exc:
                    errors[field] = {"message": f"Unable to convert {cell!r}: {exc}", "input": cell}
        if self.key is not None and self.key not in errors and values.get(self.key) is None:
            errors[self.key] = {"message": "The row identifier is missing", "input": ""}
        if errors:
            self.bad_rows += 1
            self.column_errors.update(errors.keys())
            out = [{"error": errors[f]} if f in errors else {"ok": values.get(f)} for f, _, _ in self.columns]
            return None, 1, dumps({"cells": out})
        key = key_of(values[self.key]) if self.key is not None else None
        if self.keep_nulls:
            return key, 0, dumps(values)
        return key, 0, dumps({f: values[f] for f, _, _ in self.columns if values.get(f) is not None})


def _check_csv(content_type: str) -> None:
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in CSV_TYPES:
        raise SocrataError(
            415,
            "content_type.unsupported",
            f"This emulator parses CSV uploads only, not {content_type or 'an unnamed type'}",
        )


def _check_header(header: list[str] | None, known: set[str] | None) -> tuple[list[str], list[str]]:
    """The input columns' field names and display names. ``known``: the dataset's field names,
    which (without --strict) every header name must be: the output schema is then the dataset's
    columns, mapped by API field name, and a name it cannot map is refused rather than dropped.
    In strict mode the names become field names as Socrata derives them (lower case, ``_``)."""
    if not header or not any(h.strip() for h in header):
        raise SourceFailure("empty", "The file has no header row")
    names = [h.strip() for h in header]
    fields = (
        names if known is not None else [re.sub(r"[^a-z0-9]+", "_", n.lower()).strip("_") or "column" for n in names]
    )
    dupes = sorted({f for f in fields if fields.count(f) > 1})
    if dupes:
        raise SourceFailure("duplicate_columns", f"Duplicate column names: {', '.join(dupes)}", columns=dupes)
    unknown = [f for f in fields if known is not None and f not in known]
    if unknown:
        raise SourceFailure(
            "unknown_columns",
            f"Columns not in the dataset: {', '.join(unknown)} (the header must use API field names)",
            columns=unknown,
        )
    fields = [f if FIELD_NAME.match(f) else f"_{f}" for f in fields]
    return fields, names


def _check_output_columns(columns: list[dict[str, Any]]) -> None:
    fields = [col["field_name"] for col in columns]
    dupes = sorted({f for f in fields if fields.count(f) > 1})
    if dupes:
        raise bad_request(f"Duplicate output column field names: {', '.join(dupes)}", code="output_schema.invalid")
    if sum(1 for col in columns if col["is_primary_key"]) > 1:
        raise bad_request("At most one output column can be the primary key", code="output_schema.invalid")


def _check_schema(ds: Dataset, src: Source) -> None:
    now = [(c["fieldName"], c["dataTypeName"]) for c in sorted(ds.columns, key=lambda c: c["position"])]
    then = [(c["fieldName"], c["dataTypeName"]) for c in src.columns]
    if now != then or ds.row_identifier_field != src.row_identifier:
        raise JobFailure(
            "schema_changed",
            "The dataset's columns or row identifier changed after the upload; upload again",
        )
