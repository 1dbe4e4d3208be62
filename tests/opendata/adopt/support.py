"""Public datasets created on the emulator outside the pipeline, as another publisher (or a
person with DataSync) would: plain HTTP, the documented endpoints, no SocrataHook."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import requests

#: (fieldName, name, dataTypeName, description) of the bike counts every test adopts.
BIKE_COLUMNS = [
    ("count_id", "Count ID", "text", "Identifier of one count at one counter on one day."),
    ("location", "Location", "text", "Where the counter stands."),
    ("counted_on", "Counted On", "calendar_date", "The day of the count."),
    ("riders", "Riders", "number", ""),
    ("weekend", "Weekend", "checkbox", "Whether the day is a Saturday or a Sunday."),
]
BIKE_CUSTOM_FIELDS = {
    "Dataset Information": {"Department": "Environmental Health Division", "Data Steward": "Omar Haddad",
                            "Source System": "Eco-Counter cloud export", "Agency": "EHD"},
    "Update": {"Update Frequency": "Daily", "Automation": "Yes", "Date Made Public": "12/31/2019"},
    "Classification": {"Data Classification": "PUBLIC", "Security Level": "Level 1"},
}


def bike_rows(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    rows = []
    for i in range(n):
        day = start + dt.timedelta(days=i % 366)
        rows.append({"count_id": f"C{i:05d}", "location": rng.choice(["Main St", "Broadway", "Venice Blvd", ""]),
                     "counted_on": day.isoformat(), "riders": rng.randrange(0, 500),
                     "weekend": day.weekday() >= 5})
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c[0] for c in BIKE_COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "weekend": "true" if row["weekend"] else "false"})
    return path


def create_public_dataset(emu, *, name: str, rows: list[dict], category: str = "Transportation",
                          columns=BIKE_COLUMNS, row_identifier: str | None = "count_id",
                          custom_fields=BIKE_CUSTOM_FIELDS, public: bool = True) -> str:
    """Create, load, publish and (when ``public``) make public a dataset the way a publisher does by
    hand; returns its id."""
    s = emu.session("publisher")
    body = {"name": name, "description": f"{name}: daily counts of riders at the city's bike counters.",
            "category": category, "tags": ["bicycles", "counts"], "licenseId": "CC0_10",
            "attribution": "City of Los Angeles, Environmental Health Division",
            "columns": [{"fieldName": f, "name": n, "dataTypeName": t, "description": d} for f, n, t, d in columns],
            "metadata": {"custom_fields": custom_fields, **({"rowIdentifier": row_identifier} if row_identifier
                                                             else {})}}
    r = s.post(f"{emu.url}/api/views.json", json=body, timeout=30)
    r.raise_for_status()
    dataset_id = r.json()["id"]
    for start in range(0, len(rows), 5000):
        r = s.post(f"{emu.url}/resource/{dataset_id}.json", json=rows[start:start + 5000], timeout=60)
        r.raise_for_status()
    s.post(f"{emu.url}/api/views/{dataset_id}/publication.json", timeout=30).raise_for_status()
    if public:
        s.put(f"{emu.url}/api/views/{dataset_id}.json", params={"method": "setPermission", "value": "public.read"},
              timeout=30).raise_for_status()
        guidance = s.get(f"{emu.url}/api/views/{dataset_id}/approvals",
                         params={"method": "guidance_v2", "assetId": dataset_id}, timeout=30).json()
        if guidance["public"]["currentState"] == "pending":
            emu.review(dataset_id, "approved")
        assert requests.get(f"{emu.url}/resource/{dataset_id}.json", params={"$limit": 1},
                            timeout=30).status_code == 200
    return dataset_id
