"""The lint-time check that an extraction query is exactly one read statement (pure, no database).

Literals and comments must not fool it either way: a ``;`` or a keyword inside them means
nothing, and a literal that databases end in different places is refused.
"""

from __future__ import annotations

import pytest

from opendata.spec.sql_guard import UnsafeQuery, check_read_only, find_problem

READS = [
    "SELECT 1",
    "select * from building_permits",
    "SELECT 1;",
    "SELECT 1 ;  ; ",
    "SELECT ';' AS x",
    "SELECT 'DROP TABLE t; DELETE FROM t' AS note FROM t",
    "SELECT 'it''s; fine' AS x",
    'SELECT "delete", "update;" FROM t',
    "SELECT `insert` FROM t",
    "SELECT [permit nbr] FROM t",
    "SELECT 1 -- ; DROP TABLE t\n",
    "SELECT 1 /* ; DROP TABLE t */",
    "-- the permits\n/* all of them */\nSELECT permit_nbr FROM building_permits -- done",
    "WITH recent AS (SELECT * FROM t WHERE d > '2026-01-01') SELECT * FROM recent",
    "WITH RECURSIVE n(i) AS (VALUES (1) UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n",
    "VALUES (1, 'a'), (2, 'b')",
    "(SELECT a FROM t) UNION (SELECT a FROM u)",
    "SELECT comment, \"set\", status FROM t ORDER BY 1",
    "SELECT replace(address, ';', ',') AS address FROM t",
    "SELECT substring(zip FROM 1 FOR 5) FROM t",
    "SELECT x::text, y FROM t WHERE z ~ '^a;b$'",
    "SELECT pg_delete_marker, updated_at, created_by FROM t",
    "SELECT 1 FROM t WHERE a = 'x;y' AND b = E'\\n'",
]


@pytest.mark.parametrize("sql", READS)
def test_one_read_statement_passes(sql):
    assert find_problem(sql) is None
    check_read_only(sql)


REFUSED = [
    # A second statement, however it is hidden.
    ("SELECT 1; DROP TABLE t", 1, "a second statement (DROP ...)"),
    ("SELECT 1;\nDELETE FROM t;", 2, "a second statement (DELETE ...)"),
    ("SELECT ';'; UPDATE t SET a = 1", 1, "a second statement (UPDATE ...)"),
    ("SELECT 1; COMMIT", 1, "a second statement (COMMIT ...)"),
    ("SELECT 1 /* a */; /* b */ SELECT 2", 1, "a second statement (SELECT ...)"),
    # Not a read statement at all.
    ("DROP TABLE building_permits", 1, "the statement starts with DROP"),
    ("delete from t", 1, "the statement starts with delete"),
    ("INSERT INTO t VALUES (1)", 1, "the statement starts with INSERT"),
    ("UPDATE t SET a = 1", 1, "the statement starts with UPDATE"),
    ("TRUNCATE t", 1, "the statement starts with TRUNCATE"),
    ("COPY (SELECT 1) TO PROGRAM 'rm -rf /'", 1, "the statement starts with COPY"),
    ("CALL cleanup()", 1, "the statement starts with CALL"),
    ("SET TRANSACTION READ WRITE", 1, "the statement starts with SET"),
    ("PRAGMA query_only = OFF", 1, "the statement starts with PRAGMA"),
    ("EXPLAIN ANALYZE DELETE FROM t", 1, "the statement starts with EXPLAIN"),
    ("ATTACH DATABASE 'x.db' AS x", 1, "the statement starts with ATTACH"),
    ("", 1, "the query is empty"),
    (" ; -- nothing\n", 1, "the query is empty"),
    # Data-modifying WITH clauses.
    ("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone", 1, "DELETE changes data or the schema"),
    ("WITH x AS (\n  UPDATE t SET a = 1 RETURNING a\n) SELECT a FROM x", 2, "UPDATE changes data"),
    ("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", 1, "INSERT changes data"),
    ("WITH x AS (MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE) SELECT 1", 1, "MERGE changes data"),
    # SELECT ... INTO and locks.
    ("SELECT * INTO backup FROM t", 1, "SELECT ... INTO writes"),
    ("SELECT * FROM t INTO OUTFILE '/tmp/t.csv'", 1, "SELECT ... INTO writes"),
    ("SELECT * FROM t\nFOR UPDATE", 2, "a locking clause (FOR UPDATE)"),
    ("SELECT * FROM t FOR NO KEY UPDATE", 1, "a locking clause (FOR NO KEY UPDATE)"),
    ("SELECT * FROM t FOR SHARE", 1, "a locking clause (FOR SHARE)"),
    ("SELECT * FROM t FOR KEY SHARE SKIP LOCKED", 1, "a locking clause (FOR KEY SHARE)"),
    ("SELECT * FROM t LOCK IN SHARE MODE", 1, "a locking clause (LOCK IN SHARE MODE)"),
    ("SELECT * FROM t WITH (UPDLOCK)", 1, "a locking table hint (UPDLOCK)"),
    # Functions that act outside a read-only transaction.
    ("SELECT dblink_exec('dbname=x', 'DROP TABLE t')", 1, "calls dblink_exec()"),
    ("SELECT * FROM public.dblink('dbname=x', 'DELETE FROM t RETURNING 1') AS r(i int)", 1, "calls dblink()"),
    ('SELECT "dblink_exec"(\'x\', \'y\')', 1, "calls dblink_exec()"),
    ("SELECT U&\"\\0064blink_exec\"('x', 'y')", 1, "calls a function by an escaped (U&) name"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", 1, "calls set_config()"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", 1, "calls pg_terminate_backend()"),
    ("SELECT pg_read_file('/etc/passwd')", 1, "calls pg_read_file()"),
    ("SELECT pg_advisory_lock(1)", 1, "calls pg_advisory_lock()"),
    ("SELECT nextval('permit_seq')", 1, "calls nextval()"),
    ("SELECT LOAD_FILE('/etc/passwd')", 1, "calls load_file()"),
    ("SELECT load_extension('evil')", 1, "calls load_extension()"),
    ("SELECT * FROM OPENQUERY(remote, 'DELETE FROM t')", 1, "calls openquery()"),
    # Literals and comments that never end.
    ("SELECT 'open", 1, "a string literal that never ends"),
    ("SELECT 1 /* open", 1, "a comment that never ends"),
    ('SELECT "open FROM t', 1, "never ends"),
    # MySQL runs what is inside an executable comment.
    ("SELECT 1 /*! ; DROP TABLE t */", 1, "an executable comment"),
    ("SELECT 1 /*M!100000 ; DROP TABLE t */", 1, "an executable comment"),
]


