"""Atomic replace through a DSMAPI revision (reference §3): the client side.

:meth:`SocrataHook.replace_via_revision <opendata.portal.hook.SocrataHook.replace_via_revision>`
is the entry point; this module holds the steps, the JSON parsers and the result type. It sends
its requests through the hook's :class:`~opendata.portal.transport.SocrataSession` (the hook
passes ``hook.session``) and does not import the hook.

The flow, and what is safe to retry at each step:

1. **Read the audience** (``GET /api/views/{id}/permissions``) and refuse unless it is the one the
   caller expects: the revision is opened with that permission *explicitly*, because applying a
   revision sets the dataset's audience to the revision's permission (the socrata-py gotcha).
2. **Open a replace revision** (``POST /api/publishing/v1/revision/{id}``). Retried like any
   request: a retry after a lost answer leaves a second, empty, open revision, which is harmless
   (nothing happens until a revision is applied). When the transport did retry, the empty open
   revisions this user opened meanwhile with the same action and permission are discarded.
3. **Upload** the rows as CSV with the chunked protocol: create a source, ``initiate`` (the
   portal names ``preferred_chunk_size``), then fixed-size chunks at explicit byte offsets, then
   ``commit``. A chunk is addressed by ``(seq_num, byte_offset)``, so a retried chunk rewrites the
   same bytes; a retried commit of the same size is taken once. Rows are serialised a batch at a
   time from the caller's DataFrames, so memory holds one batch plus one chunk, whatever the size.
4. **Wait for the parse, then set the column types.** The upload's bytes stopping (the source's
   ``finished_at``) is not the end of parsing: the output schema is complete only when its
   ``completed_at`` is set (socrata-py waits on it; every transform's ``error_count`` is null
   until then). The output schema Socrata builds from an upload has *guessed* column types
   (socrata-py's README: the guess "may not always be correct"; a ZIP code becomes a number), and
   applying it would change the dataset's columns. So every column's transform is set from the
   dataset's own type (``to_text(`zip_code`)``, ``to_number(...)``, ...) with
   ``POST /source/{id}/schema/{input_schema_id}``, and the resulting output schema is awaited and
   checked: a failed source, a row count other than the one sent, or any value the portal could
   not convert (which applying would silently drop) stops here.
   Anything failing in steps 2-4 discards the revision (the dataset was never touched); with a
   re-iterable input (a DataFrame, a list, or a zero-argument callable returning the rows) a
   transient failure starts again with a fresh revision.
5. **Apply** (``PUT .../apply``). Not idempotent, so never blindly repeated: it is retried only
   when the portal cannot have acted (HTTP 429, connection refused). After any ambiguous failure
   (timeout, 5xx, a 202 without a job) the revision is read back: if a job appeared it is the one
   to follow; only if none did is the apply sent again. A revision that is already applying or
   closed refuses a second apply (409), which leads back to reading the revision. A portal that
   holds changes to public assets for approval answers with the key ``approval_submitted``
   (socrata-py ``Job.submitted_for_approval``): nothing is applied until a reviewer approves, and
   the result says so.
6. **Poll the job** (``GET .../apply/{id}``, documented as 202) until ``successful`` or
   ``failure``; transient poll errors are waited out until the timeout, because the job runs on
   whether or not this client can see it. ``failure`` raises :class:`SocrataRevisionFailed` with
   the job's failure entry; the timeout raises :class:`SocrataRevisionTimeout` (the job may still
   finish, so the revision is left alone).

Where a response carries ``links`` (the publishing API's ``{"resource", "links"}`` shape), the
paths come from them rather than being rebuilt; only paths under ``/api/publishing/v1`` on the
portal itself are followed (a link elsewhere would carry the credentials off the portal).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from opendata.portal.errors import (
    SocrataBadRequest,
    SocrataConnectionError,
    SocrataError,
    SocrataForbiddenOperation,
    SocrataRateLimited,
    SocrataRevisionFailed,
    SocrataRevisionTimeout,
    SocrataServerError,
    SocrataUnexpectedResponse,
)
from opendata.portal.models import Audience, SodaCounts, ViewMetadata, as_mapping
from opendata.portal.serialization import csv_byte_chunks, csv_header, frame_csv_lines, iter_frames, prefetched
from opendata.portal.transport import PortalLog, SessionOwner, SocrataSession, session_of

R = TypeVar("R")

API = "/api/publishing/v1"
#: The key of an apply answer held for approval (socrata-py ``Job.submitted_for_approval``).
APPROVAL_SUBMITTED_KEY = "approval_submitted"
#: The status this client reports for such a revision (socrata-py's own label for it).
APPROVAL_SUBMITTED = "submitted_for_approval"
#: The transform that gives a column its dataset type (DSMAPI transform functions, publishing
#: API reference); ``/api/views`` type names on the left. A type without one keeps the guess.
TYPE_TRANSFORMS = {
    "text": "to_text",
    "number": "to_number",
    "checkbox": "to_boolean",
    "calendar_date": "to_floating_timestamp",
    "floating_timestamp": "to_floating_timestamp",
    "date": "to_fixed_timestamp",
    "fixed_timestamp": "to_fixed_timestamp",
    "point": "to_point",
    "multipoint": "to_multipoint",
    "line": "to_line",
    "multiline": "to_multiline",
    "polygon": "to_polygon",
    "multipolygon": "to_multipolygon",
    "location": "to_location",
}
#: Errors after which nothing is known to be wrong with the request itself: worth another go.
TRANSIENT = (SocrataServerError, SocrataConnectionError, SocrataRateLimited, SocrataUnexpectedResponse)
#: Largest chunk this client sends, whatever the portal prefers (memory holds about one chunk).
MAX_CHUNK_BYTES = 16 * 1024 * 1024
#: Rows serialised to CSV at a time.
BATCH_ROWS = 10_000

RowsInput = (
    pd.DataFrame
    | Iterable[pd.DataFrame]
    | Iterable[Mapping[str, Any]]
    | Callable[[], "pd.DataFrame | Iterable[pd.DataFrame] | Iterable[Mapping[str, Any]]"]
)


# ---------------------------------------------------------------------------------------------
# parsed responses
# ---------------------------------------------------------------------------------------------


def _resource(payload: object) -> Mapping[str, Any] | None:
    resource = payload.get("resource") if isinstance(payload, Mapping) else None
    return resource if isinstance(resource, Mapping) else None


def _links(payload: object) -> Mapping[str, Any]:
    return as_mapping(payload.get("links") if isinstance(payload, Mapping) else None)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def link(links: Mapping[str, Any], name: str, fallback: str) -> str:
    """The path a response's ``links`` give for ``name``, else ``fallback``. Only a publishing API
    path on the portal itself is followed (never another host: it would get the credentials)."""
    value = links.get(name)
    if isinstance(value, str):
        path = value.split("?", 1)[0]
        if path.startswith(f"{API}/") and "//" not in path and ".." not in path:
            return path
    return fallback


def held_for_approval(payload: Any) -> bool:
    """An apply answer saying the portal holds the revision for a reviewer: the key
    ``approval_submitted`` in the resource (socrata-py reads ``attributes["key"]``, where the
    attributes are ``resource`` or, in a bare answer, the whole body)."""
    for where in (_resource(payload), payload if isinstance(payload, Mapping) else None):
        if where is not None and where.get("key") == APPROVAL_SUBMITTED_KEY:
            return True
    return False


def transform_expr(field_name: str, data_type: str | None) -> str | None:
    """``to_text(`zip_code`)`` and the like: the column as its dataset type; None when the
    publishing API documents no transform for the type."""
    function = TYPE_TRANSFORMS.get(data_type or "")
    return f"{function}(`{field_name}`)" if function else None


@dataclass(frozen=True)
class JobInfo:
    """A revision apply job (DSMAPI TaskSet)."""

    id: int
    status: str
    log: tuple[Mapping[str, Any], ...]
    finished_at: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, payload: Any) -> JobInfo | None:
        """The job in a TaskSet response (or a bare TaskSet); ``None`` when the body has none."""
        res = _resource(payload) or (payload if isinstance(payload, Mapping) else None)
        if not res or res.get("id") is None or not res.get("status"):
            return None
        log = tuple(e for e in res.get("log") or [] if isinstance(e, Mapping))
        return cls(int(res["id"]), str(res["status"]), log, res.get("finished_at"), res)

    @property
    def done(self) -> bool:
        return self.status in ("successful", "failure")

    def entry(self, stage: str) -> Mapping[str, Any] | None:
        return next((e for e in reversed(self.log) if e.get("stage") == stage), None)

    def report(self) -> dict[str, int]:
        details = (self.entry("upsert_complete") or {}).get("details") or {}
        out = {}
        for key in ("Rows Created", "Rows Updated", "Rows Deleted", "Errors"):
            try:
                out[key] = int(details.get(key) or 0)
            except (TypeError, ValueError):
                out[key] = 0
        return out


@dataclass(frozen=True)
class RevisionInfo:
    fourfour: str
    seq: int
    action: str | None
    permission: str | None
    closed_at: str | None
    output_schema_id: int | None
    created_by: str | None
    jobs: tuple[JobInfo, ...]
    links: Mapping[str, str]

    @classmethod
    def from_json(cls, payload: Any) -> RevisionInfo:
        res = _resource(payload)
        if res is None or res.get("revision_seq") is None or not res.get("fourfour"):
            raise SocrataUnexpectedResponse("Revision response has no resource.fourfour/revision_seq")
        action = as_mapping(res.get("action"))
        creator = as_mapping(res.get("created_by"))
        jobs = tuple(j for j in (JobInfo.from_json(t) for t in res.get("task_sets") or []) if j)
        links = as_mapping(payload.get("links"))
        return cls(
            fourfour=str(res["fourfour"]),
            seq=int(res["revision_seq"]),
            action=action.get("type"),
            permission=action.get("permission"),
            closed_at=res.get("closed_at"),
            output_schema_id=res.get("output_schema_id"),
            created_by=creator.get("user_id"),
            jobs=jobs,
            links=links,
        )

    @property
    def path(self) -> str:
        return f"{API}/revision/{self.fourfour}/{self.seq}"


@dataclass(frozen=True)
class OutputColumn:
    field_name: str
    transform_expr: str | None
    error_count: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class OutputSchemaInfo:
    """An output schema: the rows as they would be applied, column by column."""

    id: int
    input_schema_id: int | None
    total_rows: int | None
    error_count: int
    #: ``completed_at`` set (socrata-py waits on it), or the documented ``finished_at`` with every
    #: transform's ``error_count`` known (null until the transform is complete).
    complete: bool
    columns: tuple[OutputColumn, ...]
    links: Mapping[str, Any]

    @classmethod
    def from_json(cls, output: Mapping[str, Any], links: Mapping[str, Any] | None = None) -> OutputSchemaInfo:
        columns = []
        for col in output.get("output_columns") or []:
            if not isinstance(col, Mapping) or not col.get("field_name"):
                continue
            transform = as_mapping(col.get("transform"))
            count = transform.get("error_count")
            columns.append(
                OutputColumn(
                    str(col["field_name"]),
                    transform.get("transform_expr"),
                    int(count) if count is not None else None,
                    col,
                )
            )
        transforms_done = bool(columns) and all(c.error_count is not None for c in columns)
        complete = bool(output.get("completed_at")) or (bool(output.get("finished_at")) and transforms_done)
        return cls(
            id=int(output["id"]),
            input_schema_id=output.get("input_schema_id"),
            total_rows=output.get("total_rows"),
            error_count=int(output.get("error_count") or 0),
            complete=complete,
            columns=tuple(columns),
            links=links or {},
        )

    @property
    def column_errors(self) -> dict[str, int]:
        return {c.field_name: c.error_count for c in self.columns if c.error_count}


@dataclass(frozen=True)
class SourceInfo:
    id: int
    #: The bytes stopped flowing (``finished_at``); parsing may still go on.
    finished: bool
    failed: bool
    failure_details: Any
    input_schema_id: int | None
    total_rows: int | None
    num_row_errors: int
    output: OutputSchemaInfo | None
    links: Mapping[str, Any]

    @classmethod
    def from_json(cls, payload: Any) -> SourceInfo:
        res = _resource(payload)
        if res is None or res.get("id") is None:
            raise SocrataUnexpectedResponse("Source response has no resource.id")
        schemas = [s for s in res.get("schemas") or [] if isinstance(s, Mapping)]
        latest = max(schemas, key=lambda s: s.get("id") or 0) if schemas else {}
        outputs = [o for o in latest.get("output_schemas") or [] if isinstance(o, Mapping) and o.get("id") is not None]
        output = max(outputs, key=lambda o: o["id"]) if outputs else None
        return cls(
            id=int(res["id"]),
            finished=bool(res.get("finished_at")),
            failed=bool(res.get("failed_at")),
            failure_details=res.get("failure_details"),
            input_schema_id=latest.get("id"),
            total_rows=latest.get("total_rows"),
            num_row_errors=int(latest.get("num_row_errors") or 0),
            output=OutputSchemaInfo.from_json(output) if output else None,
            links=_links(payload),
        )

    @property
    def parsed(self) -> bool:
        """Failed, or parsed far enough to have an output schema to work on."""
        return self.failed or (self.finished and self.output is not None)


@dataclass(frozen=True)
class RevisionResult(SodaCounts):
    """What :meth:`SocrataHook.replace_via_revision` did."""

    dataset_id: str
    revision_seq: int
    task_set_id: int
    #: ``successful``, or ``submitted_for_approval`` when the portal holds the revision for a
    #: reviewer (then the counts are zero: nothing is applied until the approval).
    status: str
    audience: Audience
    rows_uploaded: int
    bytes_uploaded: int
    chunks: int
    rows_created: int
    rows_updated: int
    rows_deleted: int
    errors: int
    attempts: int
    seconds: float
    log: tuple[Mapping[str, Any], ...] = field(repr=False, default=())
    #: HTTP requests the revision took (open, upload, apply, polls), not counting retries.
    requests: int = 0



# ---------------------------------------------------------------------------------------------
# requests
# ---------------------------------------------------------------------------------------------


def discard_revision(portal: SocrataSession | SessionOwner, dataset_id: str, revision_seq: int) -> RevisionInfo:
    """Close an open revision without changing the dataset (DSMAPI's discard, a ``DELETE`` of the
    revision; the dataset itself is never deleted).

    :param portal: the hook's session (``hook.session``), or the hook itself.
    """
    payload = session_of(portal).request("DELETE", f"{API}/revision/{dataset_id}/{int(revision_seq)}")
    return RevisionInfo.from_json(payload)


def get_revision(portal: SocrataSession | SessionOwner, dataset_id: str, revision_seq: int) -> RevisionInfo:
    """One revision as the portal has it now; ``portal`` as for :func:`discard_revision`."""
    return RevisionInfo.from_json(
        session_of(portal).request("GET", f"{API}/revision/{dataset_id}/{int(revision_seq)}")
    )


def list_open_revisions(portal: SocrataSession | SessionOwner, dataset_id: str) -> list[RevisionInfo]:
    """The dataset's open revisions; ``portal`` as for :func:`discard_revision`."""
    payload = session_of(portal).request("GET", f"{API}/revision/{dataset_id}", params={"open": "true"})
    if not isinstance(payload, list):
        raise SocrataUnexpectedResponse("Revision list is not a JSON array")
    return [RevisionInfo.from_json(item) for item in payload]


