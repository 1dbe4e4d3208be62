"""Fixtures of the `opendata new` tests: a private include folder with the repository's governance,
PostgreSQL tables in the ``test`` database (a unique name each, dropped after), a local JSON API,
and the TODO filler that plays the person finishing a draft."""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from opendata.scaffold.render import render_dataset_file
from opendata.spec.todo_check import todo_paths
from tests.conftest import PG_HOST, PG_PORT, PG_USER, pg_url

REPO_INCLUDE = Path(__file__).resolve().parents[3] / "include"
PG_DATABASE = "test"
CONN_ID = "scaffold_pg"


@pytest.fixture
def include_dir(tmp_path) -> Path:
    """An include folder with a copy of include/governance.yaml and no dataset file yet."""
    target = tmp_path / "include"
    (target / "datasets").mkdir(parents=True)
    (target / "sample_sources").mkdir()
    shutil.copy(REPO_INCLUDE / "governance.yaml", target / "governance.yaml")
    return target


@pytest.fixture
def pg_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url(PG_DATABASE))
    yield engine
    engine.dispose()


@pytest.fixture
def pg_table(pg_engine) -> Iterator[Callable[[str], str]]:
    """``make(sql_with_{table})``: runs the statements with a unique table name; dropped after the test."""
    made: list[str] = []

    def make(statements: str) -> str:
        name = f"scaffold_{secrets.token_hex(4)}"
        made.append(name)
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(statements.replace("{table}", name))
        return name

    yield make
    with pg_engine.begin() as conn:
        for name in made:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


@pytest.fixture
def pg_conn(monkeypatch) -> str:
    """An Airflow connection (as tests and deployments set them: a URI in AIRFLOW_CONN_<ID>)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}")
    return CONN_ID


Route = Callable[[], tuple[int, str, bytes]]


@pytest.fixture
def json_api() -> Iterator[tuple[str, dict[str, Route]]]:
    """A real local HTTP server: ``(base_url, routes)``; tests add routes path -> () -> (status, type, body)."""
    routes: dict[str, Route] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            route = routes.get(self.path.split("?", 1)[0])
            status, content_type, body = route() if route else (404, "application/json", b'{"error": "not found"}')
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


def json_route(body: Any, status: int = 200) -> Route:
    return lambda: (status, "application/json", json.dumps(body).encode())


def fill_todos(path: Path) -> list[str]:
    """What a person does with a draft: every TODO replaced by real text. Returns the TODOs' fields."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    filled = []
    for loc, _ in list(todo_paths(data)):
        node = data
        for part in loc[:-1]:
            node = node[part]
        node[loc[-1]] = f"Written by the department's coordinator for {'.'.join(str(p) for p in loc)}."
        filled.append(".".join(str(p) for p in loc))
    path.write_text(render_dataset_file(data), encoding="utf-8")
    return filled


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def column(data: dict[str, Any], field_name: str) -> dict[str, Any]:
    return next(c for c in data["columns"] if c["field_name"] == field_name)
