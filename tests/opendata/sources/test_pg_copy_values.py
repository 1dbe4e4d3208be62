"""The COPY-into-Arrow read of PostgreSQL gives exactly what the general path (SQLAlchemy +
psycopg + pandas) gave: the same chunks, the same staged file, the same fingerprints.

One table with every common PostgreSQL type, NULLs, NaN and infinities, time zones across a
daylight-saving change (the database's TimeZone is not UTC), numerics larger than a double,
read both ways with small chunks (so a chunk can be all NULL in a column, or hold one row).
"""

from __future__ import annotations

import secrets

import pandas as pd
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from opendata.sources.fingerprint import sidecar_path
from opendata.sources.pg_arrow import FAST_TYPES
from opendata.sources.sql import COPY_PATH_ENV, read_sql_chunks
from opendata.sources.stage import extract_to_stage
from opendata.spec.dataset import DatasetSpec, SqlSource
from tests.conftest import PG_HOST, PG_PORT, PG_USER, create_pg_database, drop_pg_database

TABLE = """
CREATE TABLE every_type (
  id text PRIMARY KEY, v varchar(10), c char(4), nm name, i2 int2, i4 int4, i8 int8, i8n int8, f4 real,
  f8 double precision, n numeric, n2 numeric(12,2), b boolean, bn boolean, ts timestamp, tstz timestamptz,
  d date, tm time, u uuid, j json, jb jsonb, allnull text);
INSERT INTO every_type VALUES
 ('r1','a','ab','nm',1,2,9007199254740993,5,0.1,0.1,1.50,3.10,true,true,'2020-03-08 01:59:59.123456',
  '2020-03-08 06:59:59.999+00','2020-01-01','12:34:56.789','aa458866-a4e2-4d3f-9972-1c3bd9301dd5',
  '{"a":1,"b":[1,2]}','{"z":null,"a":"é"}',NULL),
 ('r2',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,false,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL),
 ('r3','ü😀','x','n',-32768,2147483647,-9223372036854775808,NULL,'NaN','NaN','NaN',-0.01,false,NULL,
  '1900-01-01 00:00:00','2020-07-01 12:00:00+05:30','0001-01-01','00:00:00','00000000-0000-0000-0000-000000000000',
  '[1,"2",null]','3',NULL),
 ('r4','','','',0,0,0,7,'Infinity','-Infinity','123456789012345678901234567890.123456789',99999999.99,true,true,
  '2262-04-11 23:47:16.854775','1970-01-01 00:00:00+00','9999-12-31','23:59:59.999999',NULL,'null','"s"',NULL),
 ('r5','x','y','z',5,5,5,5,3.4028235e38,1e308,1e-20,0,true,NULL,'3000-01-01 00:00:00','2500-06-01 00:00:00+00',
  '2024-02-29','01:02:03',NULL,'{}','[]',NULL),
 ('r6','x','y','z',5,5,5,5,1.17549435e-38,5e-324,-0.000,0,true,NULL,'2020-11-01 01:30:00',
  '2020-11-01 05:30:00+00','2024-02-29','01:02:03',NULL,'{}','[]',NULL);
"""

# How the dataset file publishes them: every column as text, and as the types it can be.
PUBLISHED = [("id", "text"), ("v", "text"), ("c", "text"), ("nm", "text"), ("i2", "number"), ("i4", "number"),
             ("i8", "number"), ("i8n", "text"), ("f4", "number"), ("f8", "number"), ("n", "number"),
             ("n2", "text"), ("b", "checkbox"), ("bn", "text"), ("ts", "floating_timestamp"),
             ("tstz", "fixed_timestamp"), ("d", "floating_timestamp"), ("tm", "text"), ("u", "text"),
             ("allnull", "text")]
# (json arrays are left out of staging: the general path itself cannot type a list as text,
# pd.isna of a list; chunks with them are compared above, value for value.)
AS_TEXT = [name for name, _ in PUBLISHED]


@pytest.fixture(scope="module")
def every_type():
    import psycopg

    name = create_pg_database(f"opendata_types_{secrets.token_hex(4)}")
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'America/New_York'")
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name, autocommit=True) as conn:
        conn.execute(TABLE)
    yield name
    drop_pg_database(name)


