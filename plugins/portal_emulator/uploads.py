"""Upload sources: creating one on a revision, receiving its bytes (one-shot bodies streamed to a
file, or chunks written at their byte offset so a retried chunk overwrites itself, then a commit
that checks they are whole), moving it to another revision, and handing the file to the parser.
Nothing is held in memory beyond one request body chunk.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Account
from .errors import SocrataError, bad_request
from .revision_reads import PublishingPart
from .revision_records import Revision, Source, conflict, creator
from .source_parsing import SourceParser
from .store import Dataset

CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


@dataclass(eq=False)
class Uploads(PublishingPart):
    """The source endpoints up to the parse; the parse itself is :class:`SourceParser`'s."""

    parser: SourceParser

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
                self.parser.path(source_id).write_bytes(b"")
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
            fd = os.open(self.parser.path(source_id), os.O_WRONLY | os.O_CREAT)
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
            os.truncate(self.parser.path(source_id), total)
            self._bytes_stopped(c, source_id, total)
            c.execute("DELETE FROM source_chunks WHERE source=?", (source_id,))
        return self.parser.start_parse(source_id)

    def begin_upload(self, source_id: int, content_type: str) -> Path:
        """Claim a source for a one-shot upload; the caller streams the body to the returned path."""
        _check_csv(content_type)
        with self.store.writing() as c:
            self._open_source(c, source_id, ("created",))
            c.execute(
                "UPDATE sources SET state='receiving', content_type=?, chunk_size=NULL WHERE id=?",
                (content_type, source_id),
            )
        return self.parser.path(source_id)

    def end_upload(self, source_id: int, size: int, ok: bool) -> Source:
        with self.store.writing() as c:
            if not ok:  # the client went away mid-body: the source can take a new upload
                c.execute("UPDATE sources SET state='created' WHERE id=?", (source_id,))
                return self.reads.source(source_id, c)
            self._bytes_stopped(c, source_id, size)
            ds, _ = self.reads.owner(self.reads.source(source_id, c), c)
        self.stats.revision(ds.id, bytes_uploaded=size)
        return self.parser.start_parse(source_id)

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


def _check_csv(content_type: str) -> None:
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in CSV_TYPES:
        raise SocrataError(
            415,
            "content_type.unsupported",
            f"This emulator parses CSV uploads only, not {content_type or 'an unnamed type'}",
        )
