"""A city's scale on the Celery deployment: N generated dataset DAGs, each refreshing once, against
N DAGs of EmptyOperators of the same shape on the same deployment.

    .venv/bin/python bench/celery_scale.py [--datasets 500] [--rows 100] [--pool-slots 4]

The deployment is the distributed test's (``opendata.cluster``): PostgreSQL metadata database and
registry, Redis broker, moto's S3 server as the object store, the scheduler, DAG processor,
triggerer and API server as separate processes and two Celery workers with private folders (worker
A: default + source queue, worker B: default + portal queue). Two phases, each on a fresh
deployment:

* ours: N dataset files (the CSV sample cloned into new ids and departments, ``--rows`` source rows
  each). Each dataset is first made public on the portal emulator and recorded public (Stage 2) in
  the registry, as an adopted dataset would be, so the one run of each DAG is a refresh: plan ->
  extract -> validate -> (Step 1, Stage 1, review, Stage 2 skip themselves) -> refresh -> finish.
* the baseline: N Python DAG files of ten EmptyOperators in a line (the dataset DAG's shape).

In each phase the DAGs are parsed paused, then every DAG is unpaused and triggered at once; the
wall time runs from the first trigger until every run has ended. Printed:

* wall time to all done, runs per minute, and the share of failed runs (must be 0);
* per task instance: the delay between becoming schedulable (its upstream ended, or the run
  started) and starting, median and 95th percentile: the scheduler's overhead, compared with
  the baseline's;
* the peak number of portal-writing task instances running at one moment (from their start and
  end times), against the ``socrata_writes`` pool size (it must never be above it);
* the peak resident memory of each Celery worker (its whole process tree, sampled every second).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "include" / "datasets" / "sanitation" / "service-requests-311.yaml"
SAMPLE_CSV = ROOT / "include" / "sample_sources" / "service_requests_311.csv"
# Generated datasets per department (each a copy of the sample's department in governance.yaml).
PER_DEPARTMENT = 100
# The dataset DAG's shape: ten tasks in a line.
DAG_TASKS = 10

BASELINE_DAG = '''"""Baseline DAG {i}: ten EmptyOperators in a line, the dataset DAG's shape."""
import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id="baseline_{i:05d}", schedule=None, catchup=False, max_active_runs=1,
         start_date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), tags=["baseline"]) as dag:
    tasks = [EmptyOperator(task_id=f"step_{{n}}") for n in range({tasks})]
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream
'''


# --- the inputs -------------------------------------------------------------------------------------

def generate_include(include: Path, count: int, rows: int) -> list[str]:
    """``count`` dataset files (the CSV sample, ``rows`` source rows each) under ``include``, with a
    governance.yaml naming every generated department; returns the dataset ids."""
    import yaml

    shutil.copytree(ROOT / "include" / "sql", include / "sql")
    # The deployment serves the bundled samples (its sample JSON API reads them from here).
    sources = include / "sample_sources"
    shutil.copytree(ROOT / "include" / "sample_sources", sources)
    with SAMPLE_CSV.open(newline="") as full, (sources / "small.csv").open("w", newline="") as small:
        reader, writer = csv.reader(full), csv.writer(small)
        for n, row in enumerate(reader):
            if n > rows:
                break
            writer.writerow(row)
    governance = yaml.safe_load((ROOT / "include" / "governance.yaml").read_text())
    original = governance["departments"]["sanitation"]
    text = SAMPLE.read_text()
    # Small sources: the sample's own floor of 1,000 rows would stop every run at validation.
    text = text.replace("row_count: {min: 1000}", "row_count: {min: 1}")
    text = text.replace("path: sample_sources/service_requests_311.csv", "path: sample_sources/small.csv")
    # No schedule of their own (irregular): every DAG's one run is triggered at the same moment.
    text = text.replace("update_frequency: daily\n", "update_frequency: irregular\n", 1)
    assert "sample_sources/small.csv" in text and "row_count: {min: 1}" in text \
        and "update_frequency: irregular" in text, "the sample changed: adapt the generator"
    ids, departments = [], {}
    for i in range(count):
        department = f"sanitation-{i // PER_DEPARTMENT:03d}"
        dataset_id = f"scale-{i:05d}"
        body = text.replace("id: service-requests-311\n", f"id: {dataset_id}\n", 1)
        body = body.replace("department: sanitation\n", f"department: {department}\n", 1)
        folder = include / "datasets" / department
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dataset_id}.yaml").write_text(body)
        departments[department] = {**original, "leadership": list(original["leadership"]),
                                   "coordinators": list(original["coordinators"])}
        ids.append(dataset_id)
    governance["departments"] = departments
    (include / "governance.yaml").write_text(yaml.safe_dump(governance, sort_keys=False))
    return ids


def generate_baseline(dags: Path, count: int) -> list[str]:
    dags.mkdir(parents=True)
    for i in range(count):
        (dags / f"baseline_{i:05d}.py").write_text(BASELINE_DAG.format(i=i, tasks=DAG_TASKS))
    return [f"baseline_{i:05d}" for i in range(count)]


def seed_public(include: Path, registry_url: str, portal_url: str, reviewer: tuple[str, str], workers: int = 4) -> None:
    """Every generated dataset public on the portal (created with its columns and metadata by the
    pipeline's own hook, published, asked public and approved by the reviewer, as on a portal
    with the approvals workflow) and recorded public (Stage 2) in the registry: the state an
    adopted dataset starts from, so each DAG's run is a refresh. Runs in this process with the
    deployment's portal connection in the environment."""
    import logging

    import requests

    from opendata.portal.dataset_metadata import columns, dataset_marker
    from opendata.portal.hook import SocrataHook
    from opendata.registry import Registry
    from opendata.spec.loader import load_catalog

    catalog = load_catalog(include)
    if catalog.errors:
        raise SystemExit(f"generated files have errors: {catalog.errors[:3]}")
    registry = Registry(registry_url)
    logging.getLogger("airflow.task.hooks").setLevel(logging.WARNING)
    review = requests.Session()
    review.auth = reviewer

    def approve(portal_id: str) -> None:
        asked = review.get(f"{portal_url}/api/views/{portal_id}/approvals", timeout=30,
                           params={"method": "guidance_v2", "assetId": portal_id})
        asked.raise_for_status()
        guidance = asked.json()["public"]
        if guidance["currentState"] == "pending":
            review.put(guidance["updateUrl"], json={"state": "approved", "notes": "seeded"},
                       timeout=30).raise_for_status()

    def one(loaded) -> None:
        spec = loaded.spec
        with SocrataHook() as hook:
            portal_id = hook.create_dataset(spec.name, columns(spec), row_identifier=spec.publishing.row_identifier,
                                            marker=dataset_marker(spec))
            hook.publish(portal_id)
            hook.set_audience(portal_id, "public")
            approve(portal_id)
            if hook.get_view(portal_id).audience.value != "public":
                raise SystemExit(f"{spec.id} ({portal_id}) is not public after the approval")
        registry.record_portal_dataset(spec.id, portal_id, note="seeded public by bench/celery_scale.py")
        registry.record_public(spec.id, at=dt.datetime.now(dt.UTC))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, catalog.datasets))
    registry.close()


# --- measuring ----------------------------------------------------------------------------------------

class TreeMemory:
    """The peak memory of each named process and its children, sampled every second: the sum of
    their proportional set sizes (PSS: a page shared by the Celery worker and the processes it
    forked counts once in all, where summing resident sizes would count it in each)."""

    def __init__(self, pids: dict[str, int], every: float = 1.0):
        self.pids, self.every = pids, every
        self.peak_mb = {name: 0.0 for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(self.every):
            for name, pid in self.pids.items():
                try:
                    root = psutil.Process(pid)
                    tree = [root, *root.children(recursive=True)]
                    rss = sum(p.memory_full_info().pss for p in tree if p.is_running())
                except psutil.Error:
                    continue
                self.peak_mb[name] = max(self.peak_mb[name], rss / 1e6)


def parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def scheduling_delays(instances: list[dict], runs: dict[tuple[str, str], dict]) -> list[float]:
    """Seconds from when each task instance could start (its upstream in the line ended, or its
    run started) until it started: what the scheduler and the executor add per task."""
    by_run: dict[tuple[str, str], list[dict]] = {}
    for ti in instances:
        by_run.setdefault((ti["dag_id"], ti["dag_run_id"]), []).append(ti)
    delays = []
    for key, tis in by_run.items():
        run_start = parse_time(runs[key].get("start_date"))
        line = sorted((ti for ti in tis if ti.get("start_date")), key=lambda ti: ti["start_date"])
        ready = run_start
        for ti in line:
            started, ended = parse_time(ti["start_date"]), parse_time(ti.get("end_date"))
            if ready is not None and started is not None:
                delays.append(max(0.0, (started - ready).total_seconds()))
            ready = ended or started
    return delays


def peak_overlap(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    """The most intervals open at one moment (an end before a start at the same instant)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def summarize(name: str, wall: float, runs: list[dict], instances: list[dict], pool: str | None,
              pool_slots: int | None, memory: dict[str, float]) -> dict:
    states = {}
    for run in runs:
        states[run["state"]] = states.get(run["state"], 0) + 1
    delays = scheduling_delays(instances, {(r["dag_id"], r["dag_run_id"]): r for r in runs})
    # Task instances a worker executed (a task that skipped itself ran too); EmptyOperators are
    # marked done by the scheduler and never reach a worker.
    hosts: dict[str, int] = {}
    for ti in instances:
        if ti.get("hostname"):
            hosts[ti["hostname"]] = hosts.get(ti["hostname"], 0) + 1
    figures = {
        "phase": name, "runs": len(runs), "run_states": states, "wall_s": round(wall, 1),
        "runs_per_min": round(len(runs) / wall * 60, 1) if wall else None,
        "task_instances": len(instances), "executed_on": hosts,
        "start_delay_median_s": round(statistics.median(delays), 2) if delays else None,
        "start_delay_p95_s": round(percentile(delays, 0.95), 2) if delays else None,
        "task_states": {state: sum(1 for ti in instances if ti.get("state") == state)
                        for state in sorted({str(ti.get("state")) for ti in instances})},
        "worker_peak_mb": {k: round(v) for k, v in memory.items()},
    }
    if pool:
        writes = [(parse_time(ti["start_date"]), parse_time(ti["end_date"])) for ti in instances
                  if ti.get("pool") == pool and ti.get("start_date") and ti.get("end_date")
                  and ti.get("state") == "success"]
        figures.update({"portal_writes": len(writes), "peak_concurrent_portal_writes": peak_overlap(writes),
                        "pool_slots": pool_slots})
    return figures


# --- one phase on a fresh deployment -------------------------------------------------------------------

class Api:
    """Airflow's REST API as the CDO (``cluster.signed_in()``), paged reads included."""

    def __init__(self, cluster):
        self.base = f"{cluster.airflow_url}/api/v2"
        self.session = cluster.signed_in()

    def call(self, method: str, path: str, **kwargs) -> dict:
        answer = self.session.request(method, f"{self.base}{path}", timeout=60, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def all(self, path: str, key: str, **params) -> list[dict]:
        items: list[dict] = []
        while True:
            page = self.call("GET", path, params={**params, "limit": 100, "offset": len(items)})
            items += page[key]
            if not page[key] or len(items) >= page["total_entries"]:
                return items


def run_phase(name: str, run_dir: Path, dag_ids: list[str], *, include: Path | None, dags: Path | None,
              seed, pool: str | None, worker_concurrency: int, timeout: float) -> dict:
    from opendata.cluster.launcher import start

    started = time.monotonic()
    with start(run_dir, include=include, dags=dags, expected_dags=set(dag_ids),
               worker_concurrency=worker_concurrency, timeout=timeout) as cluster:
        print(f"[{name}] deployment up in {time.monotonic() - started:.0f} s ({len(dag_ids)} DAGs parsed)",
              flush=True)
        if seed is not None:
            seeded = time.monotonic()
            seed(cluster)
            print(f"[{name}] seeded in {time.monotonic() - seeded:.0f} s", flush=True)
        api = Api(cluster)
        pool_slots = None
        if pool:
            pool_slots = api.call("GET", f"/pools/{pool}")["slots"]
        wanted = set(dag_ids)
        workers = {n: p.pid for n, p in cluster.processes.running.items() if n.startswith("worker")}
        with TreeMemory(workers) as memory:
            t0 = time.monotonic()
            for dag_id in dag_ids:
                api.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
            print(f"[{name}] {len(dag_ids)} runs triggered in {time.monotonic() - t0:.0f} s", flush=True)
            deadline = t0 + timeout * 10
            while True:
                open_runs = sum(1 for state in ("queued", "running")
                                for run in api.all("/dags/~/dagRuns", "dag_runs", state=state)
                                if run["dag_id"] in wanted)
                if open_runs == 0:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"[{name}] {open_runs} runs still open after {deadline - t0:.0f} s")
                print(f"[{name}] {time.monotonic() - t0:6.0f} s: {open_runs} runs open", flush=True)
                time.sleep(10)
            wall = time.monotonic() - t0
        runs = api.all("/dags/~/dagRuns", "dag_runs")
        instances = api.all("/dags/~/dagRuns/~/taskInstances", "task_instances")
        runs = [r for r in runs if r["dag_id"] in wanted]
        instances = [ti for ti in instances if ti["dag_id"] in wanted]
        return summarize(name, wall, runs, instances, pool, pool_slots, memory.peak_mb)


def seeder(include: Path):
    def seed(cluster) -> None:
        # The portal connection the deployment's tasks use, for the pipeline's hook in this process.
        os.environ.update({k: v for k, v in cluster.env.items() if k.startswith("AIRFLOW_CONN_SOCRATA")})
        seed_public(include, cluster.registry_url, cluster.portal_url, cluster.config.reviewer)
    return seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--rows", type=int, default=100, help="source rows per dataset")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the deployment to start")
    parser.add_argument("--only", choices=["ours", "baseline"], help="run one phase")
    parser.add_argument("--keep", action="store_true", help="keep the run folders (logs)")
    args = parser.parse_args()

    from opendata.settings import SOCRATA_WRITE_POOL

    work = Path(tempfile.mkdtemp(prefix="celery-scale-"))
    results = []
    try:
        if args.only in (None, "ours"):
            include = work / "include"
            ids = generate_include(include, args.datasets, args.rows)
            results.append(run_phase("ours", work / "ours", ids, include=include, dags=None, seed=seeder(include),
                                     pool=SOCRATA_WRITE_POOL, worker_concurrency=args.worker_concurrency,
                                     timeout=args.timeout))
        if args.only in (None, "baseline"):
            ids = generate_baseline(work / "baseline-dags", args.datasets)
            results.append(run_phase("baseline", work / "baseline", ids, include=None, dags=work / "baseline-dags",
                                     seed=None, pool=None, worker_concurrency=args.worker_concurrency,
                                     timeout=args.timeout))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1))
    report(results)


def report(results: list[dict]) -> None:
    print(f"\n{'phase':<10}{'runs':>6}{'wall s':>9}{'runs/min':>10}{'delay p50':>11}{'p95':>7}  states / hosts")
    for r in results:
        print(f"{r['phase']:<10}{r['runs']:>6}{r['wall_s']:>9}{r['runs_per_min']:>10}"
              f"{r['start_delay_median_s']!s:>11}{r['start_delay_p95_s']!s:>7}  {r['run_states']} {r['executed_on']}")
        if "peak_concurrent_portal_writes" in r:
            print(f"{'':<10}portal writes: {r['portal_writes']}, peak concurrent {r['peak_concurrent_portal_writes']}"
                  f" (pool slots {r['pool_slots']})")
        print(f"{'':<10}task instances by state: {r['task_states']}")
        print(f"{'':<10}worker peak memory (MB, PSS of the process tree): {r['worker_peak_mb']}")
    by = {r["phase"]: r for r in results}
    if "ours" in by and "baseline" in by:
        ours, base = by["ours"], by["baseline"]
        print(f"\nwall ours/baseline: {ours['wall_s'] / base['wall_s']:.1f}x")


if __name__ == "__main__":
    main()
