"""DAG parsing reads the stages and the dataset-file record from the registry, which every
machine can read, through each machine's cache of them: the tag follows a stage change a task
recorded on another machine once the cache window has passed; within it, parsing makes no
database round trip; an unreachable or silent registry neither fails nor stalls parsing.

"Machines" are state folders: each component of a multi-host deployment has its own, and they
share only the registry (PostgreSQL here, as in production)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from opendata.registry import Registry, stage_snapshot
from opendata.registry.stage_snapshot import read_dataset_files, read_stages, record_dataset_files, snapshot
from tests.conftest import REPO_ROOT, create_pg_database, drop_pg_database, pg_url
from tests.dags.test_dag_integrity import NOT_DATASET_DAGS, dagbag

pytestmark = [pytest.mark.postgres]

DATASET = "building-permits"
WINDOW = 30.0


class Clock:
    """The cache's clock, moved by the test (a real wait would make the test slow or flaky)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Statements:
    """Every statement and connection the registry's database sees (SQLAlchemy events)."""

    database: str
    sql: list[str] = field(default_factory=list)
    connections: int = 0

    def reads(self) -> int:
        """Statements reading the stages and the record together (the parse's one round trip)."""
        return sum("UNION ALL" in s and "opendata_dataset_file" in s for s in self.sql)

    def writes(self) -> list[str]:
        return [s for s in self.sql if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


@contextlib.contextmanager
def counted(database: str) -> Iterator[Statements]:
    seen = Statements(database)

    def on_connect(conn: sa.Connection) -> None:
        if conn.engine.url.database == database:
            seen.connections += 1

    def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        if conn.engine.url.database == database:
            seen.sql.append(statement)

    sa.event.listen(sa.engine.Engine, "engine_connect", on_connect)
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "engine_connect", on_connect)
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", on_execute)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(stage_snapshot, "_clock", fake)
    monkeypatch.setenv("OPENDATA_STAGE_CACHE_SECONDS", str(WINDOW))
    return fake


@pytest.fixture
def shared_registry(monkeypatch) -> Iterator[str]:
    """A PostgreSQL registry every "machine" is configured with (OPENDATA_REGISTRY_URL)."""
    name = create_pg_database(f"opendata_snapshot_{secrets.token_hex(4)}")
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", pg_url(name))
    Registry(pg_url(name)).close()   # its tables, as `opendata registry init` creates them
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture
def machines(tmp_path, monkeypatch):
    """``machines("dag-processor")``: from now on this process is that machine (its own state folder)."""
    def become(name: str) -> Path:
        folder = tmp_path / name
        monkeypatch.setenv("OPENDATA_STATE_DIR", str(folder))
        return folder

    return become


def stage_tags() -> dict[str, str]:
    bag = dagbag()
    assert bag.import_errors == {}
    return {dag_id: next(t for t in dag.tags if t.startswith("stage:")) for dag_id, dag in bag.dags.items()
            if dag_id not in NOT_DATASET_DAGS}


def record_submission_on_a_worker(dataset_id: str) -> None:
    """What push_private does on its worker: the registry first, then this machine's tags."""
    from opendata.lifecycle.runtime import show_stage
    from opendata.registry import Stage

    registry = Registry.from_settings(dataset_id)
    registry.record_submission(dataset_id, at=dt.datetime.now(dt.UTC), run_id="manual__1")
    registry.close()
    show_stage(dataset_id, Stage.STAGE_1)


def test_the_tag_follows_a_stage_recorded_on_another_machine_once_the_window_passed(
        shared_registry, machines, clock):
    machines("dag-processor")
    with counted(shared_registry) as cold:
        assert stage_tags()[DATASET] == "stage:not-ready"
    # Seventeen DAG files and dataset_file_errors.py parsed: the registry was read once, and the
    # record (empty in a new registry) written once, in one transaction.
    assert cold.reads() == 1
    assert len([s for s in cold.writes() if "opendata_dataset_file" in s]) >= 1

    machines("worker-1")
    record_submission_on_a_worker(DATASET)
    assert read_stages()[DATASET] == "stage-1"   # the worker's own view: at once

    machines("dag-processor")
    clock.advance(WINDOW - 1)
    with counted(shared_registry) as warm:
        assert stage_tags()[DATASET] == "stage:not-ready"   # within the window: the cache, as it was
    assert warm.sql == [] and warm.connections == 0      # not one round trip, not even a connection

    clock.advance(2)
    with counted(shared_registry) as after:
        tags = stage_tags()
    assert tags[DATASET] == "stage:stage-1"
    assert tags["service-requests-311"] == "stage:not-ready"
    assert after.reads() == 1 and after.writes() == []   # one statement for every DAG file; nothing changed


