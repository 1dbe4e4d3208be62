"""A database session the database itself keeps read-only, for one extraction.

The query text is checked before it runs (``sql_guard.py``), but text cannot show what a
function or a view does when called. So the database is told, on the connection the query runs
on, that this session only reads; it is then asked to confirm it, and nothing runs unless it
does. Each database has its own means:

- PostgreSQL (any driver): ``SET TRANSACTION READ ONLY`` for the transaction the query runs in,
  confirmed with ``SHOW transaction_read_only``. Writes, DDL (transactional in PostgreSQL),
  ``nextval()`` and functions that write all fail with "cannot execute ... in a read-only
  transaction", and the mode cannot be switched back once the query has started. The session
  itself is left alone on purpose: behind a transaction-pooling PgBouncer, a session setting
  would outlive this connection and make other clients' transactions read-only.
- SQLite: ``PRAGMA query_only = ON`` on the connection; confirmed by reading the pragma back.
- MySQL and MariaDB: ``SET SESSION TRANSACTION READ ONLY``, then ``START TRANSACTION READ ONLY``.
  The session setting is needed here: DDL ends a transaction with an implicit commit, so a
  read-only transaction alone does not stop ``DROP TABLE`` (tried on MariaDB 10.11: the table
  was gone); with the session read-only, the next implicit transaction is read-only too. Confirmed with
  ``@@session.transaction_read_only`` (``tx_read_only`` on older servers).
- Any other database: the pipeline cannot make its session read-only, so it refuses to run,
  unless the deployment lists the connection in ``OPENDATA_READ_ONLY_CONNECTIONS``: a written
  statement by whoever manages the connection that its account can only read (SELECT grants).

Sessions changed here are never handed back to a connection pool: the connection is
discarded at the end, so a read-only (or once read-only) session is never reused for
anything else, and nothing the query did is committed: the transaction is rolled back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import sqlalchemy as sa

from opendata import settings
from opendata.sources.base import ExtractError

log = logging.getLogger(__name__)

READ_ONLY_CONNECTIONS_ENV = settings.READ_ONLY_CONNECTIONS_VAR

ENFORCED = ("postgresql", "sqlite", "mysql", "mariadb")


def declared_read_only(conn_id: str) -> bool:
    """The deployment says this connection's account can only read."""
    return conn_id in settings.read_only_connections()


@contextlib.contextmanager
def read_only_connection(engine: sa.Engine, conn_id: str) -> Iterator[sa.Connection]:
    """A connection whose session the database has confirmed read-only (or, for a database
    without the means, one the deployment declared read-only); rolled back and discarded after.

    Raises ``ExtractError`` before the query runs when read-only cannot be had.
    """
    dialect = engine.dialect.name
    if dialect not in ENFORCED and not declared_read_only(conn_id):
        raise ExtractError(
            f"connection {conn_id!r} is a {dialect} database, and the pipeline can make only PostgreSQL, "
            f"SQLite, MySQL and MariaDB sessions read-only; nothing was run. Give the connection an account "
            f"that can only read (SELECT grants only), then list {conn_id} in {READ_ONLY_CONNECTIONS_ENV} "
            f"to say so")
    conn = engine.connect()
    try:
        if dialect == "postgresql":
            _postgresql(conn, conn_id)
        elif dialect == "sqlite":
            _sqlite(conn, conn_id)
        elif dialect in ("mysql", "mariadb"):
            _mysql(conn, conn_id)
        else:
            log.warning("Connection %r (%s): read-only by the deployment's declaration (%s), not enforced "
                        "by the pipeline", conn_id, dialect, READ_ONLY_CONNECTIONS_ENV)
        yield conn
    finally:
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            # Never back into a pool: the session's settings were changed for this extraction.
            conn.invalidate()
            conn.close()


def _refused(conn_id: str, what: str) -> ExtractError:
    return ExtractError(f"connection {conn_id!r}: the database did not confirm a read-only session ({what}); "
                        f"nothing was run")


def _postgresql(conn: sa.Connection, conn_id: str) -> None:
    # Before the transaction's first query: PostgreSQL refuses to change a transaction's mode
    # after it (so the query cannot switch it back either).
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    state = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
    if str(state).lower() != "on":
        raise _refused(conn_id, f"transaction_read_only is {state}")


def _sqlite(conn: sa.Connection, conn_id: str) -> None:
    conn.exec_driver_sql("PRAGMA query_only = ON")
    state = conn.exec_driver_sql("PRAGMA query_only").scalar()
    if state != 1:
        raise _refused(conn_id, f"query_only is {state}")


def _mysql(conn: sa.Connection, conn_id: str) -> None:
    conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    conn.exec_driver_sql("START TRANSACTION READ ONLY")
    # MySQL 8 and MariaDB 11.1+ name it transaction_read_only; older servers, tx_read_only.
    rows = conn.exec_driver_sql("SHOW SESSION VARIABLES WHERE Variable_name IN "
                                "('transaction_read_only', 'tx_read_only')").all()
    states = {str(value).upper() for _, value in rows}
    if states != {"ON"} and states != {"1"}:
        raise _refused(conn_id, "transaction_read_only is " + (", ".join(sorted(states)) or "unknown"))


def adbc_read_only(cursor, conn_id: str) -> None:
    """The same as for a SQLAlchemy PostgreSQL connection, on an ADBC cursor (the COPY path):
    the transaction (opened by the driver, autocommit off) is made read-only before its first
    query and the database must confirm it. ``SHOW`` cannot be used: the driver runs every
    statement with a result as ``COPY (...) TO STDOUT``, and ``current_setting`` says the same."""
    cursor.execute("SET TRANSACTION READ ONLY")
    cursor.execute("SELECT current_setting('transaction_read_only')")
    state = cursor.fetchone()[0]
    if str(state).lower() != "on":
        raise _refused(conn_id, f"transaction_read_only is {state}")


def sqlalchemy_engine(conn_id: str) -> sa.Engine:
    """The engine of Airflow connection ``conn_id``, built by its provider's hook (credentials stay
    in the connection). Here, not in ``sql``: `opendata new --sql` needs it without pandas."""
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as exc:  # the SDK raises AirflowNotFoundException, or a comms error
        raise ExtractError(
            f"Airflow connection {conn_id!r} is not defined: add it in Admin > Connections "
            f"or as the environment variable AIRFLOW_CONN_{conn_id.upper()}"
        ) from exc
    try:
        hook = connection.get_hook()
        return hook.get_sqlalchemy_engine()
    except Exception as exc:
        raise ExtractError(
            f"connection {conn_id!r} (type {connection.conn_type!r}) does not give a SQLAlchemy "
            f"engine: {type(exc).__name__}; install the Airflow provider for this database"
        ) from exc