# ---------------------------------------------------------------------------------------------
# the replace
# ---------------------------------------------------------------------------------------------


class _Upload:
    """CSV bytes from the caller's rows, with the counts and the first batch checked up front."""

    def __init__(self, rows: Any, columns: Sequence[str], types: Mapping[str, str], allow_missing: bool):
        self.rows = 0
        self.bytes = 0
        self._frames = iter_frames(rows, BATCH_ROWS)
        self._first = next(self._frames, None)
        present = [str(c) for c in self._first.columns] if self._first is not None else list(columns)
        if len(set(present)) != len(present):
            raise ValueError("The rows have duplicate column names")
        unknown = [c for c in present if c not in types]
        if unknown:
            raise ValueError(f"Columns not in the dataset: {', '.join(unknown)} (use API field names)")
        missing = [c for c in columns if c not in present]
        if missing and not allow_missing:
            raise ValueError(
                f"Dataset columns missing from the rows: {', '.join(missing)}; a replace would leave "
                "them empty (pass allow_missing_columns=True if that is intended)"
            )
        self.columns = [c for c in columns if c in present]
        self.empty = self._first is None or len(self._first) == 0

    def pieces(self) -> Iterator[bytes]:
        header = csv_header(self.columns).encode()
        self.bytes += len(header)
        yield header
        expected = set(self.columns)
        for frame in itertools.chain([self._first] if self._first is not None else [], self._frames):
            if set(map(str, frame.columns)) != expected:
                raise ValueError(
                    f"Every batch must have the same columns as the first: got {sorted(map(str, frame.columns))}"
                )
            data = frame_csv_lines(frame, self.columns).encode()
            self.rows += len(frame)
            self.bytes += len(data)
            yield data