@pytest.mark.parametrize(("sql", "line", "reason"), REFUSED)
def test_anything_else_is_refused_with_line_and_reason(sql, line, reason):
    problem = find_problem(sql)
    assert problem is not None, sql
    assert problem.line == line
    assert reason in problem.reason
    with pytest.raises(UnsafeQuery) as caught:
        check_read_only(sql)
    assert str(caught.value) == str(problem)


# Queries databases read differently: one of them would run a second statement.
AMBIGUOUS = [
    # PostgreSQL and SQLite: 'a\' is a whole string, so DROP runs; MySQL: one string.
    ("SELECT 'a\\' ; DROP TABLE t; -- '", "PostgreSQL's rules"),
    # MySQL: '#' starts a comment; elsewhere it is an operator and DROP runs.
    ("SELECT 1 # ; DROP TABLE t", "PostgreSQL's rules"),
    # MySQL: '--x' is minus minus x, not a comment, so DROP runs.
    ("SELECT 1 --x; DROP TABLE t", "MySQL's and MariaDB's rules"),
    # PostgreSQL nests block comments; the others end at the first '*/' and run DROP.
    ("SELECT 1 /* /* */ ; DROP TABLE t; */", "MySQL's and MariaDB's rules"),
    # PostgreSQL: an escape string, so the ';' is inside it; SQLite: the string ends at \'.
    ("SELECT E'x\\' ; DROP TABLE t; -- '", "SQLite's and SQL Server's rules"),
    # PostgreSQL's $$ quoting is an operator and a name elsewhere.
    ("SELECT $$ ; DROP TABLE t; $$", "MySQL's and MariaDB's rules"),
    # MySQL: a double-quoted string with a backslash-escaped quote.
    ('SELECT "a\\" ; DROP TABLE t; -- "', "PostgreSQL's rules"),
]


@pytest.mark.parametrize(("sql", "rules"), AMBIGUOUS)
def test_a_query_databases_read_differently_is_refused_naming_the_reading(sql, rules):
    problem = find_problem(sql)
    assert problem is not None
    assert "a second statement (DROP ...)" in problem.reason
    assert f"read with {rules}" in problem.reason


def test_a_keyword_in_brackets_is_a_name_only_to_some_databases():
    problem = find_problem("SELECT [drop table] FROM t")
    assert problem is not None and problem.reason.startswith("drop changes data or the schema")
    assert "read with PostgreSQL's rules" in problem.reason


def test_the_statement_comes_back_without_its_terminator_and_outer_comments():
    sql = "-- permits\nSELECT a, -- first\n  b FROM t  -- done\n; -- after\n"
    assert check_read_only(sql) == "SELECT a, -- first\n  b FROM t"
    assert check_read_only("SELECT ';' AS x;") == "SELECT ';' AS x"


def test_the_bundled_queries_pass():
    from tests.conftest import REPO_ROOT

    for path in (REPO_ROOT / "include" / "sql").glob("*.sql"):
        assert find_problem(path.read_text(encoding="utf-8")) is None, path
