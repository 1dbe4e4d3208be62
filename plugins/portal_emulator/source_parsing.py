"""Parsing an uploaded source: the CSV file next to the state file is read on a worker thread into
``input_rows`` (5,000 rows per transaction), its header becomes the input schema, and the first
output schema is built and evaluated; then the source is ``finished``. A source that cannot be
parsed ends ``failed`` with ``failure_details``. Also where the uploaded file lives and how a
source's staged rows are forgotten.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .datatypes import TypeGuesser
from .output_schemas import OutputSchemas
from .revision_reads import PublishingPart
from .revision_records import FIELD_NAME, STAGE_BATCH, JobFailure, Source, SourceFailure, dumps

log = logging.getLogger("portal_emulator.publishing")


@dataclass(eq=False)
class SourceParser(PublishingPart):
    """Parses committed uploads, one thread per source; a parse always ends in a state."""

    schemas: OutputSchemas

    def __post_init__(self) -> None:
        self.uploads = Path(self.config.uploads_dir)
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._parsing: dict[int, threading.Event] = {}
        self._guard = threading.Lock()

    def path(self, source_id: int) -> Path:
        return self.uploads / f"{source_id}.bin"

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

    def resume_parse(self, source_id: int) -> None:
        """At start-up: parse again an upload that a restart interrupted (nobody waits for it)."""
        threading.Thread(target=self._parse_thread, args=(source_id, threading.Event()), daemon=True).start()

    def _parse_thread(self, source_id: int, done: threading.Event) -> None:
        try:
            self._parse(source_id)
        except Exception:  # noqa: BLE001 - a parse must end in a state, whatever happened
            log.exception("parsing source %s failed", source_id)
            self.fail_source(source_id, SourceFailure("internal_error", "The source could not be processed"))
        finally:
            done.set()
            with self._guard:
                self._parsing.pop(source_id, None)

    def _parse(self, source_id: int) -> None:
        """Stage the upload's rows, build the first output schema, evaluate it; then the source is
        ``finished`` (its input schema shows)."""
        src = self.reads.source(source_id)
        ds, _ = self.reads.owner(src)
        self.clear_source_rows(source_id)  # an interrupted earlier parse may have staged some
        try:
            with open(self.path(source_id), "rb") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                inputs, total, row_errors = self._stage_file(src, text)
        except UnicodeDecodeError:
            return self.fail_source(source_id, SourceFailure("encoding", "The file is not UTF-8 text"))
        except csv.Error as exc:
            return self.fail_source(source_id, SourceFailure("parse_error", f"The CSV could not be parsed: {exc}"))
        except SourceFailure as failure:
            return self.fail_source(source_id, failure)
        with self.store.writing() as c:
            c.execute(
                "UPDATE sources SET input_columns=?, total_rows=?, num_row_errors=? WHERE id=?",
                (json.dumps(inputs), total, row_errors, source_id),
            )
            src = self.reads.source(source_id, c)
            self.schemas.insert(c, src, self.schemas.first_columns(c, src), src.created_by, src.output_schema_id)
        output = self.schemas.evaluate(src.output_schema_id)
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

    # ---- failing and forgetting ----

    def fail_source(self, source_id: int, failure: JobFailure) -> None:
        self.clear_source_rows(source_id)
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

    def clear_source_rows(self, source_id: int) -> None:
        """Forget a source's parse: its input rows, output schemas and their rows."""
        with self.store.writing() as c:
            _delete_staged_rows(c, source_id)
            c.execute("DELETE FROM output_schemas WHERE source=?", (source_id,))

    def drop_staged(self, sources: list[Source]) -> None:
        """Once a revision is applied or discarded its rows are not needed; the schemas stay."""
        for src in sources:
            with self.store.writing() as c:
                _delete_staged_rows(c, src.id)
            self.path(src.id).unlink(missing_ok=True)


def _delete_staged_rows(c, source_id: int) -> None:
    """A source's input rows and the output rows of its output schemas."""
    c.execute("DELETE FROM input_rows WHERE source=?", (source_id,))
    c.execute(
        "DELETE FROM output_rows WHERE output_schema IN (SELECT id FROM output_schemas WHERE source=?)", (source_id,)
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
