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

This module is the revision lifecycle (open, update, discard), resuming after a restart, and the
:class:`Publishing` object that puts the parts together for the routes: the records and their
reads (revision_records.py, revision_reads.py), the JSON answers (revision_render.py), output
schemas and their evaluation (output_schemas.py), parsing a source (source_parsing.py), receiving
its bytes (uploads.py), the switch (revision_switch.py) and the apply jobs (jobs.py).

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import json
import time
from typing import Any

from .approvals import Workflow
from .config import Account, EmulatorConfig
from .errors import bad_request
from .jobs import Jobs
from .output_schemas import OutputSchemas
from .revision_reads import RevisionReads
from .revision_records import RUNNING, Revision, SourceFailure, conflict, creator
from .revision_render import RevisionRender
from .revision_switch import RevisionSwitch
from .source_parsing import SourceParser
from .stats import Stats
from .store import Dataset, Store
from .uploads import Uploads

ACTIONS = ("replace", "update")
PERMISSIONS = ("public", "private")


class Publishing:
    """The DSMAPI state machine over the store; routes stay thin. The routes reach each part by
    its attribute: ``reads``, ``render``, ``schemas`` (transforms), ``uploads``, ``jobs``."""

    def __init__(self, store: Store, config: EmulatorConfig, stats: Stats, workflow: Workflow):
        self.store = store
        self.config = config
        self.stats = stats
        self.workflow = workflow
        self.reads = RevisionReads(store, workflow)
        self.render = RevisionRender(self.reads)
        common = (store, config, stats, workflow, self.reads)
        self.schemas = OutputSchemas(*common)
        self.parser = SourceParser(*common, self.schemas)
        self.uploads = Uploads(*common, self.parser)
        self.switch = RevisionSwitch(*common)
        self.jobs = Jobs(*common, self.parser, self.switch)
        workflow.revisions = self.jobs  # an approved held revision comes back here to be applied

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
        self.parser.drop_staged(sources)
        self.stats.revision(dataset_id, discarded=1)
        return self.reads.revision(dataset_id, seq)[1]

    # ---- restarts ----

    def recover(self) -> None:
        """Resume what a restart interrupted: parses of committed uploads, evaluations of posted
        transforms, unfinished apply jobs."""
        c = self.store.conn()
        for (source_id,) in c.execute("SELECT id FROM sources WHERE state='parsing'").fetchall():
            if self.parser.path(source_id).exists():
                self.parser.resume_parse(source_id)
            else:
                self.parser.fail_source(source_id, SourceFailure("internal_error", "The upload was lost"))
        for (schema_id,) in c.execute(
            "SELECT o.id FROM output_schemas o JOIN sources s ON s.id=o.source"
            " WHERE o.state='evaluating' AND s.state='finished'"
        ).fetchall():
            self.schemas.start_evaluation(schema_id)
        with self.store.writing() as c:  # one-shot bodies cut off by the restart can be sent again
            c.execute("UPDATE sources SET state='created' WHERE state='receiving' AND chunk_size IS NULL")
        for (ts_id,) in c.execute(
            "SELECT id FROM task_sets WHERE status IN ('initializing','creating_columns','upserting','finishing')"
        ).fetchall():
            self.jobs.start_job(ts_id)
