"""How long `opendata new --sql` takes on a wide table: 50 columns, some thousands of rows.

    .venv/bin/python bench/new_bench.py [--rows 5000] [--columns 50] [--sample-rows 1000] [--repeat 5]

Creates a table in the local PostgreSQL (127.0.0.1:5432, trust auth, database ``test``; moved with
OPENDATA_TEST_PG_HOST / OPENDATA_TEST_PG_PORT) with a primary key, an updated-at column, e-mail
addresses, names, ZIP codes, ages, numbers, dates, flags and text, column comments on a third of
them, and drops it at the end. Then drafts a dataset file from it into a temporary include folder
(a copy of include/governance.yaml):

* in-process, ``--repeat`` times: the first run (cold: Airflow's and the drivers' imports, the
  connection lookup), then the median of the others, split into introspection (inspector, sample
  query), the draft (types, suggestions, privacy scan) and rendering + writing;
* as a subprocess (``python -m opendata new ...``), ``--repeat`` times: what a person waits for,
  interpreter start and imports included (median and range).

Prints the figures, and the draft's summary once.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_HOST = os.environ.get("OPENDATA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("OPENDATA_TEST_PG_PORT", "5432"))
DATABASE = "test"
CONN_ID = "new_bench"


def table_ddl(table: str, columns: int, rows: int) -> str:
    """A table of ``columns`` columns (at least 10): the kinds a city's tables have, in turn."""
    kinds = [
        ("amount_{i}", "numeric(12, 2)", "round((random() * 10000)::numeric, 2)"),
        ("count_{i}", "integer", "(random() * 1000)::int"),
        ("status_{i}", "text", "(ARRAY['Open','Closed','Pending'])[1 + mod(g, 3)]"),
        ("event_date_{i}", "date", "DATE '2020-01-01' + mod(g, 1500)"),
        ("is_flag_{i}", "boolean", "mod(g, 2) = 0"),
        ("notes_{i}", "text", "'Note ' || g || ' about the request'"),
        ("measured_at_{i}", "timestamp", "TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute'"),
    ]
    fixed = [
        ("id", "integer PRIMARY KEY", "g"),
        ("updated_at", "timestamp NOT NULL", "TIMESTAMP '2025-01-01' + g * INTERVAL '1 second'"),
        ("contact_email", "text", "'person' || g || '@example.org'"),
        ("applicant_name", "text", "'Applicant ' || g"),
        ("zip_code", "text", "(ARRAY['90012','90013','90015','90017'])[1 + mod(g, 4)]"),
        ("age", "integer", "18 + mod(g, 60)"),
        ("sex", "text", "(ARRAY['F','M','X'])[1 + mod(g, 3)]"),
    ]
    chosen = list(fixed)
    i = 0
    while len(chosen) < columns:
        name, sql_type, value = kinds[i % len(kinds)]
        chosen.append((name.format(i=i), sql_type, value))
        i += 1
    comments = [f"COMMENT ON COLUMN {table}.{name} IS 'What {name} means, as the source system documents it.';"
                for n, (name, _, _) in enumerate(chosen) if n % 3 == 0]
    return "\n".join([
        f"CREATE TABLE {table} ({', '.join(f'{name} {sql_type}' for name, sql_type, _ in chosen)});",
        f"COMMENT ON TABLE {table} IS 'Generated for bench/new_bench.py.';",
        *comments,
        f"INSERT INTO {table} SELECT {', '.join(value for _, _, value in chosen)} FROM generate_series(1, {rows}) g;",
        f"ANALYZE {table};",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--sample-rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import sqlalchemy as sa

    work = Path(tempfile.mkdtemp(prefix="new-bench-"))
    include = work / "include"
    (include / "datasets").mkdir(parents=True)
    shutil.copy(ROOT / "include" / "governance.yaml", include / "governance.yaml")
    # A private Airflow home: the bench neither reads nor changes a deployment's.
    os.environ.update({"AIRFLOW_HOME": str(work / "airflow"), "OPENDATA_STATE_DIR": str(work / "state"),
                       f"AIRFLOW_CONN_{CONN_ID.upper()}": f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{DATABASE}"})
    table = f"new_bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{DATABASE}")
    try:
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql(table_ddl(table, max(args.columns, 10), args.rows))
        print(f"table {table}: {max(args.columns, 10)} columns, {args.rows:,} rows "
              f"(created in {time.perf_counter() - started:.1f} s); sample {args.sample_rows:,} rows")
        in_process(table, include, args)
        as_subprocess(table, include, args)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def in_process(table: str, include: Path, args: argparse.Namespace) -> None:
    import datetime as dt

    from opendata import settings
    from opendata.scaffold.command import NewRequest, run_new, summary
    from opendata.scaffold.draft import DraftContext, draft_dataset
    from opendata.scaffold.people import load_department_people
    from opendata.scaffold.profile import profile_sql
    from opendata.scaffold.render import render_dataset_file

    request = NewRequest(dataset_id="bench-wide", department="sanitation", include_dir=include,
                         sql=(CONN_ID, table), sample_rows=args.sample_rows, overwrite=True)
    totals: list[float] = []
    result = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = run_new(request)
        totals.append(time.perf_counter() - started)
    assert result is not None
    # The phases, warm: introspection, the draft, rendering (the write is one small file).
    phases: dict[str, list[float]] = {"introspect (inspector + sample query)": [], "draft (types, suggestions, "
                                      "privacy scan)": [], "render YAML": []}
    people = load_department_people(include, "sanitation")
    for _ in range(args.repeat):
        started = time.perf_counter()
        profile = profile_sql(CONN_ID, table, args.sample_rows)
        introspected = time.perf_counter()
        draft = draft_dataset(profile, DraftContext(dataset_id="bench-wide", people=people,
                                                    city_name=settings.city_name(), today=dt.date.today()))
        drafted = time.perf_counter()
        render_dataset_file(draft.data, comments=draft.comments)
        rendered = time.perf_counter()
        for key, value in zip(phases, (introspected - started, drafted - introspected, rendered - drafted),
                              strict=True):
            phases[key].append(value)
    print()
    print(summary(result, include))
    print()
    print(f"in-process `opendata new --sql` ({args.repeat} runs):")
    print(f"  first run (cold: imports, connection lookup): {totals[0]:.2f} s")
    if len(totals) > 1:
        print(f"  later runs: median {statistics.median(totals[1:]) * 1000:.0f} ms "
              f"(min {min(totals[1:]) * 1000:.0f}, max {max(totals[1:]) * 1000:.0f})")
    for name, values in phases.items():
        print(f"    {name}: median {statistics.median(values) * 1000:.1f} ms")
    print(f"  file written: {len(result.text):,} bytes, {result.text.count(chr(10)):,} lines, "
          f"{len(result.draft.todos)} TODOs")


def as_subprocess(table: str, include: Path, args: argparse.Namespace) -> None:
    command = [sys.executable, "-m", "opendata", "new", "bench-wide", "--department", "sanitation", "--sql",
               CONN_ID, table, "--include", str(include), "--sample-rows", str(args.sample_rows), "--overwrite"]
    times: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"opendata new failed ({done.returncode}): {done.stderr.strip()}")
    imports = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import airflow.sdk, opendata.cli"], check=True, capture_output=True)
        imports.append(time.perf_counter() - started)
    print(f"subprocess `python -m opendata new --sql` ({args.repeat} runs): median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f})")
    print(f"  of which starting Python and importing Airflow's SDK and the CLI: median "
          f"{statistics.median(imports):.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())
