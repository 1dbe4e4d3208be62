"""Print how long Airflow takes to parse 5,000 dataset files, first and unchanged, and the memory.

    .venv/bin/python bench/parse_5000.py [--files 5000] [--keep]

Generates valid dataset files in a temporary include folder (the three samples cloned into new
departments and ids, with a governance file naming every department), then parses each DAG file
that reads them (the eight dags/datasets*.py, each building the DAGs of its share of the ids, and
dags/dataset_file_errors.py, which checks every file) with Airflow's DagBag, each in a fresh
process as the DAG processor does:

* first parse: an empty state folder, so every dataset file is read, parsed and checked, within
  the parse budget (OPENDATA_PARSE_BUDGET_SECONDS; files left over are named "not checked yet");
* second parse: what the first left over;
* unchanged re-parse: the same files again, their results taken from the parse cache;
* without the cache (OPENDATA_PARSE_CACHE=0), for comparison.

For each DAG file it prints the import time (what Airflow's dagbag_import_timeout bounds), the
whole DagBag (import plus Airflow's own checks of every DAG), that time per dataset file it reads, and the
process's peak memory (VmHWM); then the sum over all DAG files and the slowest import. It prints
figures only: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAG_FILES = sorted(p.name for p in (ROOT / "dags").glob("datasets*.py")) + ["dataset_file_errors.py"]
# Dataset files per generated department (each a clone of one sample's department).
PER_DEPARTMENT = 100


def generate(include: Path, count: int) -> None:
    """``count`` valid dataset files under ``include``, with its governance.yaml and sql/."""
    import yaml

    source = ROOT / "include"
    shutil.copytree(source / "sql", include / "sql")
    (include / "sample_sources").mkdir(parents=True)
    governance = yaml.safe_load((source / "governance.yaml").read_text())
    samples = sorted((source / "datasets").glob("*/*.yaml"))
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


def child(dag_file: str) -> None:
    """One DAG file through a DagBag, as one DAG processor subprocess; prints JSON."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.dag_processing.importers import python_importer

    imported: list[float] = []
    load = python_importer.PythonDagImporter._load_modules_from_file

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return load(self, *args, **kwargs)
        finally:
            imported.append(time.perf_counter() - started)

    python_importer.PythonDagImporter._load_modules_from_file = timed
    folder = ROOT / "dags"
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(folder / dag_file), bundle_path=folder, bundle_name="dags-folder")
    total = time.perf_counter() - started
    peak_kib = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
    errors = "\n".join(bag.import_errors.values())
    print(json.dumps({"import": sum(imported), "total": total, "dags": len(bag.dags),
                      "import_errors": len(bag.import_errors), "not_checked": errors.count("not checked yet"),
                      "peak_mib": peak_kib / 1024}))


def run_child(dag_file: str, env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", dag_file], capture_output=True, text=True,
                            env=env, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"{dag_file} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    from airflow.configuration import conf

    from opendata import settings
    from opendata.lifecycle.factory import shard_of, shard_of_dag_file
    from opendata.spec.cache import RACY_SECONDS

    work = Path(tempfile.mkdtemp(prefix="opendata-parse-bench-"))
    include = work / "include"
    started = time.perf_counter()
    generate(include, args.files)
    # Files written in the last two seconds are never cached (their timestamps could hide a second
    # write): a deployment's files are older than that, so the bench waits as long.
    time.sleep(RACY_SECONDS + 0.1)
    print(f"{args.files:,} dataset files generated in {time.perf_counter() - started:.1f} s under {include}; "
          f"{os.cpu_count()} CPU(s); dagbag_import_timeout {conf.getfloat('core', 'dagbag_import_timeout'):.0f} s")
    base = {**os.environ, "OPENDATA_INCLUDE_DIR": str(include), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags")}
    # Dataset files each DAG file reads: its share of the ids (dataset_file_errors.py: all of them).
    stems = [path.stem for path in (include / "datasets").glob("*/*.yaml")]
    reads = {name: sum(shard_of(stem) == shard_of_dag_file(name) for stem in stems) for name in DAG_FILES[:-1]}
    reads["dataset_file_errors.py"] = len(stems)
    header = f"  {'DAG file':<24}{'DAGs':>6}{'import s':>10}{'ms/file':>9}{'DagBag s':>10}{'peak MiB':>10}"
    runs = [("first parse (empty parse cache)", {}, "cold"),
            ("second parse (what the first parse left over)", {}, "cold"),
            ("unchanged re-parse (parse cache)", {}, "cold"),
            ("without the parse cache (OPENDATA_PARSE_CACHE=0)", {"OPENDATA_PARSE_CACHE": "0"}, "nocache")]
    for title, extra, state in runs:
        print(title)
        print(header)
        totals = {"dags": 0, "import": 0.0, "total": 0.0, "slowest": 0.0, "peak_mib": 0.0}
        for dag_file in DAG_FILES:
            # Each DAG file has its own state folder, so each first parse starts from nothing.
            env = {**base, **extra, "OPENDATA_STATE_DIR": str(work / f"state-{state}-{dag_file}")}
            figures = run_child(dag_file, env)
            errors = (f"  import error: {figures['not_checked']:,} file(s) not checked yet"
                      if figures["not_checked"] else "  import error" if figures["import_errors"] else "")
            print(f"  {dag_file:<24}{figures['dags']:>6}{figures['import']:>10.2f}"
                  f"{figures['import'] / max(reads[dag_file], 1) * 1000:>9.2f}{figures['total']:>10.2f}"
                  f"{figures['peak_mib']:>10.0f}{errors}")
            for key in ("dags", "import", "total"):
                totals[key] += figures[key]
            totals["slowest"] = max(totals["slowest"], figures["import"])
            totals["peak_mib"] = max(totals["peak_mib"], figures["peak_mib"])
        print(f"  {'all DAG files':<24}{totals['dags']:>6}{totals['import']:>10.2f}"
              f"{totals['import'] / args.files * 1000:>9.2f}{totals['total']:>10.2f}{totals['peak_mib']:>10.0f}"
              f"   slowest import {totals['slowest']:.2f} s")
    columns, ms, errors = largest_file_ms(include, settings.max_dataset_file_bytes())
    print(f"a valid dataset file at the size limit ({settings.max_dataset_file_bytes():,} bytes, {columns:,} columns): "
          f"checked in {ms:.0f} ms{'' if not errors else f' ({errors} error(s): not a valid file!)'}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
