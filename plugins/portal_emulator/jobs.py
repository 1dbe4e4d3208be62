"""Apply jobs (task sets): applying a revision starts one (or, strict mode with approvals on a
public dataset, holds the revision for a reviewer, who starts it by approving), and a thread runs
it through ``initializing``, ``creating_columns``, ``upserting``, ``finishing`` to ``successful``
or ``failure``, the switch itself being :class:`RevisionSwitch`'s one transaction.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .config import Account
from .revision_reads import PublishingPart
from .revision_records import (
    REV_COLS,
    JobFailure,
    OutputSchema,
    Revision,
    TaskSet,
    advance,
    conflict,
    creator,
    decode_revision,
    iso,
)
from .revision_switch import RevisionSwitch
from .source_parsing import SourceParser
from .store import Approval

log = logging.getLogger("portal_emulator.publishing")


@dataclass(eq=False)
class Jobs(PublishingPart):
    """Starts and runs apply jobs; also what the approvals workflow calls back (``HeldRevisions``)."""

    parser: SourceParser
    switch: RevisionSwitch

    # ---- starting ----

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

    # ---- running ----

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
                dataset_id = self.switch.switch(ts_id)
            time.sleep(self.config.apply_stage_seconds)
            with self.store.writing() as c:
                ts = self.reads.job(c, ts_id)
                advance(c, ts, "successful")
                rev = self.reads.revision_by_pk(c, ts.revision)
                sources = self.reads.sources(rev.pk, c)
                ds = self.store.get_dataset_by_pk(rev.ds, c)
                self.workflow.outcome_done(c, ds, rev.seq, ok=True)
                dataset_id = ds.id
            self.parser.drop_staged(sources)
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
