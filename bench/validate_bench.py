"""Validation speed and peak memory on a 20-column staged extract, at two sizes, to show that
memory does not grow with rows.

    .venv/bin/python bench/validate_bench.py [--rows 100000 1000000] [--batch-rows 50000]

The staged Parquet file is generated here (building-permit-like rows with some dirt: negative
valuations, bad ZIP codes, a duplicate id, a phone number in free text), then validated with
every gate the dataset file can declare: pandera quality checks on most columns, identifier
uniqueness, the personal-data scan of every text column, a small-cell check and the report.
Each validation runs in a fresh process so its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 50_000

COLUMNS = {
    "permit_nbr": "text", "permit_type": "text", "permit_sub_type": "text", "status": "text",
    "issue_date": "floating_timestamp", "final_date": "floating_timestamp", "valuation": "number",
    "square_footage": "number", "work_description": "text", "address": "text", "zip_code": "text",
    "council_district": "number", "contractor": "text", "latitude": "number", "longitude": "number",
    "units": "number", "stories": "number", "fee_paid": "checkbox", "inspector_notes": "text",
    "updated_at": "fixed_timestamp",
}
STATUSES = ["Issued", "Permit Finaled", "CofO Issued", "Expired"]
TYPES = ["Bldg-Addition", "Bldg-Alter/Repair", "Bldg-New", "Electrical", "Plumbing", "Swimming-Pool/Spa"]


def bench_spec():
    from opendata.spec.dataset import DatasetSpec
    from opendata.spec.loader import load_catalog

    data = load_catalog().get("building-permits").spec.model_dump(mode="json")
    data["columns"] = [{"field_name": name, "display_name": name.replace("_", " ").title(), "type": kind,
                        "description": f"The {name.replace('_', ' ')} of the permit, as the permit system keeps it."}
                       for name, kind in COLUMNS.items()]
    data["quality"] = {
        "columns": {
            "permit_type": {"allowed_values": {"values": TYPES}},
            "status": {"allowed_values": {"values": STATUSES, "severity": "warning"}},
            "issue_date": {"not_null": {}, "date_range": {"min": "2019-01-01", "severity": "warning"}},
            "final_date": {"date_range": {"min": "2019-01-01", "severity": "warning"}},
            "valuation": {"not_null": {"max_null_share": 0.01}, "range": {"min": 0, "severity": "warning"}},
            "square_footage": {"range": {"min": 0, "max": 1_000_000, "severity": "warning"}},
            "address": {"not_null": {}},
            "zip_code": {"pattern": {"regex": r"\d{5}", "severity": "warning"}},
            "council_district": {"range": {"min": 1, "max": 15}},
            "latitude": {"range": {"min": 33.7, "max": 34.34}},
            "longitude": {"range": {"min": -118.67, "max": -118.15}},
            "units": {"range": {"min": 0, "max": 2000}},
            "stories": {"range": {"min": 0, "max": 80}},
            "updated_at": {"not_null": {}},
        },
        "table": {"row_count": {"min": 1000}, "row_count_change": {"max_share": 0.5},
                  "comparisons": [{"column": "final_date", "op": ">=", "other": "issue_date", "severity": "warning"}]},
    }
    data["privacy"] = {
        "allowed": {"address": {"kinds": ["street_address"], "justification": "Addresses of permitted parcels."}},
        "quasi_identifiers": {"columns": ["zip_code", "council_district"], "k": 5},
        # The seeded phone number in the notes is a finding; the benchmark measures, it does not gate.
    }
    data["glossary"] = {"PCIS": "Plan Check and Inspection System.", "WGS": "World Geodetic System 1984."}
    return DatasetSpec.model_validate(data)


def write_staged(path: Path, rows: int) -> None:
    """A staged file as the extract step writes it (its schema, zstd, one row group per chunk)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from opendata.sources.coerce import arrow_schema

    schema = arrow_schema(bench_spec())
    rng = np.random.default_rng(20261127)
    streets = np.array(["S Broadway", "W Sunset Blvd", "N Figueroa St", "Wilshire Blvd", "Venice Blvd", "Main St"])
    zips = np.array(["90001", "90004", "90012", "90015", "90026", "91303", "91401", "90732"])
    notes = np.array(["Final inspection passed", "Correction notice issued", "Partial approval, see plans", ""])
    start = np.datetime64("2019-01-01T00:00:00", "ms")
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for offset in range(0, rows, CHUNK):
            n = min(CHUNK, rows - offset)
            idx = np.arange(offset, offset + n)
            issue = start + rng.integers(0, 7 * 365 * 86_400_000, n).astype("timedelta64[ms]")
            valuation = rng.choice([1500.0, 4800.0, 12000.0, 25000.0, 60000.0, 185000.0], n)
            valuation[idx % 1499 == 7] = -100.0
            zip_code = rng.choice(zips, n).astype(object)
            zip_code[idx % 1601 == 44] = "9OO12"
            note = rng.choice(notes, n).astype(object)
            note[idx % 250_000 == 1234] = "Owner asked to be called at 213-555-0142"
            ids = np.char.add("P", idx.astype(str).astype(object).astype(str)).astype(object)
            if offset == 0 and n > 10:
                ids[10] = ids[9]  # one duplicate identifier
            columns = {
                "permit_nbr": ids,
                "permit_type": rng.choice(TYPES, n).astype(object),
                "permit_sub_type": rng.choice(["1 or 2 Family Dwelling", "Apartment", "Commercial"], n).astype(object),
                "status": rng.choice(STATUSES, n).astype(object),
                "issue_date": issue,
                "final_date": issue + rng.integers(0, 400 * 86_400_000, n).astype("timedelta64[ms]"),
                "valuation": valuation,
                "square_footage": rng.integers(0, 4000, n).astype(float),
                "work_description": rng.choice(["Kitchen and bathroom remodel", "New construction per plans",
                                                "Install rooftop solar photovoltaic system"], n).astype(object),
                "address": np.char.add(np.char.add(rng.integers(100, 24999, n).astype(str), " "),
                                       rng.choice(streets, n)).astype(object),
                "zip_code": zip_code,
                "council_district": rng.integers(1, 16, n).astype(float),
                "contractor": rng.choice(["Pacific Coast Builders Inc", "Valley Electric Co", "Owner-Builder"],
                                         n).astype(object),
                "latitude": rng.uniform(33.75, 34.32, n),
                "longitude": rng.uniform(-118.66, -118.16, n),
                "units": rng.integers(0, 20, n).astype(float),
                "stories": rng.integers(1, 6, n).astype(float),
                "fee_paid": rng.random(n) > 0.1,
                "inspector_notes": note,
                "updated_at": (issue + np.timedelta64(1, "D")),
            }
            arrays = [pa.array(columns[f.name], type=f.type) for f in schema]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark (VmHWM); not ru_maxrss, which Linux
    carries across fork and exec (a child would report the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(path: Path, rows: int, workdir: Path, batch_rows: int) -> dict:
    """Runs in the child: validate once, report figures as JSON."""
    import logging

    from opendata.validation import validate_staged

    logging.disable(logging.WARNING)  # the seeded dirt would fill the terminal
    spec = bench_spec()
    staged = {"dataset_id": spec.id, "path": str(path), "rows": rows, "checksum": "", "coercion": {}}
    baseline = peak_rss_mb()
    started = time.perf_counter()
    result = validate_staged(spec, staged, previous_rows=rows, first_publication=True,
                             report_dir=workdir / f"report-{rows}", batch_rows=batch_rows,
                             now=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    seconds = time.perf_counter() - started
    return {"rows": result.rows, "seconds": seconds, "peak_mb": peak_rss_mb(), "baseline_mb": baseline,
            "summary": result.summary}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, rows, workdir = args.child
        print(json.dumps(measure(Path(path), int(rows), Path(workdir), args.batch_rows)))
        return

    with tempfile.TemporaryDirectory(prefix="opendata-bench-") as tmp:
        workdir = Path(tmp)
        env = dict(os.environ, AIRFLOW_HOME=str(workdir / "airflow"), OPENDATA_INCLUDE_DIR=str(ROOT / "include"))
        print(f"{'rows':>11}{'columns':>9}{'seconds':>9}{'rows/s':>11}{'peak RSS MB':>13}{'after imports MB':>18}"
              f"{'staged MB':>11}")
        summaries = []
        for rows in args.rows:
            path = workdir / f"staged-{rows}.parquet"
            write_staged(path, rows)
            out = subprocess.run([sys.executable, __file__, "--batch-rows", str(args.batch_rows), "--child",
                                  str(path), str(rows), str(workdir)],
                                 env=env, capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{result['rows']:>11,}{len(COLUMNS):>9}{result['seconds']:>9.1f}"
                  f"{result['rows'] / result['seconds']:>11,.0f}{result['peak_mb']:>13.0f}"
                  f"{result['baseline_mb']:>18.0f}{path.stat().st_size / 2**20:>11.1f}", flush=True)
            summaries.append(f"{rows:,} rows: {result['summary']}")
        print("\n".join(summaries))


if __name__ == "__main__":
    main()
