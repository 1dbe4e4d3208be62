"""Publish a 20-column table from PostgreSQL to the portal emulator, then refresh it with 1% of
its rows changed; next to a naive baseline in the same run (the whole table read with pandas,
every row upserted in 10,000-row chunks with plain sodapy).

    .venv/bin/python bench/refresh_bench.py [--rows 100000 1000000] [--pg-host 127.0.0.1]

Prints, per size and phase: seconds, rows per second, bytes sent to the portal (counted at the
emulator) and peak memory (VmHWM of the phase's own fresh process).
Targets (issue 7): the 1%-change refresh sends under 2% of the full load's bytes; peak memory
under 500 MB and flat from 100k to 1M rows; full-load throughput at least the baseline's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from phases import peak_mb, phase_runner  # the script's folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
TABLE = "bench_permits"
TEXT = ["status", "permit_type", "district", "zone", "contractor", "work_class"]
NUMBERS = ["valuation", "fee", "square_feet", "units", "stories", "lat"]
TIMES = ["applied", "issued", "finaled"]
FLAGS = ["is_residential", "has_solar"]
FREE = ["address", "description"]


def columns() -> list[dict]:
    out = [{"field_name": "permit_id", "display_name": "Permit ID", "type": "text",
            "description": "Unique permit identifier."}]
    for name in TEXT + FREE:
        out.append({"field_name": name, "display_name": name.title(), "type": "text",
                    "description": f"The permit's {name.replace('_', ' ')}."})
    for name in NUMBERS:
        out.append({"field_name": name, "display_name": name.title(), "type": "number",
                    "description": f"The permit's {name.replace('_', ' ')}."})
    for name in TIMES:
        out.append({"field_name": name, "display_name": name.title(), "type": "floating_timestamp",
                    "description": f"When the permit was {name}."})
    for name in FLAGS:
        out.append({"field_name": name, "display_name": name.title(), "type": "checkbox",
                    "description": f"Whether the permit {name.replace('_', ' ')}."})
    return out


def spec(conn_id: str):
    from opendata.spec.dataset import DatasetSpec
    from opendata.spec.loader import load_catalog

    # The include folder of the code that runs (refresh_scale.py runs older code with its own).
    include = Path(os.environ.get("OPENDATA_INCLUDE_DIR") or ROOT / "include")
    data = load_catalog(include).get("building-permits").spec.model_dump(mode="json")
    data.update(columns=columns(), quality={}, privacy={}, glossary={},
                source={"kind": "sql", "conn_id": conn_id, "query": f"SELECT * FROM {TABLE}"})
    data["publishing"]["row_identifier"] = "permit_id"
    return DatasetSpec.model_validate(data)


def frame(start: int, n: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(start)
    ids = np.arange(start, start + n)
    data = {"permit_id": [f"P{i:08d}" for i in ids]}
    for k, name in enumerate(TEXT):
        data[name] = rng.choice([f"{name}-{j}" for j in range(12 + k)], n)
    for name in FREE:
        data[name] = [f"{i % 9999} {name.title()} Street, unit {i % 37}" for i in ids]
    for name in NUMBERS:
        data[name] = np.round(rng.uniform(0, 100_000, n), 2)
    base = np.datetime64("2019-01-01T00:00:00")
    for k, name in enumerate(TIMES):
        data[name] = base + (rng.integers(0, 2_000 * 86400, n) + k * 86400).astype("timedelta64[s]")
    for name in FLAGS:
        data[name] = rng.integers(0, 2, n).astype(bool)
    return pd.DataFrame(data)


def load_table(url: str, rows: int) -> None:
    import psycopg

    dtypes = ", ".join([f"{c['field_name']} " + {"text": "text", "number": "double precision",
                                                 "floating_timestamp": "timestamp", "checkbox": "boolean"}[c["type"]]
                        for c in columns()])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} ({dtypes}, PRIMARY KEY (permit_id))")
        with conn.cursor().copy(f"COPY {TABLE} FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, rows, 100_000):
                buffer = io.StringIO()
                frame(start, min(100_000, rows - start)).to_csv(buffer, header=False, index=False)
                copy.write(buffer.getvalue())


def change_one_percent(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(f"UPDATE {TABLE} SET status = 'changed', fee = fee + 1 "
                            f"WHERE substr(permit_id, 2)::int % 100 = 7").rowcount


# --- phases, each in its own process -------------------------------------------------------------

def phase_naive(args) -> dict:
    """The baseline: read everything with pandas, upsert every row with plain sodapy."""
    import pandas as pd
    import requests
    import sqlalchemy as sa
    from sodapy import Socrata

    started = time.perf_counter()
    engine = sa.create_engine(args.sqlalchemy_url)
    table = pd.read_sql(f"SELECT * FROM {TABLE}", engine)
    for name in TIMES:
        table[name] = table[name].dt.strftime("%Y-%m-%dT%H:%M:%S.000")
    client = Socrata(args.portal_host, "bench", username=args.user, password=args.password, timeout=600,
                     session_adapter={"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()})
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    for start in range(0, len(records), 10_000):
        client.upsert(args.dataset, records[start:start + 10_000])
    return {"seconds": time.perf_counter() - started, "rows": len(records), "peak_mb": peak_mb()}


def phase_ours(args) -> dict:
    """The pipeline's path: chunked extract to Parquet, then a change-only load."""
    from opendata.lifecycle.sync import sync_to_portal
    from opendata.portal import SocrataHook
    from opendata.sources.stage import extract_to_stage

    started = time.perf_counter()
    dataset = spec("bench_pg")
    work = Path(args.workdir)
    staged = extract_to_stage(dataset, work / f"{args.label}.parquet")
    fingerprint = work / "fingerprint.arrow"
    result = sync_to_portal(SocrataHook(), dataset, args.dataset, Path(staged.path), fingerprint_path=fingerprint,
                            previous_fingerprint=fingerprint if fingerprint.exists() else None,
                            published_rows=None, apply_shrink_guard=True, audience="private",
                            staged_checksum=staged.checksum)
    return {"seconds": time.perf_counter() - started, "rows": staged.rows, "changed": result.rows_changed,
            "peak_mb": peak_mb()}


