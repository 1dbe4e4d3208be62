"""`opendata new`'s errors: one line naming what is wrong, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from opendata.cli import main
from tests.opendata.scaffold.conftest import json_route


def _error(capsys, *argv) -> str:
    code = main(["new", *argv])
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("opendata new: "), captured.err
    return lines[0].removeprefix("opendata new: ")


def _nothing_written(include_dir) -> None:
    assert list((include_dir / "datasets").rglob("*.yaml")) == []


def test_unknown_department_with_a_hint(include_dir, capsys):
    message = _error(capsys, "trees", "--department", "sanitaton", "--file", "x.csv", "--include", str(include_dir))
    assert message == ("unknown department 'sanitaton': governance.yaml lists building-and-safety, "
                       "environmental-health, sanitation (did you mean 'sanitation'?)")


@pytest.mark.parametrize("dataset_id", ["../../etc/passwd", "Trees", "trees;rm"])
def test_hostile_ids(include_dir, capsys, dataset_id):
    message = _error(capsys, dataset_id, "--department", "sanitation", "--file", "x.csv", "--include",
                     str(include_dir))
    assert message.startswith(f"dataset id {dataset_id!r} must be lower-case letters")
    _nothing_written(include_dir)


def test_unknown_connection(include_dir, capsys):
    message = _error(capsys, "trees", "--department", "sanitation", "--sql", "no_such_conn", "trees",
                     "--include", str(include_dir))
    assert message == ("Airflow connection 'no_such_conn' is not defined: add it in Admin > Connections or as the "
                       "environment variable AIRFLOW_CONN_NO_SUCH_CONN")


@pytest.mark.postgres
def test_table_not_found_with_a_hint(pg_table, pg_conn, include_dir, capsys):
    table = pg_table("CREATE TABLE {table} (id integer)")
    typo = table.replace("scaffold_", "scafold_")
    message = _error(capsys, "trees", "--department", "sanitation", "--sql", pg_conn, typo, "--include",
                     str(include_dir))
    assert message.startswith(f"no table or view {typo!r} in the default schema of connection '{pg_conn}'; it has ")
    assert message.endswith(f"(did you mean '{table}'?)")
    _nothing_written(include_dir)


@pytest.mark.postgres
@pytest.mark.parametrize(("argument", "expected"), [
    ("{table}; DROP TABLE {table}", "is neither a table name (name or schema.name) nor one read-only query: "),
    ("DELETE FROM {table}", "is neither a table name (name or schema.name) nor one read-only query: "),
    ("SELECT * FROM {table}; DROP TABLE {table}", "nor one read-only query: "),
])
def test_a_query_that_writes_is_refused_before_it_runs(pg_table, pg_conn, pg_engine, include_dir, capsys, argument,
                                                       expected):
    table = pg_table("CREATE TABLE {table} (id integer); INSERT INTO {table} VALUES (1)")
    message = _error(capsys, "trees", "--department", "sanitation", "--sql", pg_conn, argument.format(table=table),
                     "--include", str(include_dir))
    assert expected in message and message.endswith("; nothing was run")
    with pg_engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 1


def test_connection_failure_never_shows_the_password(include_dir, capsys, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN_PG", "postgresql://someone:s3cret-pw@127.0.0.1:1/test")
    message = _error(capsys, "trees", "--department", "sanitation", "--sql", "broken_pg", "trees", "--include",
                     str(include_dir))
    assert message.startswith("connection 'broken_pg': ") and "s3cret-pw" not in message


def test_a_file_that_is_not_there(include_dir, capsys):
    message = _error(capsys, "trees", "--department", "sanitation", "--file", str(include_dir / "nope.csv"),
                     "--include", str(include_dir))
    assert message == f"{include_dir / 'nope.csv'}: no such file"


def test_an_existing_file_is_not_replaced(include_dir, capsys):
    target = include_dir / "datasets" / "sanitation" / "trees.yaml"
    target.parent.mkdir(parents=True)
    target.write_text("id: trees\n")
    message = _error(capsys, "trees", "--department", "sanitation", "--file", "x.csv", "--include", str(include_dir))
    assert message == f"{target} already exists; give --overwrite to replace it, or choose another id"
    assert target.read_text() == "id: trees\n"


def test_http_errors(include_dir, capsys, json_api):
    base, routes = json_api
    routes["/api"] = json_route({"data": {"items": {"a": 1}}})
    message = _error(capsys, "trees", "--department", "sanitation", "--http", f"{base}/gone", "--include",
                     str(include_dir))
    assert message == f"HTTP 404 Not Found from {base}/gone"
    message = _error(capsys, "trees", "--department", "sanitation", "--http", f"{base}/api", "--records-path",
                     "data.items", "--include", str(include_dir))
    assert message == "records path 'data.items' is an object with keys a, not a list of records"


def test_stdout_writes_nothing(include_dir, capsys, json_api):
    base, routes = json_api
    routes["/api"] = json_route([{"tree_id": "T1", "species": "Oak"}, {"tree_id": "T2", "species": "Elm"}])
    assert main(["new", "trees", "--department", "sanitation", "--http", f"{base}/api", "--stdout", "--include",
                 str(include_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Drafted by `opendata new` from JSON API at 127.0.0.1")
    assert captured.out.endswith("schema_version: 1\n")
    assert captured.err.startswith("Drafted (printed above, not written)")
    _nothing_written(include_dir)


def test_as_a_subprocess_no_traceback(include_dir):
    result = subprocess.run([sys.executable, "-m", "opendata", "new", "trees", "--department", "sanitation",
                             "--file", str(include_dir / "nope.csv"), "--include", str(include_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == f"opendata new: {include_dir / 'nope.csv'}: no such file\n"
