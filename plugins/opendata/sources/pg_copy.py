"""Read a PostgreSQL query through COPY into Arrow (the ADBC PostgreSQL driver), in chunks.

The connection is opened from the same Airflow connection the general path uses (the engine
its provider hook built: no other place holds credentials), in a transaction the database has
confirmed read-only (``sql_session.adbc_read_only``), rolled back and closed at the end; a
connection of this path is never pooled. ``NotForCopy`` is raised before any row is read when the
result has a column type the fast path does not read (``pg_arrow.FAST_TYPES``): the caller then
reads the query through SQLAlchemy, as before.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from opendata.sources.base import ExtractError
from opendata.sources.pg_arrow import empty_frame, rechunk, to_frame, unsupported_columns
from opendata.sources.sql_session import adbc_read_only

log = logging.getLogger(__name__)


class NotForCopy(Exception):
    """The query's result has columns only the general path reads (nothing was read)."""


def libpq_uri(url: sa.URL) -> str:
    """The engine's URL as libpq takes it (credentials included: never logged or shown)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def incremental_query(query: str, quoted_column: str) -> str:
    # As the general path: the statement on lines of its own, so a trailing "-- comment" cannot
    # swallow the filter; the value is a bound parameter ($1), never text.
    return f"SELECT * FROM (\n{query}\n) AS opendata_source WHERE {quoted_column} > $1"


def copy_chunks(url: sa.URL, conn_id: str, query: str, params: tuple, chunk_size: int, *,
                arrow: bool = False) -> Iterator[pd.DataFrame | pa.RecordBatch]:
    """The query's rows in pandas chunks of ``chunk_size`` rows (raises ``NotForCopy`` before the
    first one when the result's types are not all readable here, ``ExtractError`` on failure).
    With ``arrow``, each chunk is the Arrow batch as read (``pg_arrow.to_frame`` makes it the
    pandas chunk; ``pg_arrow.typed_batch`` types it to the data dictionary without pandas); no
    rows still give one empty pandas chunk."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    phase = "connect"
    try:
        with contextlib.ExitStack() as stack:
            conn = adbc.connect(libpq_uri(url), autocommit=False)
            stack.callback(conn.close)
            # Nothing a query did is kept: rolled back (after the cursor below is closed, callbacks
            # run last first); the connection is closed, never reused.
            stack.callback(_quietly, conn.rollback, adbc_driver_manager.Error)
            cursor = stack.enter_context(contextlib.closing(conn.cursor()))
            phase = "read-only"
            adbc_read_only(cursor, conn_id)
            phase = "query"
            cursor.execute(query, parameters=params or None)
            reader = stack.enter_context(contextlib.closing(cursor.fetch_record_batch()))
            unsupported = unsupported_columns(reader.schema)
            if unsupported:
                raise NotForCopy(", ".join(unsupported))
            prefetch = stack.enter_context(contextlib.closing(_Prefetch(reader)))
            seen = False
            for batch in rechunk(prefetch, chunk_size):
                seen = True
                yield batch if arrow else to_frame(batch)
            if not seen:
                yield empty_frame(reader.schema)
    except (adbc_driver_manager.Error, _StreamError) as exc:
        raise ExtractError(describe_adbc_error(exc, conn_id, unreachable=phase == "connect",
                                               secret=url.password)) from None


def _quietly(action, errors: type[BaseException]) -> None:
    with contextlib.suppress(errors):
        action()


_DONE = object()


class _Prefetch:
    """The driver's batches, read a few ahead in a thread: decoding the COPY stream (in C,
    without the GIL) overlaps the typing of the batches before it on the other core. Bounded
    (``depth`` batches of the driver's ~16 MB), so memory does not grow with the table."""

    def __init__(self, reader: pa.RecordBatchReader, depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(reader,), name="copy-reader", daemon=True)
        self._thread.start()

    def _run(self, reader: pa.RecordBatchReader) -> None:
        try:
            for batch in _batches(reader):
                if not self._put(batch):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the reading side, raised there
            self._put(exc)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        # Before the reader is closed: the thread must be out of it.
        self._stop.set()
        self._thread.join()


class _StreamError(Exception):
    """The server stopped the COPY half way (the query failed while rows were being sent)."""


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    # Errors the server raises during the COPY come out of the Arrow reader, not the driver.
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowException as exc:
            raise _StreamError(str(exc)) from None
        yield batch


def describe_adbc_error(exc: BaseException, conn_id: str, *, unreachable: bool, secret: str | None) -> str:
    """One line naming what went wrong, as the general path words it; never the password."""
    text = str(exc).strip()
    # The driver prefixes the server's message ("INVALID_ARGUMENT: [libpq] Failed to execute query:
    # could not begin COPY: ERROR:  ..."): the server's own line is what says what is wrong.
    if "ERROR:" in text:
        text = text.rsplit("ERROR:", 1)[1].strip()
    elif "Failed to connect:" in text:
        text = text.split("Failed to connect:", 1)[1].strip()
    first_line = text.splitlines()[0].strip() if text else type(exc).__name__
    if secret:
        first_line = first_line.replace(str(secret), "***")
    kind = "cannot reach the database" if unreachable else "the query failed"
    return f"{kind} (connection {conn_id!r}): {first_line}"
