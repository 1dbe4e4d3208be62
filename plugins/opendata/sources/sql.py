"""Any database SQLAlchemy reaches, through an Airflow connection.

The connection's provider hook builds the engine (PostgreSQL, SQLite, and any other
DB-API provider installed), so credentials stay in the Airflow connection.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from opendata import settings
from opendata.sources.base import ExtractError
from opendata.sources.sql_session import read_only_connection, sqlalchemy_engine
from opendata.sources.watermark import Bound
from opendata.spec.dataset import SqlSource
from opendata.spec.paths import UnsafePath, resolve_query_file
from opendata.spec.sql_guard import UnsafeQuery, check_read_only

log = logging.getLogger(__name__)

# "0" turns the COPY path off (PostgreSQL is then read through SQLAlchemy, as other databases).
COPY_PATH_ENV = settings.SQL_COPY_VAR


def query_text(source: SqlSource) -> str:
    if source.query is not None:
        return source.query
    try:  # confined to include/sql, whatever the file says
        path = resolve_query_file(source.query_file or "")
    except UnsafePath as exc:
        raise ExtractError(f"source.query_file {exc}") from None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExtractError(f"cannot read query file {path}: {exc.strerror}") from exc


def read_sql_chunks(source: SqlSource, since: tuple[str, Bound] | None = None, *,
                    arrow: bool = False) -> Iterator[pd.DataFrame]:
    """The query's rows in pandas chunks; with ``arrow``, chunks the COPY path read may be Arrow
    batches as read (see ``pg_copy.copy_chunks``)."""
    try:
        # The text first (exactly one read statement), as lint did; the database's own read-only
        # session below stops what text cannot show (a function or a view that writes).
        query = check_read_only(query_text(source))
    except UnsafeQuery as exc:
        shown = f"query file {source.query_file}" if source.query_file else "source.query"
        raise ExtractError(f"{shown}, {exc}; nothing was run") from exc
    engine = sqlalchemy_engine(source.conn_id)
    try:
        if engine.dialect.name == "postgresql" and settings.sql_copy_enabled():
            # PostgreSQL: COPY into Arrow, several times faster than rows through SQLAlchemy.
            from opendata.sources.pg_copy import NotForCopy, copy_chunks, incremental_query

            copy_query = query
            copy_params: tuple[float | dt.datetime, ...] = ()
            if since is not None:
                column, value = since
                copy_query = incremental_query(query, engine.dialect.identifier_preparer.quote(column))
                copy_params = (_bound(value),)
            try:
                yield from copy_chunks(engine.url, source.conn_id, copy_query, copy_params, source.chunk_size,
                                      arrow=arrow)
                return
            except NotForCopy as exc:
                log.info("Reading through SQLAlchemy (columns of types the COPY path does not read: %s)", exc)
        yield from _sqlalchemy_chunks(engine, source, query, since)
    finally:
        engine.dispose()


def _bound(value: Bound) -> float | dt.datetime:
    return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value


def _sqlalchemy_chunks(engine: sa.Engine, source: SqlSource, query: str,
                       since: tuple[str, Bound] | None) -> Iterator[pd.DataFrame]:
    """The general path: any database SQLAlchemy reaches."""
    params: dict[str, float | dt.datetime] = {}
    if since is not None:
        # Incremental: the database filters, so only new or changed rows cross the network.
        # The statement goes on lines of its own: a trailing "-- comment" must not swallow the rest.
        column, value = since
        quoted = engine.dialect.identifier_preparer.quote(column)
        query = f"SELECT * FROM (\n{query}\n) AS opendata_source WHERE {quoted} > :since"
        params["since"] = _bound(value)
    try:
        with read_only_connection(engine, source.conn_id) as conn:
            # stream_results uses a server-side cursor where the driver has one (PostgreSQL, MySQL),
            # so the database sends rows as we read them instead of all at once. Set only now: on
            # psycopg it turns every statement into a cursor, the read-only set-up included.
            conn.execution_options(stream_results=True, max_row_buffer=source.chunk_size)
            yield from pd.read_sql_query(sa.text(query), conn, params=params, chunksize=source.chunk_size)
    except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
        raise ExtractError(describe_database_error(exc, source.conn_id)) from exc


def describe_database_error(exc: BaseException, conn_id: str) -> str:
    """One line naming what went wrong; never the URL (it may hold a password)."""
    # pandas wraps SQLAlchemy's error in its own DatabaseError.
    if isinstance(exc, pd.errors.DatabaseError) and exc.__cause__ is not None:
        exc = exc.__cause__
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).strip()
    first_line = text.splitlines()[0] if text else type(original).__name__
    unreachable = isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or (isinstance(exc, sa.exc.OperationalError) and "connect" in text.lower()))
    kind = "cannot reach the database" if unreachable else "the query failed"
    return f"{kind} (connection {conn_id!r}): {first_line}"