@pytest.fixture
def types_conn(monkeypatch, every_type):
    monkeypatch.setenv("AIRFLOW_CONN_EVERY_TYPE", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{every_type}")
    return "every_type"


def spec_for(conn_id: str, columns: list[tuple[str, str]], chunk_size: int) -> DatasetSpec:
    from tests.opendata.sources.test_extract import spec_with

    data = spec_with("building-permits").model_dump(mode="json")
    data.update(columns=[{"field_name": name, "display_name": name.upper(), "type": kind,
                          "description": f"Column {name}."} for name, kind in columns],
                quality={}, privacy={}, glossary={},
                source={"kind": "sql", "conn_id": conn_id, "chunk_size": 100,
                        "query": "SELECT " + ", ".join(name for name, _ in columns) + " FROM every_type ORDER BY id"})
    data["publishing"]["row_identifier"] = "id"
    spec = DatasetSpec.model_validate(data)
    # Below the file's minimum on purpose: chunks of one or two rows show per-chunk type inference.
    spec.source.__dict__["chunk_size"] = chunk_size
    return spec


def both_ways(monkeypatch, read):
    monkeypatch.setenv(COPY_PATH_ENV, "0")
    old = read("old")
    monkeypatch.setenv(COPY_PATH_ENV, "1")
    return old, read("new")


def staged_the_same_both_ways(monkeypatch, tmp_path, spec: DatasetSpec):
    """The extract staged by the general path and by COPY: the same file, checksum, coercion
    report and fingerprint. Returns both staged extracts."""
    old, new = both_ways(monkeypatch, lambda name: extract_to_stage(spec, tmp_path / name / "extract.parquet"))
    assert pq.read_table(old.path).equals(pq.read_table(new.path))
    assert old.checksum == new.checksum
    assert old.coercion == new.coercion
    prints = [ipc.open_file(str(sidecar_path(s.path))).read_all() for s in (old, new)]
    assert prints[0].equals(prints[1])
    return old, new


@pytest.mark.postgres
@pytest.mark.parametrize("chunk_size", [100, 1, 4])
def test_copy_chunks_are_the_general_paths_chunks(types_conn, monkeypatch, chunk_size, caplog):
    source = SqlSource.model_validate({"kind": "sql", "conn_id": types_conn, "chunk_size": 100,
                                       "query": "SELECT * FROM every_type ORDER BY id"})
    source = source.model_copy(update={"chunk_size": chunk_size})
    old, new = both_ways(monkeypatch, lambda _: list(read_sql_chunks(source)))
    assert "Reading through SQLAlchemy" not in caplog.text
    assert len(old) == len(new)
    for before, after in zip(old, new, strict=True):
        assert list(before.columns) == list(after.columns)
        for name in before.columns:
            assert before[name].dtype == after[name].dtype, name
            assert [repr(v) for v in before[name]] == [repr(v) for v in after[name]], name


@pytest.mark.postgres
@pytest.mark.parametrize("columns", [PUBLISHED, [(name, "text") for name in AS_TEXT]], ids=["typed", "as-text"])
@pytest.mark.parametrize("chunk_size", [100, 2])
def test_staged_file_and_fingerprints_are_the_same_both_ways(types_conn, monkeypatch, tmp_path, columns,
                                                              chunk_size):
    staged_the_same_both_ways(monkeypatch, tmp_path, spec_for(types_conn, columns, chunk_size))


@pytest.mark.postgres
def test_a_type_the_copy_path_does_not_read_goes_the_general_way(types_conn, monkeypatch, caplog):
    assert "interval" not in FAST_TYPES
    source = SqlSource.model_validate({"kind": "sql", "conn_id": types_conn, "chunk_size": 100,
                                       "query": "SELECT id, interval '1 day' AS iv, ARRAY[1, 2] AS arr "
                                                "FROM every_type"})
    old, new = both_ways(monkeypatch, lambda _: pd.concat(list(read_sql_chunks(source))))
    assert "Reading through SQLAlchemy (columns of types the COPY path does not read: iv (interval), arr (_int4))" \
        in caplog.text
    pd.testing.assert_frame_equal(old, new)


@pytest.mark.postgres
def test_incremental_filter_on_the_copy_path(types_conn, monkeypatch):
    source = SqlSource.model_validate({"kind": "sql", "conn_id": types_conn, "chunk_size": 100,
                                       "query": "SELECT id, ts, tstz, f8 FROM every_type"})
    for since in [("ts", pd.Timestamp("2020-03-08 00:00:00")), ("tstz", pd.Timestamp("2020-07-01", tz="UTC")),
                  ("f8", 0.5)]:
        old, new = both_ways(monkeypatch, lambda _, since=since: pd.concat(list(read_sql_chunks(source, since=since))))
        assert sorted(new["id"]) == sorted(old["id"]) and len(new) > 0, since


@pytest.mark.postgres
def test_copy_path_session_defaults_are_left_alone_and_the_transaction_is_read_only(types_conn):
    source = SqlSource.model_validate({
        "kind": "sql", "conn_id": types_conn, "chunk_size": 100,
        "query": "SELECT current_setting('transaction_read_only') AS tx, "
                 "current_setting('default_transaction_read_only') AS dflt"})
    frame = pd.concat(list(read_sql_chunks(source)))
    assert frame.to_dict("records") == [{"tx": "on", "dflt": "off"}]


@pytest.mark.postgres
def test_a_copy_read_stopped_half_way_leaves_no_session_behind(types_conn, every_type):
    """A reader that stops early (a missing column found in the first chunk) ends the COPY,
    rolls back and closes: no session of this database is left open."""
    import psycopg

    source = SqlSource.model_validate({"kind": "sql", "conn_id": types_conn, "chunk_size": 100,
                                       "query": "SELECT g AS n, repeat('x', 200) AS pad "
                                                "FROM generate_series(1, 300000) AS g"})
    chunks = read_sql_chunks(source)
    first = next(chunks)
    assert len(first) == 100
    chunks.close()
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres") as conn:
        left = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (every_type,)).fetchone()[0]
    assert left == 0


