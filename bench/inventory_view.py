"""The "Open Data" view at a city's scale: the server-side render of ``/opendata/`` for 1,000 datasets.

    .venv/bin/python bench/inventory_view.py [--datasets 1000] [--registry-runs 365] [--dag-runs 30]
                                             [--processes 3] [--keep DIR]

Builds, in a temporary folder (or ``--keep DIR``, reused when it is already there; not timed):

* ``--datasets`` dataset files (``opendata.samples.inventory_world``: every state of the
  workflow, 15 of each 20 published) and the governance file;
* a SQLite registry with their stages, stage history, versions, unanswered comments and
  ``--registry-runs`` runs each for the 750 published ones with refreshes (about 274,000 run rows);
* an Airflow metadata database (SQLite, ``airflow db migrate`` into a temporary AIRFLOW_HOME)
  with their DAG rows, ``--dag-runs`` DAG runs each, and the tasks waiting for a person (Step 1
  and shrink-guard HITL requests, review sensors): 150 of them for 1,000 datasets.

Then, ``--processes`` times each, a fresh process builds Airflow's API server app
(``airflow.api_fastapi.app.create_app()``, the plugin mounted from the plugins folder) and starts
it (its lifespan: the view warms up in a background thread, as the API server does at start;
timed apart, not part of a page view), then requests ``/opendata/`` signed in (a JWT cookie,
through TestClient), timing each request:

* ``cold``: no summaries kept under the state folder: the warm-up parses every dataset file (a
  new deployment, or the dataset-file code changed); then the first page view;
* ``restart``: the summaries kept by an earlier process (an API server worker started or
  restarted): the warm-up reads them; then the first page view;
* ``warm``: the median of the next five page views in each process (every later page view: the
  files are stat'ed, changed ones parsed again).

Each request is the whole server-side render: the files, the registry's bulk queries, Airflow's,
the rows, the authorization filter, the Jinja2 page (about 1.7 MB of HTML, gzipped by Airflow).
Its SQL statements are counted on both databases. The anchor, in the same process: Airflow's own
``GET /api/v2/dags`` of 100 DAGs. Target (issue 16): under a second of server time for 1,000 datasets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))

from bench.phases import peak_mb, phase_runner  # noqa: E402

TARGET_SECONDS = 1.0
WARM_REQUESTS = 5
NOW = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)


def environment(folder: Path) -> dict[str, str]:
    (folder / "dags").mkdir(exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "plugins"),
        "AIRFLOW_HOME": str(folder / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{folder / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__API_AUTH__JWT_SECRET": "bench-secret-" + "x" * 64,
        "OPENDATA_INCLUDE_DIR": str(folder / "include"),
        "OPENDATA_STATE_DIR": str(folder / "state"),
        "OPENDATA_REGISTRY_URL": f"sqlite:///{folder / 'registry.sqlite'}",
        "AIRFLOW_CONN_SOCRATA_DEFAULT": json.dumps({"conn_type": "socrata", "host": "https://data.lacity.org"}),
        "OPENDATA_ENV_FILE": os.devnull,
    }


def build(folder: Path, datasets: int, registry_runs: int, dag_runs: int) -> None:
    """The dataset files, the registry and Airflow's metadata database (not timed)."""
    env = environment(folder)
    (folder / "airflow").mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=600)
    out = subprocess.run([sys.executable, __file__, "--phase", "seed", f"--folder={folder}",
                          f"--datasets={datasets}", f"--registry-runs={registry_runs}", f"--dag-runs={dag_runs}"],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])


def phase_seed(folder: Path, datasets: int, registry_runs: int, dag_runs: int) -> dict:
    import sqlalchemy as sa

    from opendata.registry import Registry
    from opendata.samples.inventory_world import seed_airflow, seed_registry, world, write_files

    cities = world(datasets)
    write_files(folder / "include", cities, ROOT / "include" / "governance.yaml")
    registry = Registry(f"sqlite:///{folder / 'registry.sqlite'}")
    try:
        seed_registry(registry, cities, NOW, runs_per_dataset=registry_runs)
    finally:
        registry.close()
    engine = sa.create_engine(f"sqlite:///{folder / 'airflow' / 'airflow.db'}")
    try:
        seed_airflow(engine, cities, NOW, runs_per_dag=dag_runs)
    finally:
        engine.dispose()
    return {}


