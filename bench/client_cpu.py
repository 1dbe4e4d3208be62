"""Client CPU seconds per million rows of a full load: the hook's upsert next to a naive baseline.

    .venv/bin/python bench/client_cpu.py [--rows 200000] [--repeat 3]

Both load the same staged Parquet file (20 columns: text, numbers, timestamps, booleans; the
shape of bench/refresh_bench.py) into a fresh dataset of the portal emulator:

* naive: the whole file read into one DataFrame, timestamps formatted with ``strftime``,
  ``to_dict("records")``, then sodapy ``Socrata.upsert`` in 10,000-row chunks (stdlib json);
* ours: what ``apply_sync`` does for a first load, ``SocrataHook.upsert`` of the staged record
  batches (read, converted and encoded in the hook's background thread; orjson).

Each phase runs in a fresh process of its own and reports its own CPU time (user + sys of all
its threads, ``resource.getrusage``) from after its imports and client set-up to the end of
the load; the emulator is another process, so its CPU is not counted. The machine is shared,
so the figure that matters is the ratio ours/naive within one repetition (both measured under
the same conditions); the repetitions give its range. Each load is checked: the portal must
hold every row, and a sample of rows must read back the same from both datasets.

To measure another version of the client, put its ``plugins`` directory first on PYTHONPATH
(the phases inherit the environment), e.g. one exported with ``git archive``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from phases import peak_mb, phase_runner  # noqa: E402

CHUNK = 10_000
ROW_GROUP = 50_000


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_staged(path: Path, rows: int) -> None:
    """A staged file as extract_to_stage writes it: the Arrow types of the data dictionary."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from refresh_bench import frame

    writer = None
    try:
        for start in range(0, rows, ROW_GROUP):
            table = pa.Table.from_pandas(frame(start, min(ROW_GROUP, rows - start)), preserve_index=False)
            schema = pa.schema([pa.field(f.name, pa.timestamp("ms") if pa.types.is_timestamp(f.type) else f.type)
                                for f in table.schema])
            table = table.cast(schema)
            if writer is None:
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


# --- phases, each in its own process -------------------------------------------------------------

def phase_naive(args) -> dict:
    import pandas as pd
    import requests
    from sodapy import Socrata

    client = Socrata(args.portal_host, "bench", username=args.user, password=args.password, timeout=600,
                     session_adapter={"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()})
    cpu, wall = cpu_seconds(), time.perf_counter()
    table = pd.read_parquet(args.staged)
    for name in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[name]):
            table[name] = table[name].dt.strftime("%Y-%m-%dT%H:%M:%S.000")
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    for start in range(0, len(records), CHUNK):
        client.upsert(args.dataset, records[start:start + CHUNK])
    return {"cpu": cpu_seconds() - cpu, "seconds": time.perf_counter() - wall, "rows": len(records),
            "peak_mb": peak_mb()}


def phase_ours(args) -> dict:
    import logging

    from opendata.portal import SocrataHook
    from opendata.sources.staged import staged_batches

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # the progress lines are part of the cost
    hook = SocrataHook(chunk_size=CHUNK)
    hook.get_conn()  # reads the Airflow connection (imports) before the clock starts
    cpu, wall = cpu_seconds(), time.perf_counter()
    # What apply_sync hands the hook for a first load (lifecycle.sync._all_frames).
    frames = (batch.to_pandas() for batch in staged_batches(args.staged))
    result = hook.upsert(args.dataset, frames, total=args.rows)
    return {"cpu": cpu_seconds() - cpu, "seconds": time.perf_counter() - wall, "rows": result.rows_sent,
            "peak_mb": peak_mb()}


run_phase = phase_runner(__file__)


# --- checks --------------------------------------------------------------------------------------

def portal_count(emu, dataset: str) -> int:
    session = emu.session()
    answer = session.get(f"{emu.url}/resource/{dataset}.json", params={"$select": "count(*)"}, timeout=600)
    answer.raise_for_status()
    (row,) = answer.json()
    return int(next(iter(row.values())))


def portal_sample(emu, dataset: str) -> list[dict]:
    session = emu.session()
    answer = session.get(f"{emu.url}/resource/{dataset}.json",
                         params={"$order": "permit_id", "$limit": 500}, timeout=600)
    answer.raise_for_status()
    return answer.json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phase")
    for name in ("portal-host", "user", "password", "dataset", "staged"):
        parser.add_argument(f"--{name}")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps({"naive": phase_naive, "ours": phase_ours}[args.phase](args)))
        return

    from refresh_bench import columns as bench_columns

    from opendata.portal import ColumnSpec, SocrataHook
    from opendata.spec.vocab import SocrataType
    from portal_emulator.testing import run_emulator

    with tempfile.TemporaryDirectory(prefix="opendata-client-cpu-") as tmp, run_emulator(Path(tmp) / "portal") as emu:
        staged = Path(tmp) / "staged.parquet"
        write_staged(staged, args.rows)
        user, password = emu.auth("publisher")
        env = dict(os.environ, AIRFLOW_HOME=str(Path(tmp) / "airflow"),
                   AIRFLOW_CONN_SOCRATA_DEFAULT=json.dumps({
                       "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
                       "extra": {"read_timeout": 600}}))
        os.environ.update(env)
        hook = SocrataHook()
        specs = [ColumnSpec(c["field_name"], c["display_name"], SocrataType(c["type"]).views_api_name)
                 for c in bench_columns()]
        print(f"{args.rows:,} rows, {len(specs)} columns, {CHUNK:,} rows per request; "
              f"CPU seconds per million rows (client process only)", flush=True)
        ratios = []
        for rep in range(1, args.repeat + 1):
            got = {}
            for phase in ("naive", "ours"):
                dataset = hook.create_dataset(f"cpu bench {rep} {phase}", specs, row_identifier="permit_id")
                emu.reset_stats()
                result = run_phase(phase, env, portal_host=emu.host, user=user, password=password,
                                   dataset=dataset, staged=staged)
                result["bytes"] = emu.stats()["request_body_bytes_total"]
                held = portal_count(emu, dataset)
                if held != args.rows or result["rows"] != args.rows:
                    raise SystemExit(f"{phase}: sent {result['rows']:,}, the portal holds {held:,} of {args.rows:,}")
                result["sample"] = portal_sample(emu, dataset)
                got[phase] = result
                per_million = result["cpu"] * 1_000_000 / args.rows
                print(f"  run {rep} {phase:<5}  {per_million:7.2f} CPU s/M rows  {result['seconds']:7.1f} s wall  "
                      f"{result['rows'] / result['seconds']:8,.0f} rows/s  {result['bytes'] / 2**20:7.1f} MB sent  "
                      f"{result['peak_mb']:5.0f} MB peak", flush=True)
            if got["naive"]["sample"] != got["ours"]["sample"]:
                raise SystemExit("the two datasets read back differently")
            ratio = got["ours"]["cpu"] / got["naive"]["cpu"]
            ratios.append(ratio)
            wall = got["ours"]["seconds"] / got["naive"]["seconds"]
            print(f"  run {rep}: ours/naive CPU = {ratio:.3f}  (wall {wall:.2f}, "
                  f"bytes {got['ours']['bytes'] / got['naive']['bytes']:.2f})", flush=True)
        print(f"ours/naive client CPU per million rows over {len(ratios)} runs: "
              f"{min(ratios):.3f}-{max(ratios):.3f} (target <= 0.333)")


if __name__ == "__main__":
    main()
