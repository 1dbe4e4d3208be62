"""SQL extraction only reads: the database itself refuses writes, on every dialect it runs on.

Each source database gets its own copy of the building-permits table (these tests try to
destroy it). Two locks are tested separately: the query text check (``sql_guard``, also run by
lint) and the read-only session (``sql_session``). The session is tested with the text check
out of the way, as if a write had got past it (a function or a view that writes looks like a
plain SELECT), and the table must survive.
"""

from __future__ import annotations

import secrets

import pandas as pd
import pytest
import sqlalchemy as sa

from opendata.samples.sql import PERMITS_TABLE, load_permits
from opendata.sources.base import ExtractError
from opendata.sources.sql_session import READ_ONLY_CONNECTIONS_ENV, read_only_connection
from opendata.sources.stage import extract_to_stage
from tests.conftest import PG_HOST, PG_PORT, PG_USER, SAMPLE_SOURCES, create_pg_database, drop_pg_database, pg_url
from tests.opendata.sources.test_extract import permits_with_source

ROWS = 4000
WRITES = [
    "DROP TABLE building_permits",
    "DELETE FROM building_permits",
    "UPDATE building_permits SET status = 'Hacked'",
    "INSERT INTO building_permits (permit_nbr, status) VALUES ('X-1', 'Hacked')",
    "CREATE TABLE smuggled (a int)",
]


def intact(engine: sa.Engine) -> None:
    """The table is there, with every row and no row changed."""
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {PERMITS_TABLE}").scalar() == ROWS
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {PERMITS_TABLE} WHERE status = 'Hacked'").scalar() == 0
        assert not sa.inspect(conn).has_table("smuggled")


def without_text_check(monkeypatch) -> None:
    """As if a write got past the query text check: only the database's read-only session is left.

    (``raising=False``: on code without the check this changes nothing, and the test shows what
    the session alone does.)"""
    monkeypatch.setattr("opendata.sources.sql.check_read_only", lambda query: query, raising=False)