# Columns whose typing to the data dictionary is done on the Arrow batch (pg_arrow.typed_batch).
ARROW_TYPED = [("id", "text"), ("v", "text"), ("c", "url"), ("nm", "text"), ("i2", "number"), ("i4", "number"),
               ("i8", "number"), ("i8n", "number"), ("f8", "number"), ("n", "number"), ("n2", "number"),
               ("b", "checkbox"), ("bn", "checkbox"), ("ts", "floating_timestamp"), ("allnull", "text")]


def spy_typed(monkeypatch) -> list:
    from opendata.sources import pg_arrow, stage

    results = []

    def typed(*args):
        results.append(pg_arrow.typed_batch(*args))
        return results[-1]

    monkeypatch.setattr(stage, "typed_batch", typed)
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("chunk_size", [100, 2, 1])
def test_staged_file_typed_in_arrow_is_the_general_paths(types_conn, monkeypatch, tmp_path, chunk_size):
    spec = spec_for(types_conn, ARROW_TYPED, chunk_size)
    typed = spy_typed(monkeypatch)
    staged_the_same_both_ways(monkeypatch, tmp_path, spec)
    assert typed and all(batch is not None for batch in typed)  # the Arrow typing did every chunk


@pytest.mark.postgres
def test_arrow_typing_of_edge_values(types_conn, monkeypatch, tmp_path):
    """Timestamps before 1970 with sub-millisecond parts (pandas floors them), the extremes,
    NaN and infinities of numeric and float8 and ints past 2**53, booleans with NULLs."""
    spec = spec_for(types_conn, [("id", "text"), ("ts", "floating_timestamp"), ("n", "number"), ("f", "number"),
                                 ("i", "number"), ("b", "checkbox")], 3)
    query = """SELECT * FROM (VALUES
      ('a', timestamp '1969-12-31 23:59:59.9995', numeric 'NaN', float8 'NaN', int8 '9007199254740993', true),
      ('b', timestamp '1900-01-01 00:00:00.000001', numeric '-1.0005', float8 '-Infinity',
       int8 '-9223372036854775807', NULL),
      ('c', timestamp '0001-01-01 00:00:00.0005', numeric '1e-400', float8 '-0', int8 '9223372036854775807', false),
      ('d', timestamp '9999-12-31 23:59:59.999999', numeric '0.1', float8 'Infinity', NULL, NULL),
      ('e', NULL, NULL, NULL, int8 '-1', true),
      ('f', timestamp '1969-12-31 23:59:59.999999', numeric '-0', float8 '1e-320', int8 '0', false)
    ) AS t(id, ts, n, f, i, b)"""
    spec.source.__dict__["query"] = query
    typed = spy_typed(monkeypatch)
    _, new = staged_the_same_both_ways(monkeypatch, tmp_path, spec)
    assert typed and all(batch is not None for batch in typed)
    assert pq.read_table(new.path)["ts"].null_count == 1


@pytest.mark.postgres
def test_other_types_are_typed_by_pandas(types_conn, monkeypatch, tmp_path):
    typed = spy_typed(monkeypatch)
    spec = spec_for(types_conn, [("id", "text"), ("f4", "number"), ("tstz", "fixed_timestamp")], 100)
    staged = extract_to_stage(spec, tmp_path / "types" / "extract.parquet")
    assert typed == [None] and staged.rows == 6
