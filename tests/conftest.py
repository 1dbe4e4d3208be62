"""Shared test set-up: an isolated Airflow home and metadata database per test session.

Airflow reads its configuration when it is first imported, so the environment is set here,
at collection time, before any test module imports ``airflow``. Each pytest process gets its
own AIRFLOW_HOME and its own PostgreSQL metadata database (the production engine; the demo
uses SQLite), so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_HOST = os.environ.get("OPENDATA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("OPENDATA_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("OPENDATA_TEST_PG_USER", "postgres")

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="opendata-tests-"))
_AIRFLOW_HOME = _SESSION_DIR / "airflow"
_AIRFLOW_HOME.mkdir()
_METADATA_DB = f"opendata_airflow_{secrets.token_hex(4)}"


def pg_url(database: str, driver: str = "psycopg") -> str:
    return f"postgresql+{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _admin_execute(statement: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        conn.execute(statement)


def create_pg_database(name: str) -> str:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def registry_on(backend: str, tmp_path: Path, prefix: str):
    """A fresh registry on SQLite or on its own PostgreSQL database; closed (and dropped) after."""
    from opendata.registry import Registry

    if backend == "sqlite":
        reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
        try:
            yield reg
        finally:
            reg.close()
        return
    # A random name: tmp_path's name is the test's name cut to 30 characters, the same for several
    # tests, and another pytest process (an xdist worker, a colleague's run on the same server)
    # dropping "its" database WITH (FORCE) would kill this one's connections mid-test.
    name = create_pg_database(f"{prefix}_{secrets.token_hex(4)}")
    reg = Registry(pg_url(name))
    try:
        yield reg
    finally:
        reg.close()
        drop_pg_database(name)


os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url(_METADATA_DB),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "OPENDATA_INCLUDE_DIR": str(REPO_ROOT / "include"),
        "OPENDATA_STATE_DIR": str(_SESSION_DIR / "state"),
        # Tests write source files under pytest's tmp_path: a data root, as a deployment names its
        # export folders (dataset files may read only there and in include/).
        "OPENDATA_DATA_ROOTS": str(Path(tempfile.gettempdir()).resolve()),
    }
)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database on PostgreSQL, created once per test session."""
    create_pg_database(_METADATA_DB)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy(), timeout=300)
    yield pg_url(_METADATA_DB)


def pytest_sessionfinish(session, exitstatus):
    if "airflow.settings" in sys.modules:
        # Close Airflow's pooled connections before the database goes away.
        sys.modules["airflow.settings"].dispose_orm()
    try:
        drop_pg_database(_METADATA_DB)
    except Exception:  # PostgreSQL may be down; nothing to clean then
        pass
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


# --- the bundled sample sources, served the way the demo serves them -------------------------

SAMPLE_SOURCES = REPO_ROOT / "include" / "sample_sources"


@pytest.fixture(scope="session")
def permits_sqlite(session_dir) -> str:
    """The building-permits sample loaded into a SQLite file; returns the Airflow connection URI."""
    from opendata.samples.sql import load_permits

    path = session_dir / "permits.sqlite"
    load_permits(f"sqlite:///{path}", SAMPLE_SOURCES / "building_permits.csv")
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def permits_postgres():
    """The building-permits sample loaded into its own PostgreSQL database."""
    from opendata.samples.sql import load_permits

    name = create_pg_database(f"opendata_permits_{secrets.token_hex(4)}")
    load_permits(pg_url(name), SAMPLE_SOURCES / "building_permits.csv")
    yield name
    drop_pg_database(name)


@pytest.fixture(scope="session")
def inspections_api():
    """The paged JSON API serving the restaurant-inspections sample; returns its base URL."""
    from opendata.samples.api_server import serve_in_thread

    server = serve_in_thread(SAMPLE_SOURCES / "restaurant_inspections.json")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def sample_connections(monkeypatch, permits_sqlite, inspections_api):
    """Airflow connections for the three sample datasets, as the demo defines them."""
    monkeypatch.setenv("AIRFLOW_CONN_PERMITS_DB", permits_sqlite)
    monkeypatch.setenv("AIRFLOW_CONN_INSPECTIONS_API", inspections_api)


# --- running on several workers (pytest-xdist, `scripts/test.sh`) ------------------------------

# Each starts a whole Airflow (`opendata demo`: API server, scheduler, triggerer, DAG processor; the
# distributed one also two Celery workers): one at a time, on one worker, while the other workers
# run the rest.
WHOLE_AIRFLOW = ("tests/test_demo.py", "tests/test_publication_e2e.py", "tests/test_distributed_e2e.py")
# Long, independent tests (each builds its own world: emulator, mailbox, include and state
# folders), spread test by test. Every other module stays whole on one worker: several share a
# module-scoped emulator, and some build on the state earlier tests left in it.
SPREAD = ("tests/opendata/lifecycle/",)


def _module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _work_unit(nodeid: str) -> str:
    module = _module_of(nodeid)
    if module in WHOLE_AIRFLOW:
        return "whole-airflow"
    if module.startswith(SPREAD):
        return nodeid
    return module


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown with `-p no:xdist`
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups above. xdist marks a test's group by appending
    ``@group`` to its node id, which pytest 9 no longer lets a plugin change (``xdist_group`` marks
    are silently ignored), so the groups are decided here, from the node ids."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return Scheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """On an xdist worker: the longest work first (the whole-Airflow tests, then modules with
    Airflow runs or slow tests), so that no worker is left with a long one at the end; with
    ``--no-loadscope-reorder`` the scheduler hands work out in this order. Whole modules move,
    never single tests: some modules' tests build on each other's state."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return

    def weight(item: pytest.Item) -> int:
        if _module_of(item.nodeid) in WHOLE_AIRFLOW:
            return 0
        if "airflow_db" in item.fixturenames or item.get_closest_marker("slow"):
            return 1
        return 2

    module_weight: dict[str, int] = {}
    for item in items:
        module = _module_of(item.nodeid)
        module_weight[module] = min(module_weight.get(module, 2), weight(item))
    items.sort(key=lambda item: module_weight[_module_of(item.nodeid)])  # stable: file order kept inside
