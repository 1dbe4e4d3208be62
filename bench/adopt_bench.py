"""Time `opendata adopt` of a batch of public datasets created outside the pipeline.

    .venv/bin/python bench/adopt_bench.py [--datasets 100] [--rows 50]

Starts the portal emulator (a real HTTP server, approvals off so that a dataset made public is
public at once), creates ``--datasets`` public datasets in one category over HTTP as a publisher
would by hand (create with custom fields and a row identifier, load rows, publish, make public;
not through the pipeline), then adopts the whole category in one batch as the command does
(``catalog_ids`` + ``adopt_batch``, what ``opendata adopt --department D --category C`` calls):
one dataset file each under a fresh include folder, one registry row each (SQLite). Prints the
wall time, the portal requests the batch made (per endpoint, from the emulator's counters), the
time per dataset (median, 95th percentile, max), and the same for the batch run again (every
dataset already adopted: skipped). Nothing is sent to the portal by adopt: the request counts
are reads only.

What is not counted: importing Airflow and the portal hook (a command pays it once, ~3-4 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

CATEGORY = "Bench"
DEPARTMENT = "environmental-health"
CUSTOM_FIELDS = {
    "Dataset Information": {"Department": "Environmental Health Division", "Data Steward": "Omar Haddad",
                            "Source System": "Counter exports", "Agency": "EHD"},
    "Update": {"Update Frequency": "Daily", "Automation": "Yes", "Date Made Public": "12/31/2019"},
    "Classification": {"Data Classification": "PUBLIC", "Security Level": "Level 1"},
}
COLUMNS = [("count_id", "Count ID", "text", "Identifier of one count."), ("location", "Location", "text", ""),
           ("counted_on", "Counted On", "calendar_date", "The day counted."), ("riders", "Riders", "number", ""),
           ("weekend", "Weekend", "checkbox", "Saturday or Sunday.")]


def create_public(emu, n: int, rows: int) -> str:
    """One public dataset, made by hand (plain HTTP, the documented endpoints)."""
    s = emu.session("publisher")
    body = {"name": f"Bench Counts {n:03d}", "description": f"Counts at counter {n}.", "category": CATEGORY,
            "tags": ["bench", "counts"], "licenseId": "CC0_10", "attribution": "City of Los Angeles",
            "columns": [{"fieldName": f, "name": name, "dataTypeName": t, "description": d}
                        for f, name, t, d in COLUMNS],
            "metadata": {"custom_fields": CUSTOM_FIELDS, "rowIdentifier": "count_id"}}
    r = s.post(f"{emu.url}/api/views.json", json=body, timeout=60)
    r.raise_for_status()
    dataset_id = r.json()["id"]
    data = [{"count_id": f"C{i:05d}", "location": "Main St", "counted_on": f"2024-01-{i % 28 + 1:02d}",
             "riders": i, "weekend": i % 7 in (5, 6)} for i in range(rows)]
    s.post(f"{emu.url}/resource/{dataset_id}.json", json=data, timeout=60).raise_for_status()
    s.post(f"{emu.url}/api/views/{dataset_id}/publication.json", timeout=60).raise_for_status()
    s.put(f"{emu.url}/api/views/{dataset_id}.json", params={"method": "setPermission", "value": "public.read"},
          timeout=60).raise_for_status()
    return dataset_id


def portal_requests(emu) -> dict[str, int]:
    return {k: n for k, n in emu.stats()["requests"].items() if "/__emulator/" not in k}


def batch(hook, registry, request) -> tuple[float, list]:
    from opendata.adopt.take_over import adopt_batch, catalog_ids

    started = time.perf_counter()
    ids = catalog_ids(hook, category=CATEGORY, owner=None)
    results = list(adopt_batch(hook, registry, ids, request))
    return time.perf_counter() - started, results


def first_refresh_read(emu, hook, include: Path, rows: int) -> None:
    """What an adopted dataset's first refresh adds: every portal row read, typed and hashed as
    the extract is (``portal_pages`` + the comparison fingerprint), for one dataset of ``rows``."""
    import resource

    import yaml

    from opendata.lifecycle.portal_rows import portal_pages, write_comparison_fingerprint
    from opendata.spec.dataset import DatasetSpec

    s = emu.session("publisher")
    dataset_id = create_public(emu, 9999, 0)
    for start in range(0, rows, 10_000):
        data = [{"count_id": f"C{i:07d}", "location": f"Counter {i % 97}", "counted_on": f"2024-01-{i % 28 + 1:02d}",
                 "riders": i % 500, "weekend": i % 7 in (5, 6)} for i in range(start, min(rows, start + 10_000))]
        s.post(f"{emu.url}/resource/{dataset_id}.json", json=data, timeout=300).raise_for_status()
    spec_data = yaml.safe_load((include / "datasets" / DEPARTMENT / "bench-counts-000.yaml").read_text())
    spec_data.update({"steward": {"name": "Omar Haddad", "email": "omar.haddad@ehd.lacity.example"},
                      "coverage": {"start_date": "2024-01-01", "end_date": "current", "geographic_coverage": "LA",
                                   "geographic_granularity": "address"},
                      "collection_frequency": "daily", "priority": {"level": "low"},
                      "data_quality": {"rating": "high"}, "source": {"kind": "file", "path": "x.csv"}})
    for column in spec_data["columns"]:
        column["description"] = column["description"] if not str(column["description"]).startswith("TODO") \
            else "A column."
    spec = DatasetSpec.model_validate(spec_data)
    emu.reset_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        read = write_comparison_fingerprint(portal_pages(hook, dataset_id, spec), "count_id",
                                            Path(tmp) / "portal.arrow")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"first refresh of an adopted dataset: {read:,} portal rows read, typed and hashed in {seconds:.2f} s "
          f"({read / seconds:,.0f} rows/s), {sum(portal_requests(emu).values())} requests; "
          f"peak RSS {peak:.0f} MB (+{peak - before:.0f} MB)")


def report(label: str, seconds: float, results: list, requests: dict[str, int]) -> None:
    from opendata.adopt.take_over import Outcome

    per = sorted(r.seconds for r in results)
    outcomes = {o.value: sum(r.outcome is o for r in results) for o in Outcome}
    p95 = per[max(0, round(0.95 * len(per)) - 1)] if per else 0.0
    print(f"{label}: {len(results)} datasets in {seconds:.2f} s wall "
          f"({', '.join(f'{n} {k}' for k, n in outcomes.items() if n)})")
    print(f"  per dataset: median {statistics.median(per) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {per[-1] * 1000:.0f} ms" if per else "  no datasets")
    print(f"  portal requests: {sum(requests.values())} "
          f"({', '.join(f'{k} {n}' for k, n in sorted(requests.items(), key=lambda i: -i[1]))})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--compare-rows", type=int, default=50_000,
                        help="rows of the one dataset whose first-refresh read is timed (0: skip)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="adopt-bench-"))
    include = work / "include"
    (include / "datasets").mkdir(parents=True)
    shutil.copy(ROOT / "include" / "governance.yaml", include)
    os.environ.update({"AIRFLOW_HOME": str(work / "airflow"), "OPENDATA_INCLUDE_DIR": str(include),
                       "OPENDATA_STATE_DIR": str(work / "state"),
                       "OPENDATA_REGISTRY_URL": f"sqlite:///{work / 'registry.sqlite'}"})
    from portal_emulator.testing import run_emulator

    try:
        with run_emulator(work / "portal", extra_args=["--no-approvals"]) as emu:
            user, password = emu.auth("publisher")
            os.environ["AIRFLOW_CONN_SOCRATA_DEFAULT"] = json.dumps({
                "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
                "extra": {"app_token": "bench-app-token"}})
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                created = list(pool.map(lambda n: create_public(emu, n, args.rows), range(args.datasets)))
            print(f"set-up: {len(created)} public datasets of {args.rows} rows created by hand over HTTP in "
                  f"{time.perf_counter() - started:.1f} s")

            started = time.perf_counter()
            from opendata.adopt.take_over import AdoptRequest
            from opendata.portal.hook import SocrataHook
            from opendata.registry import Registry
            from opendata.spec.loader import load_governance

            governance, _ = load_governance(include / "governance.yaml", root=include)
            print(f"imports (Airflow, the hook, the registry): {time.perf_counter() - started:.1f} s (not counted)")
            request = AdoptRequest(include_dir=include, governance=governance, by="kevin-nguyen",
                                   department=DEPARTMENT)
            with SocrataHook() as hook:
                registry = Registry.from_settings()
                hook.get_view(created[0])  # the connection and session set up, as before any batch
                for label in ("adopt, first batch", "adopt, the batch again (idempotent)"):
                    emu.reset_stats()
                    seconds, results = batch(hook, registry, request)
                    report(label, seconds, results, portal_requests(emu))
                files = sorted((include / "datasets" / DEPARTMENT).glob("*.yaml"))
                print(f"dataset files written: {len(files)}; registry rows: {len(registry.all_states())}")
                if args.compare_rows:
                    first_refresh_read(emu, hook, include, args.compare_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
