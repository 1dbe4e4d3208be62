"""The quarterly report at a city's scale: 1,000 datasets with a year of daily runs each.

    .venv/bin/python bench/quarterly_report.py [--datasets 1000] [--days 365] [--runs 3] [--keep DIR]

Builds, in a temporary folder (or ``--keep DIR``, reused when it is already there): a SQLite
registry of ``--datasets`` public datasets across the three departments of the governance file,
each with a stage history (a few refused at Step 1 or in the review, some still in Stage 1), a
year of daily runs ending on the report's day (365,000 run rows for 1,000 datasets; about one
run in 20 failed, some datasets miss days or stopped), comment watch rows for one dataset in
ten; and the datasets' files. Building is not timed.

Then, in a fresh process each time (``--runs`` times; imports are not timed, a task process has
them already), the report of 2026 Q3 as of 5 October 2026, phase by phase:

* files: reading the 1,000 dataset files and the governance file (the monitor's fast reader);
* registry: the bulk reads (their SQL statements are counted: a handful, never one per dataset);
* figures: the pure metrics over every dataset;
* render: HTML and CSV;

and the process's peak resident memory (VmHWM) after the imports and at the end, so the
report's own share is the difference. Target (issue 16, item 5): reader + figures well under a
few seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))

from bench.phases import peak_mb, phase_runner  # noqa: E402

LA = ZoneInfo("America/Los_Angeles")
AS_OF = dt.datetime(2026, 10, 5, 9, tzinfo=LA).astimezone(dt.UTC)
TARGET_SECONDS = 3.0  # "well under a few seconds": reader + figures
FREQUENCIES = ["daily"] * 7 + ["weekly", "monthly", "irregular"]


def build(folder: Path, datasets: int, days: int) -> None:
    """The registry and the dataset files (not timed)."""
    import yaml

    from opendata.freshness.alert_store import comment_watch
    from opendata.registry import Registry
    from opendata.registry.store import dataset_state, run_log, stage_change
    from opendata.samples.portal_world import DEPARTMENTS, dataset_file

    include = folder / "include"
    (include / "datasets").mkdir(parents=True)
    shutil.copy(ROOT / "include" / "governance.yaml", include / "governance.yaml")
    departments = list(DEPARTMENTS)
    registry = Registry(f"sqlite:///{folder / 'registry.sqlite'}")
    day = dt.timedelta(days=1)
    first_day = (AS_OF - days * day).astimezone(LA).date()
    with registry.engine.begin() as conn:
        states, changes, watch = [], [], []
        for n in range(datasets):
            dataset_id, department = f"city-dataset-{n:04d}", departments[n % 3]
            frequency = FREQUENCIES[n % len(FREQUENCIES)]
            folder_of = include / "datasets" / department
            folder_of.mkdir(exist_ok=True)
            (folder_of / f"{dataset_id}.yaml").write_text(
                yaml.safe_dump(dataset_file(dataset_id, department, frequency), sort_keys=False))
            approved = AS_OF - (400 - n % 300) * day
            public = approved + (5 + n % 40) * day
            stage = "stage-1" if n % 50 == 3 else "refreshing"
            states.append({"dataset_id": dataset_id, "portal_id": f"p{n:03d}-0000", "stage": stage,
                           "department_approved_at": approved, "public_at": public if stage != "stage-1" else None,
                           "last_refresh_at": None, "updated_at": AS_OF})
            rows = [(None, "not-ready", approved, "Step 1 approved by Alicia Grant (airflow)"),
                    ("not-ready", "stage-1", approved + day, None)]
            if n % 25 == 5:  # rejected in the review, then resubmitted
                rows += [("stage-1", "rejected", approved + 2 * day, "generalise the addresses"),
                         ("rejected", "stage-1", approved + 3 * day, None)]
            if stage != "stage-1":
                rows += [("stage-1", "stage-2", public, None), ("stage-2", "refreshing", public + day, None)]
            changes += [{"dataset_id": dataset_id, "stage_from": a, "stage_to": b, "at": at, "notes": note}
                        for a, b, at, note in rows]
            if n % 10 == 0:
                since = AS_OF - (n % 90 + 1) * day
                watch.append({"dataset_id": dataset_id, "comment_count": 1 + n % 4, "checked_at": AS_OF,
                              "pending_since": since if n % 20 == 0 else None, "notified_at": since,
                              "reminded_at": None, "answered_at": None if n % 20 == 0 else since + (n % 5) * day,
                              "answered_by": None})
        conn.execute(dataset_state.insert(), states)
        conn.execute(stage_change.insert(), changes)
        conn.execute(comment_watch.insert(), watch)
        batch = []
        for n in range(datasets):
            dataset_id = f"city-dataset-{n:04d}"
            for d in range(days):
                local_day = first_day + dt.timedelta(days=d)
                ended = dt.datetime.combine(local_day, dt.time(6), LA).astimezone(dt.UTC) + dt.timedelta(seconds=n)
                # One run in 20 fails; one dataset in 9 misses three days a month (a late refresh); one in
                # 97 stopped ten days ago (overdue now).
                failed = (n * 7 + d * 13) % 20 == 0 or (n % 9 == 4 and d % 30 in (10, 11, 12)) \
                    or (n % 97 == 1 and d >= days - 10)
                batch.append({"dataset_id": dataset_id, "run_id": f"scheduled__{local_day}", "kind": "refresh",
                              "started_at": ended - dt.timedelta(minutes=4), "ended_at": ended,
                              "outcome": "failed" if failed else "success"})
                if len(batch) >= 50_000:
                    conn.execute(run_log.insert(), batch)
                    batch = []
        if batch:
            conn.execute(run_log.insert(), batch)
    registry.close()


def phase_report(folder: Path) -> dict:
    """One report, timed phase by phase, in this (fresh) process."""
    import sqlalchemy as sa

    from opendata.catalog.quarterly import Quarter, quarterly_report
    from opendata.catalog.quarterly_read import QuarterlyReader, build_inputs
    from opendata.catalog.quarterly_render import render_csv, render_html
    from opendata.freshness.sources import load_dataset_files
    from opendata.registry import Registry

    registry = Registry(f"sqlite:///{folder / 'registry.sqlite'}")
    quarter = Quarter(2026, 3)
    statements = []
    sa.event.listen(registry.engine, "before_cursor_execute", lambda *a: statements.append(1))
    with registry.engine.connect() as conn:  # the connection pool warmed, as in a task that has used it
        run_rows = conn.execute(sa.text("select count(*) from opendata_run")).scalar_one()
    statements.clear()
    imported_mb = peak_mb()
    t0 = time.perf_counter()
    files = load_dataset_files(folder / "include")
    t1 = time.perf_counter()
    rows = QuarterlyReader(registry).read(quarter, AS_OF)
    t2 = time.perf_counter()
    report = quarterly_report(build_inputs(quarter, AS_OF, files.governance, files.specs.values(), rows))
    t3 = time.perf_counter()
    html, text = render_html(report), render_csv(report)
    t4 = time.perf_counter()
    return {"files_s": t1 - t0, "registry_s": t2 - t1, "figures_s": t3 - t2, "render_s": t4 - t3,
            "statements": len(statements), "run_rows": run_rows, "datasets": len(files.specs),
            "runs_read": sum(len(v) for v in rows.runs.values()), "imported_mb": imported_mb, "peak_mb": peak_mb(),
            "html_kb": len(html.encode()) / 1024, "csv_kb": len(text.encode()) / 1024,
            "published": report.total.published, "on_time": report.total.refreshes.value,
            "overdue": report.total.overdue_now}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the registry and files here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "report":
        print(json.dumps(phase_report(args.folder)))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="quarterly-bench-"))
    try:
        if not (folder / "registry.sqlite").exists():
            started = time.perf_counter()
            folder.mkdir(parents=True, exist_ok=True)
            build(folder, args.datasets, args.days)
            print(f"built {args.datasets} datasets x {args.days} days in {time.perf_counter() - started:.1f} s "
                  f"(not timed below)")
        env = {**os.environ, "OPENDATA_STATE_DIR": str(folder / "state"), "PYTHONPATH": str(ROOT / "plugins")}
        run_phase = phase_runner(__file__)
        results = [run_phase("report", env, folder=folder) for _ in range(args.runs)]
        first = results[0]
        print(f"{first['datasets']} datasets, {first['run_rows']:,} run rows; read {first['runs_read']:,} runs "
              f"in {first['statements']} SQL statements; HTML {first['html_kb']:.0f} KB, CSV {first['csv_kb']:.1f} KB")
        print(f"published {first['published']}, refreshes on time {first['on_time']:.1%}, "
              f"overdue now {first['overdue']}")
        for key, label in (("files_s", "dataset files"), ("registry_s", "registry reads"),
                           ("figures_s", "figures"), ("render_s", "HTML + CSV")):
            values = [r[key] for r in results]
            print(f"{label:>16}: median {statistics.median(values):.3f} s  (runs: "
                  f"{', '.join(f'{v:.3f}' for v in values)})")
        reader = [r["registry_s"] + r["figures_s"] for r in results]
        print(f"{'reader + figures':>16}: median {statistics.median(reader):.3f} s (target: well under "
              f"{TARGET_SECONDS:g} s)")
        print(f"{'peak memory':>16}: {statistics.median(r['peak_mb'] for r in results):.0f} MB "
              f"(after imports {statistics.median(r['imported_mb'] for r in results):.0f} MB; the report's share "
              f"{statistics.median(r['peak_mb'] - r['imported_mb'] for r in results):.0f} MB)")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
