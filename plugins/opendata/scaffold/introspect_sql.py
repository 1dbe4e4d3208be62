"""Introspecting a SQL table or query through an Airflow connection (thin I/O).

A bare name (``permits``, ``public.permits``, ``"Permit Data"``) is a table or view, read through
SQLAlchemy's inspector: its columns and their types, the primary key, the column and table
comments. Anything else is a query: it must be one read statement (opendata.spec.sql_guard, the
rule lint and every extraction apply) before anything runs, then only ``sample_rows`` of it are
fetched and its columns typed from the values. Both sample inside the session the database
confirms read-only (opendata.sources.sql_session), as an extraction does.

The engine comes from the Airflow connection as the SQL source builds it (opendata.sources.sql),
so the credentials stay there; what the draft writes of the connection is its kind, host and
database, never a user or a password.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from opendata.scaffold.columns import profile_columns
from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.names import title
from opendata.scaffold.profile import SourceProfile
from opendata.scaffold.typemap import guess_sql, guess_values
from opendata.sources.base import ExtractError
from opendata.spec.errors import did_you_mean
from opendata.spec.sql_guard import UnsafeQuery, check_read_only

# An identifier as written: plain, or double-quoted ("" inside for a quote).
_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_TABLE = re.compile(rf"(?P<first>{_PART})(?:\.(?P<second>{_PART}))?")

# A sample must not run for ever (a query over a large table computes it all before its first row).
STATEMENT_TIMEOUT_MS = 120_000

_PRETTY = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB", "sqlite": "SQLite",
           "mssql": "SQL Server", "oracle": "Oracle"}


def parse_table_name(text: str) -> tuple[str | None, str] | None:
    """(schema, table) of a bare table name, or None when ``text`` is not one (a query)."""
    match = _TABLE.fullmatch(text.strip())
    if match is None:
        return None
    parts = [_unquote(p) for p in (match.group("first"), match.group("second")) if p is not None]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _unquote(part: str) -> str:
    # Unquoted names are case-insensitive (folded to lower case, as SQLAlchemy's inspector expects).
    return part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()


def profile_sql(conn_id: str, table_or_query: str, sample_rows: int) -> SourceProfile:
    text = table_or_query.strip()
    table = parse_table_name(text)
    statement = None
    if table is None:
        try:
            statement = check_read_only(text)
        except UnsafeQuery as exc:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise ScaffoldError(f"{shown!r} is neither a table name (name or schema.name) nor one read-only query: "
                                f"{exc}; nothing was run") from None
    engine = _engine(conn_id)
    try:
        if table is not None:
            return _profile_table(engine, conn_id, table[0], table[1], sample_rows)
        assert statement is not None
        return _profile_query(engine, conn_id, text, statement, sample_rows)
    except SQLAlchemyError as exc:
        raise ScaffoldError(f"connection {conn_id!r}: {_first_line(exc, engine)}") from None
    finally:
        engine.dispose()


def _engine(conn_id: str) -> sa.Engine:
    from opendata.sources.sql_session import sqlalchemy_engine

    try:
        return sqlalchemy_engine(conn_id)
    except ExtractError as exc:
        raise ScaffoldError(str(exc)) from None


def _profile_table(engine: sa.Engine, conn_id: str, schema: str | None, name: str,
                   sample_rows: int) -> SourceProfile:
    inspector = sa.inspect(engine)
    shown = f"{schema}.{name}" if schema else name
    try:
        found = inspector.has_table(name, schema=schema) or name in inspector.get_view_names(schema=schema)
    except SQLAlchemyError as exc:
        of = f" of schema {schema!r}" if schema else ""
        raise ScaffoldError(f"connection {conn_id!r}: cannot list the tables{of}: {_first_line(exc, engine)}") from None
    if not found:
        known = inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
        where = f"schema {schema!r}" if schema else "the default schema"
        raise ScaffoldError(f"no table or view {shown!r} in {where} of connection {conn_id!r}"
                            + (f"; it has {len(known)}" if known else "; it has none"), did_you_mean(name, known))
    try:
        described = inspector.get_columns(name, schema=schema)
        primary_key = list(inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
    except NoSuchTableError:
        raise ScaffoldError(f"no table or view {shown!r} in connection {conn_id!r}") from None
    table_comment = _table_comment(inspector, name, schema)
    names = [str(column["name"]) for column in described]
    types = {str(column["name"]): column["type"] for column in described}
    preparer = engine.dialect.identifier_preparer
    relation = (f"{preparer.quote_schema(schema)}." if schema else "") + preparer.quote(name)
    columns_read: list[sa.ColumnClause[Any]] = [sa.column(n) for n in names]
    sample = sa.select(*columns_read).select_from(sa.table(name, schema=schema)).limit(sample_rows)
    rows = _sample(engine, conn_id, sample)
    columns = profile_columns(
        names, rows, guess=lambda field, values, i: guess_sql(types[names[i]], field, values),
        source_types={n: _type_name(types[n], engine) for n in names},
        nullable={str(c["name"]): c.get("nullable") for c in described},
        comments={str(c["name"]): c.get("comment") for c in described}, primary_key=primary_key)
    profile = SourceProfile(
        columns=columns, row_count_sampled=len(rows), primary_key=tuple(primary_key), source={},
        source_system=_source_system(engine), title=title(name), table_comment=table_comment,
        notes=(f"types from the database; {len(rows)} rows sampled",), relation=relation,
        quoted_columns={n: preparer.quote(n) for n in names})
    profile.source.update({"kind": "sql", "conn_id": conn_id, "query": profile.table_query(names)})
    return profile


def _profile_query(engine: sa.Engine, conn_id: str, text: str, statement: str, sample_rows: int) -> SourceProfile:
    # The statement as a subquery, limited the dialect's way (LIMIT, TOP, FETCH FIRST).
    sub = sa.text(f"\n{statement}\n").columns().subquery("opendata_sample")
    names, rows = _sample_with_names(engine, conn_id, sa.select(sa.literal_column("*")).select_from(sub)
                                     .limit(sample_rows))
    columns = profile_columns(names, rows, guess=lambda field, values, i: guess_values(field, values,
                                                                                        infer_text=False))
    return SourceProfile(
        columns=columns, row_count_sampled=len(rows), primary_key=(),
        source={"kind": "sql", "conn_id": conn_id, "query": text}, source_system=_source_system(engine), title="",
        notes=(f"types from the values of {len(rows)} sampled rows of the query",))


def _sample(engine: sa.Engine, conn_id: str, statement: sa.Executable) -> list[tuple[Any, ...]]:
    return _sample_with_names(engine, conn_id, statement)[1]


def _sample_with_names(engine: sa.Engine, conn_id: str,
                       statement: sa.Executable) -> tuple[list[str], list[tuple[Any, ...]]]:
    from opendata.sources.sql_session import read_only_connection

    try:
        with read_only_connection(engine, conn_id) as conn:
            if engine.dialect.name == "postgresql":
                # Local to the read-only transaction the session set up: nothing outlives it.
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            result = conn.execute(statement)
            return [str(k) for k in result.keys()], [tuple(row) for row in result.fetchall()]
    except ExtractError as exc:
        raise ScaffoldError(str(exc)) from None


def _table_comment(inspector: sa.Inspector, name: str, schema: str | None) -> str | None:
    try:
        text = inspector.get_table_comment(name, schema=schema).get("text")
    except (NotImplementedError, SQLAlchemyError):
        return None
    return str(text).strip() if text and str(text).strip() else None


def _type_name(sa_type: Any, engine: sa.Engine) -> str:
    try:
        return str(sa_type.compile(dialect=engine.dialect))
    except Exception:  # noqa: BLE001 - a type the dialect cannot print: its class name is enough
        return type(sa_type).__name__.upper()


def _source_system(engine: sa.Engine) -> str:
    """What the draft's ``source_system`` says of the connection: its kind, database and host,
    never its user or password."""
    url = engine.url
    kind = _PRETTY.get(engine.dialect.name, engine.dialect.name)
    database = (url.database or "").rsplit("/", 1)[-1]
    if engine.dialect.name == "sqlite":
        return f"{kind} database {database or '(in memory)'}"
    where = f" on {url.host}" if url.host else ""
    return f"{kind} database {database}{where}" if database else f"{kind} database{where}"


def _first_line(exc: BaseException, engine: sa.Engine) -> str:
    """A driver's message, first line only, without anything of the connection's password."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    password = engine.url.password
    if password:
        line = line.replace(str(password), "***")
    return line[:300]