# --- SQLite -------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_permits(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'permits.sqlite'}"
    load_permits(url, SAMPLE_SOURCES / "building_permits.csv")
    monkeypatch.setenv("AIRFLOW_CONN_PERMITS_RO", url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("write", WRITES)
def test_sqlite_session_refuses_every_write(sqlite_permits, write):
    with read_only_connection(sqlite_permits, "permits_ro") as conn, pytest.raises(sa.exc.DBAPIError) as caught:
        conn.exec_driver_sql(write)
    assert "readonly database" in str(caught.value)
    intact(sqlite_permits)


def test_sqlite_drop_table_as_the_query_is_refused_and_the_table_survives(sqlite_permits, tmp_path):
    spec = permits_with_source(conn_id="permits_ro", query_file=None, query="DROP TABLE building_permits")
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(spec, tmp_path / "x.parquet")
    assert str(caught.value) == (
        "dataset building-permits: source.query, line 1: the statement starts with DROP: an extraction runs one "
        "read statement, starting with SELECT, WITH or VALUES; nothing was run")
    intact(sqlite_permits)


@pytest.mark.parametrize("write", WRITES)
def test_sqlite_write_past_the_text_check_is_refused_by_the_database(sqlite_permits, tmp_path, monkeypatch, write):
    without_text_check(monkeypatch)
    spec = permits_with_source(conn_id="permits_ro", query_file=None, query=write)
    with pytest.raises(ExtractError, match="attempt to write a readonly database"):
        extract_to_stage(spec, tmp_path / "x.parquet")
    intact(sqlite_permits)


def test_sqlite_read_only_extraction_still_reads_everything(sqlite_permits, tmp_path):
    staged = extract_to_stage(permits_with_source(conn_id="permits_ro"), tmp_path / "x.parquet")
    assert staged.rows == ROWS


def test_the_read_only_connection_is_never_pooled_again(sqlite_permits):
    with read_only_connection(sqlite_permits, "permits_ro") as conn:
        conn.exec_driver_sql("SELECT 1")
    # The next user of the same engine gets a fresh session, not the read-only one.
    with sqlite_permits.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0


# --- PostgreSQL ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pg_permits():
    name = create_pg_database(f"opendata_ro_{secrets.token_hex(4)}")
    load_permits(pg_url(name), SAMPLE_SOURCES / "building_permits.csv")
    with sa.create_engine(pg_url(name)).begin() as conn:
        # What a text check cannot see: functions that write, called from a plain SELECT.
        conn.exec_driver_sql("CREATE SEQUENCE permit_seq")
        conn.exec_driver_sql("CREATE FUNCTION next_permit() RETURNS bigint LANGUAGE sql AS "
                             "$$ SELECT nextval('permit_seq') $$")
        conn.exec_driver_sql("CREATE FUNCTION drop_permits() RETURNS int LANGUAGE plpgsql AS "
                             "$$ BEGIN DROP TABLE building_permits; RETURN 1; END $$")
        conn.exec_driver_sql("CREATE FUNCTION hack_permits() RETURNS int LANGUAGE plpgsql AS "
                             "$$ BEGIN UPDATE building_permits SET status = 'Hacked'; RETURN 1; END $$")
    yield name
    drop_pg_database(name)


@pytest.fixture
def pg_conn(monkeypatch, pg_permits):
    monkeypatch.setenv("AIRFLOW_CONN_PERMITS_PG_RO", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_permits}")
    return "permits_pg_ro"


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
@pytest.mark.parametrize("write", WRITES)
def test_postgres_session_refuses_every_write_on_both_drivers(pg_permits, driver, write):
    engine = sa.create_engine(pg_url(pg_permits, driver))
    try:
        with read_only_connection(engine, "permits_pg_ro") as conn, pytest.raises(sa.exc.DBAPIError) as caught:
            conn.exec_driver_sql(write)
        assert "read-only transaction" in str(caught.value)
        intact(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_postgres_session_cannot_be_switched_back_by_the_query(pg_permits, driver):
    engine = sa.create_engine(pg_url(pg_permits, driver))
    try:
        with read_only_connection(engine, "permits_pg_ro") as conn:
            conn.exec_driver_sql("SELECT 1")
            with pytest.raises(sa.exc.DBAPIError, match="must be set before any query"):
                conn.exec_driver_sql("SELECT set_config('transaction_read_only', 'off', true)")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_in_autocommit_cannot_be_made_read_only_and_is_refused(pg_permits):
    """SET TRANSACTION outside a transaction block only warns: the check afterwards catches it."""
    engine = sa.create_engine(pg_url(pg_permits), isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(ExtractError) as caught, read_only_connection(engine, "permits_pg_ro"):
            pass
        assert str(caught.value) == ("connection 'permits_pg_ro': the database did not confirm a read-only "
                                     "session (transaction_read_only is off); nothing was run")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_session_defaults_are_left_alone(pg_permits):
    """Only the transaction is read-only: behind a transaction-pooling PgBouncer a session setting
    would outlive this connection and make other clients read-only."""
    engine = sa.create_engine(pg_url(pg_permits))
    try:
        with read_only_connection(engine, "permits_pg_ro") as conn:
            assert conn.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "off"
            assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(("query", "refused"), [
    ("SELECT drop_permits() AS permit_nbr", "cannot execute DROP TABLE in a read-only transaction"),
    ("SELECT hack_permits() AS permit_nbr", "cannot execute UPDATE in a read-only transaction"),
])
def test_postgres_function_that_writes_is_refused_by_the_database(pg_conn, pg_permits, tmp_path, query, refused):
    spec = permits_with_source(conn_id=pg_conn, query_file=None, query=query)
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(spec, tmp_path / "x.parquet")
    assert refused in str(caught.value)
    intact(sa.create_engine(pg_url(pg_permits)))


@pytest.mark.postgres
def test_postgres_sequence_is_not_advanced_by_an_extraction(pg_conn, pg_permits, tmp_path):
    """nextval() is not undone by a rollback: without a read-only transaction it would stick."""
    query = "SELECT next_permit() AS seq, * FROM building_permits"
    with pytest.raises(ExtractError, match=r"cannot execute nextval\(\) in a read-only transaction"):
        extract_to_stage(permits_with_source(conn_id=pg_conn, query_file=None, query=query), tmp_path / "x.parquet")
    with sa.create_engine(pg_url(pg_permits)).connect() as conn:
        assert conn.exec_driver_sql("SELECT last_value, is_called FROM permit_seq").one() == (1, False)


@pytest.mark.postgres
def test_postgres_read_only_extraction_streams_in_chunks(pg_conn, tmp_path, caplog):
    caplog.set_level("INFO", logger="opendata.sources.stage")
    staged = extract_to_stage(permits_with_source(conn_id=pg_conn, chunk_size=1000), tmp_path / "x.parquet")
    assert staged.rows == ROWS
    assert len([r for r in caplog.records if "rows so far" in r.getMessage()]) == 4


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_postgres_read_only_session_uses_a_server_side_cursor(pg_permits, driver):
    engine = sa.create_engine(pg_url(pg_permits, driver))
    try:
        with read_only_connection(engine, "permits_pg_ro") as conn:
            conn.execution_options(stream_results=True, max_row_buffer=500)
            result = conn.execute(sa.text(f"SELECT * FROM {PERMITS_TABLE}"))
            assert result.context._is_server_side
            assert len(result.fetchmany(500)) == 500
            result.close()
    finally:
        engine.dispose()


# --- MySQL and MariaDB (the machine's MariaDB, through PyMySQL) -----------------------------------

MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@pytest.fixture
def mariadb_permits(monkeypatch):
    # PyMySQL is pinned in requirements-dev.txt: imported for real (a missing driver fails). A
    # machine without MariaDB skips, and says so (.ci/run starts the machine's MariaDB when down).
    table = f"permits_ro_{secrets.token_hex(4)}"
    try:
        load_permits(MARIADB_URL, SAMPLE_SOURCES / "building_permits.csv", table=table)
    except sa.exc.OperationalError as exc:
        pytest.skip(f"MariaDB is not reachable at 127.0.0.1:3306: {exc.orig}")
    engine = sa.create_engine(MARIADB_URL)
    with engine.begin() as conn:
        # Aria keeps no transactions: a write that got through would stay, whatever the rollback.
        conn.exec_driver_sql(f"ALTER TABLE {table} ENGINE=Aria")
        conn.exec_driver_sql(f"CREATE FUNCTION {table}_purge() RETURNS INT MODIFIES SQL DATA "
                             f"BEGIN DELETE FROM {table}; RETURN 1; END")
    yield engine, table
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {table}_purge")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}_smuggled")
    engine.dispose()


def mariadb_intact(engine: sa.Engine, table: str) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == ROWS
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE status = 'Hacked'").scalar() == 0
        assert not sa.inspect(conn).has_table(f"{table}_smuggled")


@pytest.mark.parametrize("write", WRITES)
def test_mariadb_session_refuses_every_write(mariadb_permits, write):
    engine, table = mariadb_permits
    with read_only_connection(engine, "permits_maria") as conn, pytest.raises(sa.exc.DBAPIError) as caught:
        # One MariaDB "test" database serves every test run on the machine: the names are this test's own.
        conn.exec_driver_sql(write.replace(PERMITS_TABLE, table).replace("smuggled", f"{table}_smuggled"))
    assert "READ ONLY transaction" in str(caught.value)
    mariadb_intact(engine, table)


def test_mariadb_session_stays_read_only_after_its_transaction_ends(mariadb_permits):
    """DDL commits implicitly and leaves a read-only transaction (tried: a READ ONLY transaction
    alone let DROP TABLE through); the session itself must stay read-only after it."""
    engine, table = mariadb_permits
    with read_only_connection(engine, "permits_maria") as conn:
        conn.exec_driver_sql("COMMIT")
        with pytest.raises(sa.exc.DBAPIError, match="READ ONLY transaction"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
    mariadb_intact(engine, table)


def test_mariadb_function_that_writes_is_refused_by_the_database(mariadb_permits, monkeypatch, tmp_path):
    engine, table = mariadb_permits
    monkeypatch.setattr("opendata.sources.sql.sqlalchemy_engine", lambda conn_id: sa.create_engine(MARIADB_URL))
    query = f"SELECT {table}_purge() AS purged"
    with pytest.raises(ExtractError, match="READ ONLY transaction"):
        extract_to_stage(permits_with_source(conn_id="permits_maria", query_file=None, query=query),
                         tmp_path / "x.parquet")
    mariadb_intact(engine, table)


def test_mariadb_read_only_extraction_streams_in_chunks(mariadb_permits, monkeypatch, tmp_path, caplog):
    engine, table = mariadb_permits
    monkeypatch.setattr("opendata.sources.sql.sqlalchemy_engine", lambda conn_id: sa.create_engine(MARIADB_URL))
    caplog.set_level("INFO", logger="opendata.sources.stage")
    spec = permits_with_source(conn_id="permits_maria", query_file=None, query=f"SELECT * FROM {table}")
    staged = extract_to_stage(spec, tmp_path / "x.parquet")
    assert staged.rows == ROWS
    assert len([r for r in caplog.records if "rows so far" in r.getMessage()]) == 4


# --- any other database ---------------------------------------------------------------------------

@pytest.fixture
def other_dialect(sqlite_permits, monkeypatch):
    """A database the pipeline has no means to make read-only (a SQLite engine under another name)."""
    def engine(conn_id: str) -> sa.Engine:
        made = sa.create_engine(str(sqlite_permits.url))
        made.dialect.name = "oracle"
        return made

    monkeypatch.setattr("opendata.sources.sql.sqlalchemy_engine", engine)
    return sqlite_permits


def test_other_database_is_refused_unless_declared_read_only(other_dialect, monkeypatch, tmp_path):
    spec = permits_with_source(conn_id="warehouse")
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(spec, tmp_path / "x.parquet")
    assert str(caught.value) == (
        "dataset building-permits: connection 'warehouse' is a oracle database, and the pipeline can make only "
        "PostgreSQL, SQLite, MySQL and MariaDB sessions read-only; nothing was run. Give the connection an "
        f"account that can only read (SELECT grants only), then list warehouse in {READ_ONLY_CONNECTIONS_ENV} "
        "to say so")
    assert not (tmp_path / "x.parquet").exists()
    monkeypatch.setenv(READ_ONLY_CONNECTIONS_ENV, "other_db, warehouse")
    assert extract_to_stage(spec, tmp_path / "x.parquet").rows == ROWS


def test_a_database_that_does_not_confirm_read_only_is_refused(sqlite_permits, monkeypatch):
    # A proxy or driver that swallows the setting: the session is asked, and says no.
    from opendata.sources import sql_session

    real = sa.Connection.exec_driver_sql

    def ignore_pragma(self, statement, *args, **kwargs):
        return real(self, "SELECT 1" if statement == "PRAGMA query_only = ON" else statement, *args, **kwargs)

    monkeypatch.setattr(sa.Connection, "exec_driver_sql", ignore_pragma)
    with pytest.raises(ExtractError) as caught, sql_session.read_only_connection(sqlite_permits, "permits_ro"):
        pass
    assert str(caught.value) == ("connection 'permits_ro': the database did not confirm a read-only session "
                                 "(query_only is 0); nothing was run")


def test_read_only_frames_match_a_plain_read(sqlite_permits):
    with read_only_connection(sqlite_permits, "permits_ro") as conn:
        frame = pd.read_sql_query(sa.text(f"SELECT * FROM {PERMITS_TABLE} ORDER BY permit_nbr"), conn)
    with sqlite_permits.connect() as conn:
        plain = pd.read_sql_query(sa.text(f"SELECT * FROM {PERMITS_TABLE} ORDER BY permit_nbr"), conn)
    pd.testing.assert_frame_equal(frame, plain)
