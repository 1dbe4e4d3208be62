"""Extraction speed and peak memory, at two table sizes, to show memory does not grow with rows.

    .venv/bin/python bench/extract_memory.py [--rows 100000 1000000] [--source sqlite csv]

Each extraction runs in a fresh process so its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare(workdir: Path, rows: int) -> tuple[Path, Path]:
    from opendata.samples.generate import building_permits, write_csv
    from opendata.samples.sql import load_permits

    csv_path = workdir / f"permits-{rows}.csv"
    write_csv(building_permits(rows=rows), csv_path)
    db_path = workdir / f"permits-{rows}.sqlite"
    load_permits(f"sqlite:///{db_path}", csv_path)
    return csv_path, db_path


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark (VmHWM).

    Not ru_maxrss: Linux carries that across fork and exec, so a child would report the
    parent's peak (here, the parent builds the big test files).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(kind: str, path: Path, workdir: Path) -> dict:
    """Runs in the child: extract once, report figures as JSON."""
    from opendata.sources.stage import extract_to_stage
    from opendata.spec.dataset import DatasetSpec
    from opendata.spec.loader import load_catalog

    data = load_catalog().get("building-permits").spec.model_dump(mode="json")
    if kind == "sqlite":
        os.environ["AIRFLOW_CONN_BENCH_DB"] = f"sqlite:///{path}"
        data["source"] = {"kind": "sql", "conn_id": "bench_db", "query_file": "building_permits.sql"}
    else:
        data["source"] = {"kind": "file", "path": str(path)}
    spec = DatasetSpec.model_validate(data)
    started = time.perf_counter()
    staged = extract_to_stage(spec, workdir / f"{kind}-{path.stem}.parquet")
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    return {"rows": staged.rows, "seconds": seconds, "peak_mb": peak_mb, "staged_mb": staged.bytes / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--source", nargs="+", default=["sqlite", "csv"], choices=["sqlite", "csv"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, workdir = args.child
        print(json.dumps(measure(kind, Path(path), Path(workdir))))
        return

    with tempfile.TemporaryDirectory(prefix="opendata-bench-") as tmp:
        workdir = Path(tmp)
        env = dict(os.environ, AIRFLOW_HOME=str(workdir / "airflow"), OPENDATA_INCLUDE_DIR=str(ROOT / "include"))
        print(f"{'source':<8}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'peak RSS MB':>13}{'staged MB':>11}")
        for rows in args.rows:
            csv_path, db_path = prepare(workdir, rows)
            for kind in args.source:
                path = db_path if kind == "sqlite" else csv_path
                out = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(workdir)],
                                     env=env, capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{kind:<8}{result['rows']:>11,}{result['seconds']:>9.1f}"
                      f"{result['rows'] / result['seconds']:>11,.0f}{result['peak_mb']:>13.0f}"
                      f"{result['staged_mb']:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
