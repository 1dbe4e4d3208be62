"""Print how long Airflow takes to parse the DAG folder, and each dataset's share of it.

    .venv/bin/python bench/parse_time.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from airflow.dag_processing.dagbag import DagBag

    from opendata.dag_factory import build_dag
    from opendata.spec.loader import load_catalog

    folder = ROOT / "dags"
    totals: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        bag = DagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")
        assert not bag.import_errors, bag.import_errors
        for stat in bag.dagbag_stats:
            totals.setdefault(stat.file, []).append(stat.duration.total_seconds())
    print(f"DAG files (median of {args.repeat} parses, in one process):")
    for file, seconds in sorted(totals.items()):
        print(f"  {file:<28} {statistics.median(seconds) * 1000:7.1f} ms")

    per_dataset: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        started = time.perf_counter()
        catalog = load_catalog()
        load = time.perf_counter() - started
        per_dataset.setdefault("(load + validate all files)", []).append(load)
        for loaded in catalog.datasets:
            started = time.perf_counter()
            build_dag(loaded)
            per_dataset.setdefault(loaded.spec.id, []).append(time.perf_counter() - started)
    print("Per dataset (median): validating its file is in the first line, building its DAG below")
    for name, seconds in per_dataset.items():
        print(f"  {name:<28} {statistics.median(seconds) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