run_phase = phase_runner(__file__)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--phase")
    for name in ("sqlalchemy-url", "portal-host", "user", "password", "dataset", "workdir", "label"):
        parser.add_argument(f"--{name}")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps({"naive": phase_naive, "ours": phase_ours}[args.phase](args)))
        return

    import psycopg

    from opendata.portal import SocrataHook
    from opendata.portal.dataset_metadata import columns as portal_columns
    from portal_emulator.testing import run_emulator

    database = f"opendata_bench_{secrets.token_hex(3)}"
    admin = f"host={args.pg_host} user={args.pg_user} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    url = f"host={args.pg_host} user={args.pg_user} dbname={database}"
    sqlalchemy_url = f"postgresql+psycopg://{args.pg_user}@{args.pg_host}/{database}"
    rows_out = []
    try:
        with (tempfile.TemporaryDirectory(prefix="opendata-refresh-bench-") as tmp,
              run_emulator(Path(tmp) / "portal") as emu):
            user, password = emu.auth("publisher")
            env = dict(os.environ, AIRFLOW_HOME=str(Path(tmp) / "airflow"),
                       OPENDATA_INCLUDE_DIR=str(ROOT / "include"),
                       AIRFLOW_CONN_BENCH_PG=f"postgresql://{args.pg_user}@{args.pg_host}:5432/{database}",
                       AIRFLOW_CONN_SOCRATA_DEFAULT=json.dumps({
                           "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
                           "extra": {"read_timeout": 600}}))
            os.environ.update(env)
            hook = SocrataHook()
            dataset = spec("bench_pg")
            for rows in args.rows:
                load_table(url, rows)
                workdir = Path(tmp) / f"work-{rows}"
                workdir.mkdir()
                common = {"sqlalchemy_url": sqlalchemy_url, "portal_host": emu.host, "user": user,
                          "password": password, "workdir": workdir}
                for label, phase in (("naive full load", "naive"), ("full load", "ours")):
                    target = hook.create_dataset(f"bench {rows} {phase}", portal_columns(dataset),
                                                 row_identifier="permit_id")
                    if phase == "ours":
                        ours_dataset = target
                    emu.reset_stats()
                    result = run_phase(phase, env, dataset=target, label=f"full-{rows}", **common)
                    result["bytes"] = emu.stats()["request_body_bytes_total"]
                    rows_out.append((rows, label, result))
                    print(format_row(rows, label, result), flush=True)
                changed = change_one_percent(url)
                emu.reset_stats()
                result = run_phase("ours", env, dataset=ours_dataset, label=f"refresh-{rows}", **common)
                result["bytes"] = emu.stats()["request_body_bytes_total"]
                rows_out.append((rows, f"1% refresh ({changed:,} rows changed)", result))
                print(format_row(rows, f"1% refresh ({changed:,} changed)", result), flush=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    summarize(rows_out)


def format_row(rows: int, label: str, result: dict) -> str:
    return (f"{rows:>10,}  {label:<32} {result['seconds']:>8.1f} s  {result['rows'] / result['seconds']:>10,.0f} rows/s"
            f"  {result['bytes'] / 2**20:>9.1f} MB sent  {result['peak_mb']:>6.0f} MB peak")


def summarize(rows_out: list) -> None:
    for size in sorted({r[0] for r in rows_out}):
        byte = {label.split(" (")[0]: result for rows, label, result in rows_out if rows == size}
        full, refresh, naive = byte["full load"], byte["1% refresh"], byte["naive full load"]
        print(f"{size:>10,} rows: refresh sends {refresh['bytes'] / full['bytes']:.2%} of the full load's bytes; "
              f"full-load throughput {full['rows'] / full['seconds']:,.0f} rows/s vs baseline "
              f"{naive['rows'] / naive['seconds']:,.0f} rows/s; peak {max(full['peak_mb'], refresh['peak_mb']):.0f} MB "
              f"(baseline {naive['peak_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