def test_a_parse_never_makes_a_round_trip_per_dataset_file(shared_registry, machines, clock, tmp_path, monkeypatch):
    include = tmp_path / "include"
    shutil.copytree(REPO_ROOT / "include", include, ignore=shutil.ignore_patterns("sample_sources"))
    sample = include / "datasets" / "sanitation" / "service-requests-311.yaml"
    for n in range(60):
        sample.with_name(f"sr-{n:02d}.yaml").write_text(
            sample.read_text().replace("id: service-requests-311", f"id: sr-{n:02d}"))
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    from opendata.spec import cache

    monkeypatch.setattr(cache, "RACY_SECONDS", 0)  # the copies were just written
    machines("dag-processor")
    registry = Registry.from_settings()
    for n in range(0, 60, 2):
        registry.record_submission(f"sr-{n:02d}", at=dt.datetime.now(dt.UTC))
    registry.close()
    clock.advance(WINDOW + 1)   # whatever opening the registry above cached

    with counted(shared_registry) as cold:
        tags = stage_tags()
    assert len(tags) == 63
    assert {tags[f"sr-{n:02d}"] for n in range(0, 60, 2)} == {"stage:stage-1"}
    assert {tags[f"sr-{n:02d}"] for n in range(1, 60, 2)} == {"stage:not-ready"}
    assert cold.reads() == 1
    # 63 dataset files, 19 DAG files: the record written once (one transaction), nothing per file.
    assert len(cold.sql) < 30, cold.sql
    assert cold.connections <= 3

    with counted(shared_registry) as warm:
        assert stage_tags() == tags
    assert warm.sql == [] and warm.connections == 0


def test_the_record_of_which_file_holds_an_id_is_shared_through_the_registry(
        shared_registry, machines, clock, tmp_path, monkeypatch):
    """The DAG processor records it; a worker with an empty state folder loads the holder's file,
    not the newcomer's, and refuses nothing."""
    from opendata.lifecycle.context import load_spec

    include = tmp_path / "include"
    shutil.copytree(REPO_ROOT / "include", include, ignore=shutil.ignore_patterns("sample_sources"))
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    machines("dag-processor")
    dagbag()   # dataset_file_errors.py records the holders while each id has one file
    assert read_dataset_files()["service-requests-311"] == "sanitation/service-requests-311.yaml"

    # Another department's file reuses the id; it sorts first by path.
    established = include / "datasets" / "sanitation" / "service-requests-311.yaml"
    (include / "datasets" / "aaa-newcomers").mkdir()
    (include / "datasets" / "aaa-newcomers" / "service-requests-311.yaml").write_text(
        established.read_text().replace("department: sanitation", "department: building-and-safety"))

    machines("worker-2")   # never parsed anything: its state folder is empty
    assert not (tmp_path / "worker-2").exists()
    assert read_dataset_files()["service-requests-311"] == "sanitation/service-requests-311.yaml"
    assert load_spec("service-requests-311").department == "sanitation"

    machines("dag-processor-2")   # a second DAG processor (another host) keeps the same holder
    bag = dagbag()
    assert "service-requests-311" in bag.dags and "stage:not-ready" in bag.dags["service-requests-311"].tags
    assert "already used by" in bag.import_errors["dataset_file_errors.py"]
    assert "sanitation/service-requests-311.yaml (it held the id first)" in bag.import_errors[
        "dataset_file_errors.py"]


def test_the_record_is_written_only_when_it_changed_and_only_the_rows_that_changed(
        shared_registry, machines, clock):
    machines("dag-processor")
    record_dataset_files({"a": "x/a.yaml", "b": "x/b.yaml", "c": "x/c.yaml"})
    registry = Registry.from_settings()
    with registry.engine.connect() as conn:
        before = dict(conn.execute(sa.text("SELECT dataset_id, recorded_at FROM opendata_dataset_file")).all())
    with counted(shared_registry) as same:
        record_dataset_files({"c": "x/c.yaml", "b": "x/b.yaml", "a": "x/a.yaml"})
    assert same.sql == []   # equal to the cached record: nothing asked, nothing written

    with counted(shared_registry) as changed:
        record_dataset_files({"a": "x/a.yaml", "b": "y/b.yaml", "d": "x/d.yaml"})
    assert sorted(s.split()[0].upper() for s in changed.writes()) == ["DELETE", "INSERT", "UPDATE"]
    assert registry.dataset_files() == {"a": "x/a.yaml", "b": "y/b.yaml", "d": "x/d.yaml"}
    with registry.engine.connect() as conn:
        after = dict(conn.execute(sa.text("SELECT dataset_id, recorded_at FROM opendata_dataset_file")).all())
    assert after["a"] == before["a"] and after["b"] != before["b"]
    registry.close()
    machines("another")
    assert read_dataset_files() == {"a": "x/a.yaml", "b": "y/b.yaml", "d": "x/d.yaml"}


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A PostgreSQL server that accepts connections and never says a word (a hung host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_an_unreachable_registry_leaves_parsing_on_the_last_values_with_a_warning(
        shared_registry, machines, clock, closed_port, monkeypatch, caplog):
    machines("dag-processor")
    registry = Registry.from_settings()
    registry.record_submission(DATASET, at=dt.datetime.now(dt.UTC))
    registry.close()
    clock.advance(WINDOW + 1)
    assert stage_tags()[DATASET] == "stage:stage-1"
    holders = read_dataset_files()
    assert holders[DATASET] == "building-and-safety/building-permits.yaml"

    # The registry goes away (the password must not reach the log either).
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"postgresql://opendata:hunter2-secret@127.0.0.1:{closed_port}/r")
    clock.advance(WINDOW + 1)
    # A different registry setting is another cache key: nothing known of it, so not-ready...
    with caplog.at_level(logging.WARNING, logger="opendata.registry.stage_snapshot"):
        tags = stage_tags()
    assert set(tags.values()) == {"stage:not-ready"} and len(tags) == 3
    warned = [r.getMessage() for r in caplog.records if "for the DAGs' stages" in r.getMessage()]
    assert len(warned) == 1, warned   # one attempt for every DAG file of the window
    assert "every DAG shows not-ready" in warned[0] and "hunter2" not in caplog.text
    assert "***" in warned[0] and str(closed_port) in warned[0]