def phase_render(cold: bool) -> dict:
    """In a fresh process: Airflow's app, then timed requests of /opendata/."""
    import logging

    import sqlalchemy as sa

    logging.disable(logging.WARNING)
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    if cold:
        shutil.rmtree(Path(os.environ["OPENDATA_STATE_DIR"]) / "inventory-cache", ignore_errors=True)
    app = create_app()
    statements: list[int] = []
    sa.event.listen(sa.Engine, "before_cursor_execute", lambda *args: statements.append(1))
    client = TestClient(app)
    client.__enter__()  # the server starts: lifespans run, the view's warm-up starts in the background
    client.cookies.set("_token", get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="jorge-ramos",
                                                                                       role="viewer")))
    client.get("/api/v2/version")  # Airflow's own first-request work
    started = time.perf_counter()
    view_app = next(route.app for route in app.routes if getattr(route, "path", None) == "/opendata")
    view_app.state.warmed.wait(120)
    warm_up = time.perf_counter() - started
    imported_mb = peak_mb()
    times: list[float] = []
    counts: list[int] = []
    size = 0
    for _ in range(1 + WARM_REQUESTS):
        statements.clear()
        started = time.perf_counter()
        response = client.get("/opendata/")
        times.append(time.perf_counter() - started)
        counts.append(len(statements))
        if response.status_code != 200:
            raise RuntimeError(f"/opendata/ answered {response.status_code}: {response.text[:2000]}")
        size = len(response.content)
        rows = response.text.count('data-testid="inventory-row"')
    anchor = []
    for _ in range(3):
        started = time.perf_counter()
        assert client.get("/api/v2/dags?limit=100").status_code == 200
        anchor.append(time.perf_counter() - started)
    client.__exit__(None, None, None)
    return {"warm_up_s": warm_up, "first_s": times[0], "warm_s": statistics.median(times[1:]),
            "first_statements": counts[0],
            "warm_statements": counts[-1], "html_kb": size / 1024, "rows": rows,
            "anchor_s": statistics.median(anchor), "imported_mb": imported_mb, "peak_mb": peak_mb()}


def _line(label: str, values: list[float], anchor: float) -> str:
    median = statistics.median(values)
    return (f"{label:>8}: median {median:.3f} s  ({median / anchor:.1f}x the anchor; processes: "
            f"{', '.join(f'{v:.3f}' for v in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--registry-runs", type=int, default=365)
    parser.add_argument("--dag-runs", type=int, default=30)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the world here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cold", default="0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "seed":
        print(json.dumps(phase_seed(args.folder, args.datasets, args.registry_runs, args.dag_runs)))
        return
    if args.phase == "render":
        print(json.dumps(phase_render(args.cold == "1")))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    try:
        if not (folder / "registry.sqlite").exists():
            started = time.perf_counter()
            folder.mkdir(parents=True, exist_ok=True)
            build(folder, args.datasets, args.registry_runs, args.dag_runs)
            print(f"built {args.datasets} datasets ({args.registry_runs} registry runs and {args.dag_runs} DAG runs "
                  f"each) in {time.perf_counter() - started:.1f} s (not timed below)")
        env = environment(folder)
        run_phase = phase_runner(__file__)
        cold, restart = [], []
        for _ in range(args.processes):  # alternating, so both meet the same load on a shared machine
            cold.append(run_phase("render", env, cold="1"))
            restart.append(run_phase("render", env, cold="0"))
        first = restart[0]
        anchor = statistics.median(r["anchor_s"] for r in cold + restart)
        print(f"{first['rows']} rows, {first['html_kb']:.0f} KB of HTML; SQL statements per render: "
              f"{first['warm_statements']} (first request of a process: {first['first_statements']})")
        print(f"anchor (Airflow's GET /api/v2/dags?limit=100 in the same processes): median {anchor:.3f} s")
        print(f"warm-up at start (in the background, before the first page view): cold median "
              f"{statistics.median(r['warm_up_s'] for r in cold):.3f} s, restart median "
              f"{statistics.median(r['warm_up_s'] for r in restart):.3f} s")
        print(_line("cold", [r["first_s"] for r in cold], anchor) + "  first page view, no summaries were kept")
        print(_line("restart", [r["first_s"] for r in restart], anchor) + "  first page view, summaries kept")
        print(_line("warm", [r["warm_s"] for r in restart + cold], anchor) + "  every later page view")
        print(f"target: under {TARGET_SECONDS:g} s of server time for a page view (warm and restart); "
              f"peak memory {statistics.median(r['peak_mb'] for r in restart):.0f} MB "
              f"({statistics.median(r['peak_mb'] - r['imported_mb'] for r in restart):.0f} MB above the app's)")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