class RevisionReplace:
    """One replace of a dataset's rows through a revision; see the module docstring.

    :param session: the hook's session, which every request of the replace goes through.
    :param log: where the progress lines go (the hook's log).
    """

    def __init__(
        self,
        session: SocrataSession,
        dataset_id: str,
        view: ViewMetadata,
        audience: Audience,
        *,
        log: PortalLog,
        total: int | None,
        poll_seconds: float,
        timeout: float,
        allow_empty: bool,
        allow_missing_columns: bool,
        attempts: int,
        max_chunk_bytes: int | None = None,
        column_types: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session
        self.log = log
        self.dataset_id = dataset_id
        self.audience = audience
        self.total = total
        self.poll_seconds = max(poll_seconds, 0.01)
        self.timeout = timeout
        self.allow_empty = allow_empty
        self.allow_missing = allow_missing_columns
        self.attempts = max(1, attempts)
        self.max_chunk_bytes = max_chunk_bytes or MAX_CHUNK_BYTES
        self.sleep = sleep
        self.columns = [c.field_name for c in view.columns]
        self.types = {c.field_name: c.data_type or "text" for c in view.columns}
        # The types to load as: the caller's (the dataset file's), else the dataset's own on the portal.
        self.wanted_types = {**self.types, **(column_types or {})}
        self._chunks = 0

    # -- the whole thing ---------------------------------------------------------------------
    def run(self, rows: RowsInput) -> RevisionResult:
        started = time.monotonic()
        sent_before = self.session.requests_sent
        restartable = callable(rows) or isinstance(rows, (pd.DataFrame, list, tuple))
        attempts = self.attempts if restartable else 1
        for attempt in range(1, attempts + 1):
            upload = _Upload(rows() if callable(rows) else rows, self.columns, self.types, self.allow_missing)
            if upload.empty and not self.allow_empty:
                raise ValueError("Refusing to replace a dataset with no rows; pass allow_empty=True")
            rev = self._open()
            try:
                source = self._upload(rev, upload)
                self._check_source(rev, source, upload)
                output = self._typed_output(rev, source, upload.columns)
                self._check_output(rev, output)
                break
            except BaseException as err:
                self._discard_quietly(rev, reason=type(err).__name__)
                if attempt < attempts and isinstance(err, TRANSIENT):
                    self.log.warning(
                        "Socrata revision %s/%d: upload failed (%s); starting again with a new revision "
                        "(attempt %d/%d)",
                        self.dataset_id,
                        rev.seq,
                        err,
                        attempt + 1,
                        attempts,
                    )
                    continue
                raise
        try:
            job = self._apply(rev, output)
        except BaseException as err:
            # Every failed try was checked against the revision: nothing was applied.
            self._discard_quietly(rev, reason=f"apply failed: {type(err).__name__}")
            raise
        if job.status == APPROVAL_SUBMITTED:
            self.log.warning(
                "Socrata revision %s/%d was submitted for approval: the new rows go live when the "
                "portal's reviewer approves it",
                self.dataset_id,
                rev.seq,
            )
        else:
            job = self._wait(rev, job)
        report = job.report()
        result = RevisionResult(
            dataset_id=self.dataset_id,
            revision_seq=rev.seq,
            task_set_id=job.id,
            status=job.status,
            audience=self.audience,
            rows_uploaded=upload.rows,
            bytes_uploaded=upload.bytes,
            chunks=self._chunks,
            rows_created=report["Rows Created"],
            rows_updated=report["Rows Updated"],
            rows_deleted=report["Rows Deleted"],
            errors=report["Errors"],
            attempts=attempt,
            seconds=time.monotonic() - started,
            log=job.log,
            requests=self.session.requests_sent - sent_before,
        )
        complete = result.rows_created == upload.rows and not result.errors
        (self.log.info if complete or job.status == APPROVAL_SUBMITTED else self.log.warning)(
            "Socrata revision %s/%d %s in %.1fs: %d rows uploaded (%d bytes, %d chunks); "
            "created %d, deleted %d, errors %d; audience %s",
            self.dataset_id,
            rev.seq,
            job.status,
            result.seconds,
            result.rows_uploaded,
            result.bytes_uploaded,
            result.chunks,
            result.rows_created,
            result.rows_deleted,
            result.errors,
            self.audience.value,
        )
        return result

    # -- 2. open -----------------------------------------------------------------------------
    def _open(self) -> RevisionInfo:
        before = {r.seq for r in list_open_revisions(self.session, self.dataset_id)}
        retries_before = self.session.retries
        body = {"action": {"type": "replace", "permission": self.audience.value}}
        rev = RevisionInfo.from_json(self.session.request("POST", f"{API}/revision/{self.dataset_id}", body=body))
        if rev.permission != self.audience.value:
            self._discard_quietly(rev, reason="wrong permission")
            raise SocrataUnexpectedResponse(
                f"The portal opened revision {rev.seq} with permission {rev.permission!r}, "
                f"not {self.audience.value!r}; discarded it",
                path=f"{API}/revision/{self.dataset_id}",
            )
        self.log.info(
            "Socrata revision %s/%d opened (replace, permission %s)", self.dataset_id, rev.seq, rev.permission
        )
        if self.session.retries != retries_before:
            self._discard_strays(rev, before)
        return rev

    def _discard_strays(self, ours: RevisionInfo, before: set[int]) -> None:
        """Empty revisions a retried create left behind: same user, action, permission, opened
        after we started, never applied. Anything else is left alone."""
        for other in list_open_revisions(self.session, self.dataset_id):
            if (
                other.seq != ours.seq
                and other.seq not in before
                and ours.created_by is not None
                and other.created_by == ours.created_by
                and other.action == "replace"
                and other.permission == ours.permission
                and not other.jobs
            ):
                self.log.warning(
                    "Socrata revision %s/%d: discarding a duplicate left by a retry", other.fourfour, other.seq
                )
                self._discard_quietly(other, reason="duplicate")

    def _discard_quietly(self, rev: RevisionInfo, reason: str) -> None:
        try:
            discard_revision(self.session, rev.fourfour, rev.seq)
            self.log.info(
                "Socrata revision %s/%d discarded (%s); the dataset is unchanged", rev.fourfour, rev.seq, reason
            )
        except SocrataError as err:
            self.log.warning(
                "Socrata revision %s/%d could not be discarded (%s); it stays open and unapplied",
                rev.fourfour,
                rev.seq,
                err,
            )

    # -- 3. upload ---------------------------------------------------------------------------
    def _upload(self, rev: RevisionInfo, upload: _Upload) -> SourceInfo:
        body = {
            "source_type": {"type": "upload", "filename": f"{self.dataset_id}.csv"},
            "parse_options": {"parse_source": True},
        }
        path = link(rev.links, "create_source", f"{rev.path}/source")
        source = SourceInfo.from_json(self.session.request("POST", path, body=body))
        base = f"{API}/source/{source.id}"
        init = self.session.request("POST", f"{base}/initiate", body={"content_type": "text/csv"})
        preferred = init.get("preferred_chunk_size") if isinstance(init, Mapping) else None
        if not isinstance(preferred, int) or preferred < 1:
            raise SocrataUnexpectedResponse("initiate did not name a preferred_chunk_size", path=f"{base}/initiate")
        size = min(preferred, self.max_chunk_bytes)
        started = time.monotonic()
        self._chunks = 0
        last_seq = end = 0
        # The CSV of the next chunk is written in a background thread while this one is on the
        # wire (bounded: one chunk ready, one being cut); closing stops and joins that thread.
        with closing(prefetched(csv_byte_chunks(upload.pieces(), size))) as chunks:
            for seq, offset, data in chunks:
                self.session.request(
                    "POST", f"{base}/chunk/{seq}/{offset}", data=data, content_type="application/octet-stream"
                )
                self._chunks += 1
                last_seq, end = seq, offset + len(data)
                elapsed = max(time.monotonic() - started, 1e-6)
                self.log.info(
                    "Socrata revision %s/%d: chunk %d sent (%d bytes); %d bytes, %d/%s rows serialised so far "
                    "(%.0f rows/s)",
                    self.dataset_id,
                    rev.seq,
                    seq,
                    len(data),
                    end,
                    upload.rows,
                    self.total if self.total is not None else "?",
                    upload.rows / elapsed,
                )
        self.session.request("POST", f"{base}/chunk/{last_seq}/{end}/commit")
        self.log.info(
            "Socrata revision %s/%d: upload committed, %d rows in %d bytes (%d chunks of up to %d bytes)",
            self.dataset_id,
            rev.seq,
            upload.rows,
            end,
            self._chunks,
            size,
        )
        return self._wait_source(rev, source.id)

    def _wait_source(self, rev: RevisionInfo, source_id: int) -> SourceInfo:
        """Until the upload failed or has an output schema to work on (not yet complete)."""
        return self._poll(
            rev,
            lambda: SourceInfo.from_json(self.session.request("GET", f"{API}/source/{source_id}")),
            lambda source: source.parsed,
            f"Source {source_id} of revision {rev.seq} was not parsed",
        )

    def _poll(self, rev: RevisionInfo, read: Callable[[], R], ready: Callable[[R], bool], what: str) -> R:
        deadline = time.monotonic() + self.timeout
        delay = min(0.2, self.poll_seconds)
        while True:
            current = read()
            if ready(current):
                return current
            if time.monotonic() > deadline:
                raise SocrataRevisionTimeout(
                    f"{what} within {self.timeout:g}s", dataset_id=self.dataset_id, revision_seq=rev.seq
                )
            self.sleep(delay)
            delay = min(delay * 2, self.poll_seconds)

    # -- 4. check and type -------------------------------------------------------------------
    def _fail(self, rev: RevisionInfo, message: str, details: Any, stage: str = "source") -> SocrataRevisionFailed:
        return SocrataRevisionFailed(
            message, dataset_id=self.dataset_id, revision_seq=rev.seq, stage=stage, details=details
        )

    def _check_source(self, rev: RevisionInfo, source: SourceInfo, upload: _Upload) -> None:
        if source.failed:
            details = source.failure_details or {}
            text = details.get("message") if isinstance(details, Mapping) else None
            raise self._fail(rev, f"The portal could not read the upload: {text or details}", details)
        if source.total_rows != upload.rows:
            raise self._fail(
                rev,
                f"The portal parsed {source.total_rows} rows, {upload.rows} were sent",
                {"parsed": source.total_rows, "sent": upload.rows},
            )
        if source.num_row_errors:
            raise self._fail(
                rev,
                f"{source.num_row_errors} malformed row(s) could not be read by the portal and would be dropped",
                {"num_row_errors": source.num_row_errors},
                stage="schema",
            )
        if source.output is None or source.input_schema_id is None:
            raise self._fail(rev, "The parsed upload has no output schema", None)

    def _typed_output(self, rev: RevisionInfo, source: SourceInfo, uploaded: Sequence[str]) -> OutputSchemaInfo:
        """The output schema to apply: every column converted to its dataset type, complete.

        Socrata guesses each column's type from the upload; a guess that differs from the
        dataset's type would change the dataset's column (and its values) when applied, so such
        columns get an explicit transform in a new output schema, as socrata-py's
        ``change_column_transform(...).to(...)`` and ``run()`` do. Only uploaded columns can be
        transformed (a transform reads an input column).
        """
        guessed = source.output
        assert guessed is not None and source.input_schema_id is not None
        changes = {}
        for col in guessed.columns:
            if col.field_name not in uploaded:
                continue
            wanted = transform_expr(col.field_name, self.wanted_types.get(col.field_name))
            if wanted is None:
                self.log.warning(
                    "Socrata revision %s/%d: no documented transform for %s's type %s; keeping %s",
                    self.dataset_id, rev.seq, col.field_name, self.wanted_types.get(col.field_name),
                    col.transform_expr,
                )
            elif wanted != col.transform_expr:
                changes[col.field_name] = wanted
        schema_path = f"{API}/source/{source.id}/schema/{source.input_schema_id}"
        output = guessed
        if changes:
            self.log.info(
                "Socrata revision %s/%d: setting %d column type(s) the portal guessed differently: %s",
                self.dataset_id, rev.seq, len(changes),
                ", ".join(f"{f} -> {e}" for f, e in sorted(changes.items())),
            )
            columns = []
            for col in guessed.columns:
                column = json.loads(json.dumps(col.raw))  # a plain copy of what the portal sent
                if col.field_name in changes:
                    transform = column.get("transform") if isinstance(column.get("transform"), dict) else {}
                    column["transform"] = {**transform, "transform_expr": changes[col.field_name]}
                    if column.get("id") is not None:
                        column["initial_output_column_id"] = column["id"]
                columns.append(column)
            payload = self.session.request("POST", schema_path, body={"output_columns": columns})
            resource = _resource(payload)
            if resource is None or resource.get("id") is None:
                raise SocrataUnexpectedResponse("The new output schema has no id", path=schema_path)
            output = OutputSchemaInfo.from_json(resource, _links(payload))
        output_path = link(output.links, "show", f"{schema_path}/output/{output.id}")
        return self._poll(
            rev,
            lambda: OutputSchemaInfo.from_json(
                _resource(self.session.request("GET", output_path)) or {"id": output.id}
            ),
            lambda current: current.complete,
            f"Output schema {output.id} of revision {rev.seq} was not complete",
        )

    def _check_output(self, rev: RevisionInfo, output: OutputSchemaInfo) -> None:
        if output.error_count or output.column_errors:
            count = output.error_count or sum(output.column_errors.values())
            raise SocrataRevisionFailed(
                f"{count} value(s) could not be converted to their column's type by the portal and would be "
                f"dropped (errors per column: {output.column_errors or 'none'})",
                dataset_id=self.dataset_id,
                revision_seq=rev.seq,
                stage="schema",
                details={"column_errors": output.column_errors, "error_count": output.error_count},
            )

    # -- 5. apply ----------------------------------------------------------------------------
    def _apply(self, rev: RevisionInfo, output: OutputSchemaInfo) -> JobInfo:
        known = {j.id for j in rev.jobs}
        policy = self.session.retry_policy
        last: SocrataError | None = None
        for attempt in range(policy.max_attempts):
            try:
                payload = self.session.request(
                    "PUT", link(rev.links, "apply", f"{rev.path}/apply"), body={"output_schema_id": output.id},
                    idempotent=False,
                )
                if held_for_approval(payload):
                    # The portal holds the revision for a reviewer (reference §3.2, socrata-py's
                    # Job.submitted_for_approval): accepted, not applied yet.
                    res = _resource(payload) or as_mapping(payload)
                    return JobInfo(_int(res.get("id")), APPROVAL_SUBMITTED, (), None, res)
                job = JobInfo.from_json(payload)
                if job is not None:
                    self.log.info("Socrata revision %s/%d: apply accepted, job %d", self.dataset_id, rev.seq, job.id)
                    return job
                last = SocrataUnexpectedResponse("The apply answer holds no job", path=f"{rev.path}/apply")
            except SocrataBadRequest as err:
                if err.status != 409:
                    raise
                last = err  # already applying or closed: find out which
            except TRANSIENT as err:
                last = err
            self.log.warning(
                "Socrata revision %s/%d: apply outcome unknown (%s); reading the revision before anything else",
                self.dataset_id,
                rev.seq,
                last,
            )
            current = self._read_revision(rev)
            if current is not None:
                new = [j for j in current.jobs if j.id not in known]
                if new:
                    job = max(new, key=lambda j: j.id)
                    self.log.info(
                        "Socrata revision %s/%d: the apply was taken (job %d); following it",
                        self.dataset_id,
                        rev.seq,
                        job.id,
                    )
                    return job
                if current.closed_at:
                    raise SocrataRevisionFailed(
                        f"Revision {rev.seq} was closed (discarded) before it could be applied",
                        dataset_id=self.dataset_id,
                        revision_seq=rev.seq,
                        stage="apply",
                    )
            self.sleep(policy.compute_delay(attempt))
        assert last is not None
        raise last

    def _read_revision(self, rev: RevisionInfo) -> RevisionInfo | None:
        try:
            return get_revision(self.session, rev.fourfour, rev.seq)
        except TRANSIENT as err:
            self.log.warning("Socrata revision %s/%d could not be read (%s)", rev.fourfour, rev.seq, err)
            return None

    # -- 6. wait -----------------------------------------------------------------------------
    def _wait(self, rev: RevisionInfo, job: JobInfo) -> JobInfo:
        path = f"{rev.path}/apply/{job.id}"
        deadline = time.monotonic() + self.timeout
        seen_status = None
        seen_entries = 0
        delay = min(0.2, self.poll_seconds)
        while True:
            if job.status != seen_status or len(job.log) != seen_entries:
                for entry in job.log[seen_entries:]:
                    self.log.info(
                        "Socrata revision %s/%d job %d: %s %s",
                        self.dataset_id,
                        rev.seq,
                        job.id,
                        entry.get("stage"),
                        entry.get("details") or "",
                    )
                seen_status, seen_entries = job.status, len(job.log)
            if job.status == "successful":
                return job
            if job.status == "failure":
                entry = job.entry("failure") or (job.log[-1] if job.log else {})
                details = entry.get("details") or {}
                message = details.get("message") if isinstance(details, Mapping) else None
                self._discard_quietly(rev, reason="job failed")
                raise SocrataRevisionFailed(
                    f"Revision {rev.seq} of {self.dataset_id} failed to apply: {message or details or 'no details'}",
                    dataset_id=self.dataset_id,
                    revision_seq=rev.seq,
                    stage="apply",
                    details=details,
                    log=job.log,
                )
            if time.monotonic() > deadline:
                raise SocrataRevisionTimeout(
                    f"Revision {rev.seq} of {self.dataset_id} still {job.status} after {self.timeout:g}s "
                    f"(job {job.id}); it may yet finish",
                    dataset_id=self.dataset_id,
                    revision_seq=rev.seq,
                    task_set_id=job.id,
                    last_status=job.status,
                )
            self.sleep(delay)
            delay = min(delay * 2, self.poll_seconds)
            try:
                polled = JobInfo.from_json(self.session.request("GET", path, accept_202=True))
            except TRANSIENT as err:
                self.log.warning(
                    "Socrata revision %s/%d: job poll failed (%s); polling on", self.dataset_id, rev.seq, err
                )
                continue
            if polled is not None:  # a 202 without a job is "still processing"
                job = polled


def check_audience(expected: Audience | str, current: Audience, dataset_id: str) -> Audience:
    """The caller's audience, checked against the dataset's: a revision must never change it."""
    wanted = expected if isinstance(expected, Audience) else Audience.parse(expected)
    if wanted is None:
        raise ValueError(f"Unknown audience {expected!r}")
    if wanted not in (Audience.PUBLIC, Audience.PRIVATE):
        raise ValueError("Revisions carry a public or private permission; this dataset's audience is neither")
    if current is not wanted:
        raise SocrataForbiddenOperation(
            f"Dataset {dataset_id} is {current.value}, but the replace was asked for a {wanted.value} dataset: "
            f"applying a revision with permission {wanted.value} would make it {wanted.value}. Refusing.",
            path=f"{API}/revision/{dataset_id}",
        )
    return wanted