def test_a_registry_that_stops_answering_keeps_the_cached_stages_and_does_not_stall(
        shared_registry, machines, clock, monkeypatch, caplog):
    machines("dag-processor")
    registry = Registry.from_settings()
    registry.record_submission(DATASET, at=dt.datetime.now(dt.UTC))
    registry.close()
    clock.advance(WINDOW + 1)
    assert stage_tags()[DATASET] == "stage:stage-1"
    cached = json.loads((stage_snapshot.cache_path()).read_text())
    with silent_server() as (port, accepted):
        # Same setting, another host behind it (e.g. a hung primary): simulated by pointing the
        # cache's key at the new URL and keeping its values.
        url = pg_url(shared_registry).replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        monkeypatch.setenv("OPENDATA_REGISTRY_URL", url)
        stage_snapshot.cache_path().write_text(json.dumps({**cached, "key": stage_snapshot._registry_key()}))
        clock.advance(WINDOW + 1)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="opendata.registry.stage_snapshot"):
            tags = stage_tags()
        elapsed = time.monotonic() - started
        assert tags[DATASET] == "stage:stage-1"   # the last values read
        assert len(accepted) == 1                # asked once for the whole parse, not per DAG file
    assert elapsed < stage_snapshot.PARSE_TIMEOUT_SECONDS + 10, elapsed
    warned = [r.getMessage() for r in caplog.records if "for the DAGs' stages" in r.getMessage()]
    assert len(warned) == 1 and "using the values read at" in warned[0], warned
    assert snapshot().reachable is False

    # Within the window after the failure nobody waits on it again; after it, it is asked again.
    with silent_server() as (port2, accepted2):
        assert stage_tags()[DATASET] == "stage:stage-1"
        assert accepted2 == []


def test_a_registry_older_than_the_record_gets_its_table_and_keeps_its_stages(shared_registry, machines, clock):
    """Migration: a registry created before the dataset-file record (every other table, with
    history) is read as it is; the missing table is added in place."""
    from opendata.registry.store import dataset_file, metadata

    engine = sa.create_engine(pg_url(shared_registry))
    dataset_file.drop(engine)   # the registry as an earlier version created it
    metadata.create_all(engine, tables=[t for t in metadata.sorted_tables if t is not dataset_file])
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO opendata_dataset_state (dataset_id, stage, updated_at) "
                             "VALUES ('building-permits', 'refreshing', now())"))
    assert "opendata_dataset_file" not in sa.inspect(engine).get_table_names()
    from opendata.registry import store

    store._READY.clear()   # a fresh process: the schema is checked on opening
    machines("dag-processor")
    assert stage_tags()[DATASET] == "stage:refreshing"
    assert "opendata_dataset_file" in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM opendata_dataset_state")).scalar() == 1
    engine.dispose()
    assert read_dataset_files()[DATASET] == "building-and-safety/building-permits.yaml"


def test_an_upgraded_single_machine_install_keeps_its_file_record(machines, clock, monkeypatch):
    """The record used to be dataset_files.json in the state folder: while the registry has none,
    it is read from there (a contested id does not change hands on upgrade), then recorded."""
    monkeypatch.delenv("OPENDATA_REGISTRY_URL", raising=False)
    folder = machines("single-machine")
    folder.mkdir()
    (folder / "dataset_files.json").write_text(json.dumps({"gone": "x/gone.yaml", DATASET: "z/elsewhere.yaml"}))
    assert read_dataset_files() == {"gone": "x/gone.yaml", DATASET: "z/elsewhere.yaml"}
    dagbag()   # the parse records the holders in the (default SQLite) registry
    registry = Registry.from_settings()
    assert registry.dataset_files()[DATASET] == "building-and-safety/building-permits.yaml"
    registry.close()


def test_window_zero_asks_the_registry_at_every_read_and_a_broken_cache_file_is_a_miss(
        shared_registry, machines, clock, monkeypatch):
    machines("dag-processor")
    with counted(shared_registry) as first:
        read_stages()
    assert first.reads() == 1
    stage_snapshot.cache_path().write_text("{not json")
    with counted(shared_registry) as broken:
        read_stages()
        read_stages()
    assert broken.reads() == 1   # re-read once, then cached again
    monkeypatch.setenv("OPENDATA_STAGE_CACHE_SECONDS", "0")
    with counted(shared_registry) as uncached:
        read_stages()
        read_stages()
    assert uncached.reads() == 2
