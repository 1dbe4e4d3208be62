"""`opendata lint` refuses a SQL source whose query is not one read statement, naming the dataset
file, its line and field, the query's line and the reason."""

from __future__ import annotations

import subprocess
import sys

from tests.opendata.spec.conftest import edit, include_copy  # noqa: F401 (fixture)

PERMITS = "datasets/building-and-safety/building-permits.yaml"


def run_lint(include) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opendata", "lint", "--include", str(include)],
                          capture_output=True, text=True, timeout=120)


def test_a_query_file_with_a_second_statement_is_refused(include_copy):  # noqa: F811
    query = include_copy / "sql" / "building_permits.sql"
    query.write_text(query.read_text() + ";\nDROP TABLE building_permits;\n")
    result = run_lint(include_copy)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{include_copy / PERMITS}:45: source.query_file: building_permits.sql is not one read statement: "
        f"line 20: a second statement (DROP ...) follows the first; an extraction runs exactly one read statement"
    ]


def test_an_inline_query_with_a_data_modifying_cte_is_refused(include_copy):  # noqa: F811
    path = include_copy / PERMITS
    edit(path, "  query_file: building_permits.sql",
         "  query: 'WITH gone AS (DELETE FROM building_permits RETURNING *) SELECT * FROM gone'")
    result = run_lint(include_copy)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:45: source.query: the query is not one read statement: line 1: DELETE changes data or the "
        f"schema: an extraction only reads (a data-modifying WITH clause is refused too)"
    ]


def test_a_comment_or_literal_with_a_semicolon_is_fine(include_copy):  # noqa: F811
    query = include_copy / "sql" / "building_permits.sql"
    query.write_text("-- one; two\n" + query.read_text().replace("FROM building_permits",
                                                                   "FROM building_permits WHERE status <> ';'"))
    result = run_lint(include_copy)
    assert result.returncode == 0, result.stderr
