"""Parsing at a city's scale: our dataset DAG files against plain Python DAG files, in one run.

    .venv/bin/python bench/parse_scale.py [--files 1000 5000] [--repeat 1] [--keep]
                                          [--registry-url postgresql://...]

For each count N it generates, in a temporary folder:

* ours: N valid dataset files (the samples cloned into new departments and ids, with a
  governance file naming every department), read by the repository's dags/datasets*.py and
  dags/dataset_file_errors.py;
* the anchor: N hand-written Python DAG files of 10 EmptyOperators each, in their own dags folder.

Both are parsed the way Airflow's DAG processor does it: a manager process that has imported
Airflow (and pre-imports the airflow modules a file names, parsing_pre_import_modules) forks one
child per DAG file, two at a time ([dag_processor] parsing_processes); each child builds a
BundleDagBag of its one file and serializes every DAG with DagSerialization.to_dict, what the
processor stores (json.dumps of it is the serialized_dag row). Printed for both, as ratios
against the anchor measured in the same run (the machine is shared: only ratios compare):

* first parse (an empty state folder), then unchanged re-parses: the sum over DAG files of the
  child's parse time (DagBag + serialization) and the wall time;
* the slowest DAG file's import against dagbag_import_timeout / 3;
* DAGs loaded (ours must load every valid file on the FIRST parse) and import errors;
* serialized DAG bytes in total; peak memory (VmHWM) of the largest child;
* `opendata lint` on the N files, in a fresh process (against 5 s);
* how long a valid dataset file at the size limit takes to check.

The stage tags and the record of which file holds each id come from the registry through each
machine's cache of them (opendata.registry.stage_snapshot). With ``--registry-url`` (a PostgreSQL
database the bench empties and fills: one stage per generated dataset, half of them stage-1) our
parses use that registry, and two more parses are timed: every read asking the registry
(OPENDATA_STAGE_CACHE_SECONDS=0, the worst case: three statements per DAG file) and the registry
unreachable (a closed port: each DAG file goes on with its cache after a refused connection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Dataset files per generated department (each a clone of one sample's department).
PER_DEPARTMENT = 100
# [dag_processor] parsing_processes, Airflow's default.
PARSING_PROCESSES = 2
LINT_TARGET_SECONDS = 5.0

BASELINE_DAG = '''"""Hand-written anchor DAG {i}: ten EmptyOperators in a line."""
import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(
    dag_id="baseline_{i:05d}",
    description="Anchor DAG {i}",
    schedule="@daily",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["department:baseline-{department:03d}", "anchor"],
    default_args={{"owner": "steward {i}", "retries": 2, "retry_delay": dt.timedelta(minutes=5)}},
) as dag:
    tasks = [EmptyOperator(task_id=f"step_{{n}}") for n in range(10)]
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream
'''


# --- the inputs -------------------------------------------------------------------------------------

def generate(include: Path, count: int) -> None:
    """``count`` valid dataset files under ``include``, with its governance.yaml and sql/."""
    import yaml

    source = ROOT / "include"
    shutil.copytree(source / "sql", include / "sql")
    (include / "sample_sources").mkdir(parents=True)
    governance = yaml.safe_load((source / "governance.yaml").read_text())
    samples = sample_paths()
    texts = {path: path.read_text() for path in samples}
    departments: dict[str, dict] = {}
    for i in range(count):
        sample = samples[i % len(samples)]
        department = f"{sample.parent.name}-{i // PER_DEPARTMENT:03d}"
        dataset_id = f"{sample.stem}-{i:05d}"
        text = texts[sample].replace(f"id: {sample.stem}\n", f"id: {dataset_id}\n", 1)
        text = text.replace(f"department: {sample.parent.name}\n", f"department: {department}\n", 1)
        folder = include / "datasets" / department
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dataset_id}.yaml").write_text(text)
        original = governance["departments"][sample.parent.name]
        departments[department] = {**original, "leadership": list(original["leadership"]),
                                   "coordinators": list(original["coordinators"])}
    governance["departments"] = departments
    (include / "governance.yaml").write_text(yaml.safe_dump(governance, sort_keys=False))


def sample_paths() -> list[Path]:
    """The bundled files that build a DAG (a planned one builds none: it would not be a DAG to time)."""
    import yaml

    paths = sorted((ROOT / "include" / "datasets").glob("*/*.yaml"))
    return [path for path in paths if yaml.safe_load(path.read_text()).get("status") != "planned"]


def generate_baseline(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"baseline_{i:05d}.py").write_text(BASELINE_DAG.format(i=i, department=i // PER_DEPARTMENT))
    return sorted(p.name for p in folder.glob("*.py"))


def largest_file_ms(include: Path, limit: int) -> tuple[int, float, int]:
    """Columns in, milliseconds to check, and errors of a valid dataset file just under the size
    limit (long descriptions, so that it stays under the limit on values too)."""
    from opendata.spec.loader import parse_dataset_file

    sample = (ROOT / "include" / "datasets" / "sanitation" / "service-requests-311.yaml").read_text()
    head, _, _ = sample.partition("columns:\n")
    head = head.replace("id: service-requests-311", "id: zz-largest").replace(
        "department: sanitation", "department: sanitation-000").replace(
        "row_identifier: sr_number", "row_identifier: c00000") + "columns:\n"
    column = ("  - field_name: c{i:05d}\n    display_name: Column {i}\n    type: text\n    description: Generated "
              "column {i} of the largest accepted file. " + "A plain-English sentence about the column. " * 6 + "\n")
    body, size = [head], len(head)
    while size + len(column) + 20 < limit:
        body.append(column.format(i=len(body) - 1))
        size += len(body[-1])
    path = include / "datasets" / "sanitation-000" / "zz-largest.yaml"
    path.write_text("".join(body))
    started = time.perf_counter()
    parsed, _ = parse_dataset_file(path, include)
    elapsed = (time.perf_counter() - started) * 1000
    path.unlink()
    return len(body) - 1, elapsed, len(parsed.errors) + (parsed.spec is None)


def our_dag_files() -> list[str]:
    return sorted(p.name for p in (ROOT / "dags").glob("datasets*.py")) + ["dataset_file_errors.py"]


# --- the DAG processor, as Airflow runs it (this script with --serve, one per parse) --------------

def serve(folder: str, files: list[str]) -> None:
    """Parse each of ``files`` (names in ``folder``) in a forked child, PARSING_PROCESSES at a
    time; print one JSON line per file."""
    import airflow.dag_processing.manager  # noqa: F401 - what the DAG processor's manager has imported
    import structlog
    from airflow.dag_processing.dagbag import BundleDagBag  # noqa: F401
    from airflow.dag_processing.processor import _pre_import_airflow_modules
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    log = structlog.get_logger()
    # A long-running DAG processor has serialized DAGs before: what that loads once (providers,
    # encoders) is loaded here too, before the fork, and not counted against the first file.
    with DAG(dag_id="warm_up", schedule=None) as warm:
        EmptyOperator(task_id="warm_up")
    DagSerialization.to_dict(warm)
    gc.freeze()  # as the DAG processor's manager does before it forks: no copy-on-write of its objects
    running: dict[int, tuple[str, int]] = {}
    queue = list(files)
    started = time.perf_counter()
    results = []
    while queue or running:
        while queue and len(running) < PARSING_PROCESSES:
            name = queue.pop(0)
            path = os.path.join(folder, name)
            _pre_import_airflow_modules(path, log)
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                try:
                    payload = json.dumps(_parse_one(folder, path)).encode()
                except BaseException as exc:  # noqa: BLE001 - reported, never hung
                    payload = json.dumps({"failed": repr(exc)}).encode()
                with os.fdopen(write_end, "wb") as out:
                    out.write(payload)
                os._exit(0)
            os.close(write_end)
            running[pid] = (name, read_end)
        pid, _ = os.wait()
        name, read_end = running.pop(pid)
        with os.fdopen(read_end, "rb") as handle:
            figures = json.loads(handle.read() or b'{"failed": "no output"}')
        results.append({"file": name, **figures})
    print(json.dumps({"wall": time.perf_counter() - started, "files": results}))


def _parse_one(folder: str, path: str) -> dict:
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.dag_processing.importers import python_importer
    from airflow.serialization.serialized_objects import DagSerialization

    imported: list[float] = []
    load = python_importer.PythonDagImporter._load_modules_from_file

    def timed(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return load(self, *args, **kwargs)
        finally:
            imported.append(time.perf_counter() - began)

    python_importer.PythonDagImporter._load_modules_from_file = timed
    cpu = time.process_time()
    began = time.perf_counter()
    bag = BundleDagBag(dag_folder=path, bundle_path=Path(folder), bundle_name="dags-folder", load_op_links=False)
    bagged = time.perf_counter()
    serialized = [DagSerialization.to_dict(dag) for dag in bag.dags.values()]
    done = time.perf_counter()
    cpu = time.process_time() - cpu
    size = sum(len(json.dumps(data, sort_keys=True).encode()) for data in serialized)
    peak_kib = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
    errors = "\n".join(bag.import_errors.values())
    return {"import": sum(imported), "cpu": cpu, "dagbag": bagged - began, "serialize": done - bagged,
            "parse": done - began,
            "dags": len(bag.dags), "import_errors": len(bag.import_errors),
            "not_checked": errors.count("not checked yet"), "bytes": size, "peak_mib": peak_kib / 1024,
            "error_text": errors[:300]}


def parse_folder(folder: Path, files: list[str], env: dict[str, str]) -> dict:
    """One whole parse of ``files``: sums and maxima over the children."""
    result = subprocess.run([sys.executable, __file__, "--serve", str(folder), *files], capture_output=True,
                            text=True, env=env, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"parse of {folder} failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    failed = [f for f in report["files"] if "failed" in f]
    if failed:
        raise SystemExit(f"children failed: {failed[:3]}")
    rows = report["files"]
    slowest = max(rows, key=lambda f: f["import"])
    return {"wall": report["wall"], "parse": sum(f["parse"] for f in rows),
            "cpu": sum(f["cpu"] for f in rows), "dags": sum(f["dags"] for f in rows),
            "import_errors": sum(f["import_errors"] for f in rows), "not_checked": sum(f["not_checked"] for f in rows),
            "bytes": sum(f["bytes"] for f in rows), "peak_mib": max(f["peak_mib"] for f in rows),
            "slowest_import": slowest["import"], "slowest_file": slowest["file"],
            "serialize": sum(f["serialize"] for f in rows), "rows": rows}


def lint_seconds(include: Path, env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall and CPU seconds of `opendata lint` in a fresh process, its exit code and summary."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "opendata", "lint", "--include", str(include)],
                            capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, result.returncode, result.stdout.strip().splitlines()[-1:][0]


# --- the run ----------------------------------------------------------------------------------------

def _range(values: list[float], fmt: str = "{:.2f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(min(values))}–{fmt.format(max(values))} (median {fmt.format(statistics.median(values))})"


def fill_registry(url: str, count: int) -> None:
    """An empty registry at ``url`` holding one stage per generated dataset (half stage-1)."""
    import sqlalchemy as sa

    from opendata.registry import Registry
    from opendata.registry.store import create_database_if_missing, dataset_file, dataset_state, metadata

    create_database_if_missing(url)
    registry = Registry(url)
    now = time.time()
    with registry.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        samples = [path.stem for path in sample_paths()]
        stamp = dt.datetime.now(dt.UTC)
        conn.execute(dataset_state.insert(), [
            {"dataset_id": f"{samples[i % len(samples)]}-{i:05d}", "stage": "stage-1" if i % 2 else "not-ready",
             "updated_at": stamp} for i in range(count)])
    with registry.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(dataset_file)).scalar() == 0
    registry.close()
    print(f"  registry {sa.engine.make_url(url).render_as_string(hide_password=True)}: {count:,} stages "
          f"({time.time() - now:.1f} s to fill)")


def closed_port_url(url: str) -> str:
    import socket

    import sqlalchemy as sa

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return sa.engine.make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def run_scale(count: int, repeat: int, timeout: float, work: Path, anchor_once: bool = False,
              registry_url: str | None = None) -> None:
    from opendata.spec.cache import RACY_SECONDS

    include = work / f"include-{count}"
    baseline = work / f"baseline-{count}"
    generate(include, count)
    baseline_files = generate_baseline(baseline, count)
    # Files written in the last two seconds are never cached (their timestamps could hide a second
    # write): a deployment's files are older than that, so the bench waits as long.
    time.sleep(RACY_SECONDS + 0.1)
    base = {**os.environ, "OPENDATA_INCLUDE_DIR": str(include), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags")}
    ours_files = our_dag_files()
    print(f"\n=== {count:,} dataset files / {count:,} anchor DAG files ({len(ours_files)} DAG files of ours) ===")
    if registry_url:
        fill_registry(registry_url, count)
        base["OPENDATA_REGISTRY_URL"] = registry_url
    uncached: list[dict] = []
    unreachable: list[dict] = []
    figures: dict[str, list[dict]] = {"first": [], "again": [], "base": [], "base_again": []}
    lint: list[float] = []
    lint_cpu: list[float] = []
    lint_warm: list[float] = []
    for round_ in range(repeat):
        state = work / f"state-{count}-{round_}"
        env = {**base, "OPENDATA_STATE_DIR": str(state)}
        figures["base"].append(parse_folder(baseline, baseline_files, base))
        figures["first"].append(parse_folder(ROOT / "dags", ours_files, env))
        figures["again"].append(parse_folder(ROOT / "dags", ours_files, env))
        # Python DAG files keep nothing between parses but their bytecode: --anchor-once takes the
        # anchor's first parse as its re-parse too (it saves the longest step at 5,000 files).
        again = figures["base"][-1] if anchor_once else parse_folder(baseline, baseline_files, base)
        figures["base_again"].append(again)
        if registry_url:
            uncached.append(parse_folder(ROOT / "dags", ours_files, {**env, "OPENDATA_STAGE_CACHE_SECONDS": "0"}))
            unreachable.append(parse_folder(ROOT / "dags", ours_files, {
                **env, "OPENDATA_REGISTRY_URL": closed_port_url(registry_url),
                "OPENDATA_STATE_DIR": str(work / f"state-{count}-{round_}-unreachable")}))
        fresh = {**base, "OPENDATA_STATE_DIR": str(work / f"lint-{round_}")}
        seconds, cpu, code, summary = lint_seconds(include, fresh)
        lint.append(seconds)
        lint_cpu.append(cpu)
        seconds_warm, _, _, _ = lint_seconds(include, env)
        lint_warm.append(seconds_warm)
        print(f"  round {round_ + 1}: anchor {figures['base'][-1]['parse']:.1f} s, ours first "
              f"{figures['first'][-1]['parse']:.1f} s, again {figures['again'][-1]['parse']:.1f} s; "
              f"lint {seconds:.1f} s (exit {code}: {summary})", flush=True)

    def ratios(ours: str, anchor: str, key: str) -> list[float]:
        return [o[key] / a[key] for o, a in zip(figures[ours], figures[anchor], strict=True)]

    first, base_ = figures["first"], figures["base"]
    print(f"  {'':<46}{'ours':>22}{'anchor':>22}{'ratio':>24}")
    print(f"  {'first parse, sum of DAG file parses (s)':<46}{_range([f['parse'] for f in first]):>22}"
          f"{_range([f['parse'] for f in base_]):>22}{_range(ratios('first', 'base', 'parse')):>24}   target ≤ 1.5")
    print(f"  {'first parse, CPU seconds of the parses':<46}{_range([f['cpu'] for f in first]):>22}"
          f"{_range([f['cpu'] for f in base_]):>22}{_range(ratios('first', 'base', 'cpu')):>24}")
    print(f"  {'first parse, wall with 2 processes (s)':<46}{_range([f['wall'] for f in first]):>22}"
          f"{_range([f['wall'] for f in base_]):>22}{_range(ratios('first', 'base', 'wall')):>24}")
    print(f"  {'unchanged re-parse, sum (s)':<46}{_range([f['parse'] for f in figures['again']]):>22}"
          f"{_range([f['parse'] for f in figures['base_again']]):>22}"
          f"{_range(ratios('again', 'base_again', 'parse')):>24}   target ≈ 1")
    print(f"  {'unchanged re-parse, CPU seconds':<46}{_range([f['cpu'] for f in figures['again']]):>22}"
          f"{_range([f['cpu'] for f in figures['base_again']]):>22}"
          f"{_range(ratios('again', 'base_again', 'cpu')):>24}")
    print(f"  {'unchanged re-parse, wall (s)':<46}{_range([f['wall'] for f in figures['again']]):>22}"
          f"{_range([f['wall'] for f in figures['base_again']]):>22}"
          f"{_range(ratios('again', 'base_again', 'wall')):>24}")
    slowest = [max(f["slowest_import"], a["slowest_import"]) for f, a in zip(first, figures["again"], strict=True)]
    print(f"  {'slowest DAG file import (s), vs timeout/3':<46}{_range(slowest):>22}{timeout / 3:>22.1f}"
          f"{_range([s / (timeout / 3) for s in slowest]):>24}   target < 1 "
          f"({first[-1]['slowest_file']})")
    print(f"  {'DAGs loaded on the first parse':<46}{_range([f['dags'] for f in first], '{:.0f}'):>22}"
          f"{_range([f['dags'] for f in base_], '{:.0f}'):>22}"
          f"{_range([f['dags'] / count for f in first]):>24}   target 1.00")
    left = f"{first[-1]['import_errors']} / {first[-1]['not_checked']}"
    print(f"  {'  import errors / files not checked yet':<46}{left:>22}")
    print(f"  {'DAGs loaded on the re-parse':<46}{_range([f['dags'] for f in figures['again']], '{:.0f}'):>22}")
    print(f"  {'serialized DAGs, total (MB)':<46}{_range([f['bytes'] / 1e6 for f in first]):>22}"
          f"{_range([f['bytes'] / 1e6 for f in base_]):>22}{_range(ratios('first', 'base', 'bytes')):>24}")
    print(f"  {'serialization time, sum (s)':<46}{_range([f['serialize'] for f in first]):>22}"
          f"{_range([f['serialize'] for f in base_]):>22}{_range(ratios('first', 'base', 'serialize')):>24}")
    print(f"  {'peak memory of a DAG file parse (MiB)':<46}{_range([f['peak_mib'] for f in first], '{:.0f}'):>22}"
          f"{_range([f['peak_mib'] for f in base_], '{:.0f}'):>22}{_range(ratios('first', 'base', 'peak_mib')):>24}")
    print(f"  {'opendata lint, fresh state folder (s)':<46}{_range(lint):>22}{LINT_TARGET_SECONDS:>22.1f}"
          f"{_range([s / LINT_TARGET_SECONDS for s in lint]):>24}   target < 1")
    print(f"  {'opendata lint, fresh state folder (CPU s)':<46}{_range(lint_cpu):>22}"
          f"{LINT_TARGET_SECONDS:>22.1f}"
          f"{_range([s / LINT_TARGET_SECONDS for s in lint_cpu]):>24}")
    print(f"  {'opendata lint, after the DAG parses (s)':<46}{_range(lint_warm):>22}{LINT_TARGET_SECONDS:>22.1f}"
          f"{_range([s / LINT_TARGET_SECONDS for s in lint_warm]):>24}")
    print("  per DAG file of ours, first parse (import s, parse s, DAGs, MB, peak MiB):  " + "  ".join(
        f"{r['file']}={r['import']:.2f}/{r['parse']:.2f}/{r['dags']}/{r['bytes'] / 1e6:.1f}/{r['peak_mib']:.0f}"
        for r in first[-1]["rows"]))
    if first[-1]["import_errors"]:
        print("  first import error: " + next(r["error_text"] for r in first[-1]["rows"] if r["import_errors"]))
    def per_file(parses: list[dict]) -> str:
        imports = [r["import"] for f in parses for r in f["rows"] if r["file"].startswith("datasets")]
        return f"{statistics.median(imports):.2f} / {max(imports):.2f}"

    print("  per dataset DAG file (datasets*.py), import seconds, median / max over the rounds:")
    print(f"  {'  first parse (registry read once, then cache)':<50}{per_file(first):>14}")
    print(f"  {'  unchanged re-parse (the cache, no round trip)':<50}{per_file(figures['again']):>14}")
    if uncached:
        stages_shown = [f["dags"] for f in uncached]
        print(f"  {'  every read asks the registry (cache 0 s)':<50}{per_file(uncached):>14}"
              f"   sum {_range([f['parse'] for f in uncached])} s vs {_range([f['parse'] for f in figures['again']])}"
              f" s cached; {_range(stages_shown, '{:.0f}')} DAGs")
        print(f"  {'  registry unreachable (refused, no cache)':<50}{per_file(unreachable):>14}"
              f"   sum {_range([f['parse'] for f in unreachable])} s; "
              f"{_range([f['dags'] for f in unreachable], '{:.0f}')} DAGs, "
              f"{_range([f['import_errors'] for f in unreachable], '{:.0f}')} import errors")
    from opendata import settings

    limit = settings.max_dataset_file_bytes()
    columns, ms, errors = largest_file_ms(include, limit)
    print(f"  a valid dataset file at the size limit ({limit:,} bytes, {columns:,} columns): checked in {ms:.0f} ms"
          f"{'' if not errors else f' ({errors} error(s): not a valid file!)'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument("--anchor-once", action="store_true", help="parse the anchor folder once per round")
    parser.add_argument("--registry-url", help="a PostgreSQL registry for our parses (emptied and filled)")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1:])
        return

    from airflow.configuration import conf

    timeout = conf.getfloat("core", "dagbag_import_timeout")
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; dagbag_import_timeout {timeout:.0f} s; "
          f"{PARSING_PROCESSES} parsing processes; repeat {args.repeat}")
    work = Path(tempfile.mkdtemp(prefix="opendata-parse-scale-"))
    try:
        for count in args.files:
            run_scale(count, args.repeat, timeout, work, args.anchor_once, args.registry_url)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
