"""A file `opendata new` wrote fails lint naming each TODO; with every TODO written it passes the real
`opendata lint` and builds a DAG through the DAG factory."""

from __future__ import annotations

import subprocess
import sys

import pytest

from opendata.scaffold.command import NewRequest, run_new
from opendata.spec.errors import format_loc
from opendata.spec.loader import load_catalog
from opendata.spec.todo_check import todo_paths
from tests.opendata.scaffold.conftest import fill_todos, json_route, load
from tests.opendata.scaffold.test_new_file import HEADER, _csv_rows
from tests.opendata.scaffold.test_new_http import RECORDS
from tests.opendata.scaffold.test_new_sql import REQUESTS


def run_lint(include) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opendata", "lint", "--include", str(include)],
                          capture_output=True, text=True, timeout=300)


def _round_trip(include_dir, dataset_id: str, department: str) -> None:
    path = include_dir / "datasets" / department / f"{dataset_id}.yaml"
    todos = list(todo_paths(load(path)))
    assert todos, "a draft always leaves something for a person to write"
    result = run_lint(include_dir)
    assert result.returncode == 1
    # One error per TODO, at its own field and line, and nothing else.
    assert [line.split(": ", 2)[1] for line in result.stderr.splitlines()] == [format_loc(loc) for loc, _ in todos]
    assert all(": TODO left: " in line and "TODO left: TODO" not in line for line in result.stderr.splitlines())
    assert result.stdout.startswith(f"0 dataset file(s) valid, {len(todos)} error(s) in 1 file(s)")

    fill_todos(path)
    result = run_lint(include_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 dataset file(s) valid, 0 error(s)")
    from opendata.dag_factory import build_dag

    catalog = load_catalog(include_dir)
    dag = build_dag(catalog.get(dataset_id), governance=catalog.governance)
    assert dag.dag_id == dataset_id and len(dag.tasks) > 3


@pytest.mark.postgres
def test_sql_draft(pg_table, pg_conn, include_dir):
    table = pg_table(REQUESTS)
    run_new(NewRequest(dataset_id="service-requests", department="sanitation", include_dir=include_dir,
                       sql=(pg_conn, table)))
    _round_trip(include_dir, "service-requests", "sanitation")


def test_csv_draft(include_dir):
    path = include_dir / "sample_sources" / "requests.csv"
    path.write_text(HEADER + _csv_rows())
    run_new(NewRequest(dataset_id="requests", department="sanitation", include_dir=include_dir, file=path))
    _round_trip(include_dir, "requests", "sanitation")


def test_json_api_draft(include_dir, json_api, monkeypatch):
    base, routes = json_api
    routes["/api/items"] = json_route({"data": {"items": RECORDS}})
    # The deployment lists the API's host (without it lint refuses an absolute URL, and `new` says so).
    monkeypatch.setenv("OPENDATA_HTTP_SOURCE_HOSTS", "127.0.0.1")
    run_new(NewRequest(dataset_id="inspections", department="environmental-health", include_dir=include_dir,
                       http=f"{base}/api/items", records_path="data.items"))
    _round_trip(include_dir, "inspections", "environmental-health")
