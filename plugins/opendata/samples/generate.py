"""Seeded generators for the bundled sample sources.

Three datasets in the style of a city portal, a few thousand rows each, with the kind of dirt
real extracts have (a missing value here, an impossible one there) so that validation has
something to find. Generation is deterministic: the same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path

SEED = 20261127
REFERENCE_DAY = dt.date(2026, 11, 1)

STREETS = [
    "S Broadway", "W Sunset Blvd", "N Figueroa St", "Wilshire Blvd", "S Vermont Ave", "Venice Blvd",
    "W Pico Blvd", "S Western Ave", "N Highland Ave", "Santa Monica Blvd", "W Olympic Blvd",
    "S Central Ave", "Sherman Way", "Van Nuys Blvd", "Ventura Blvd", "E Cesar E Chavez Ave",
    "N Spring St", "W 3rd St", "S Main St", "Crenshaw Blvd", "Reseda Blvd", "Lankershim Blvd",
]
ZIP_CODES = ["90001", "90004", "90012", "90015", "90026", "90028", "90034", "90042", "90057",
             "90066", "91303", "91331", "91401", "91605", "90732", "90744"]
CONTRACTORS = ["Pacific Coast Builders Inc", "Angeles Remodeling LLC", "Valley Electric Co",
               "Sunrise Plumbing Services", "Owner-Builder", "Metro Solar Installers", "Crown Roofing"]
PERMIT_TYPES = {
    "Bldg-Alter/Repair": ["1 or 2 Family Dwelling", "Apartment", "Commercial"],
    "Bldg-New": ["1 or 2 Family Dwelling", "Apartment", "Commercial"],
    "Electrical": ["1 or 2 Family Dwelling", "Commercial"],
    "Plumbing": ["1 or 2 Family Dwelling", "Apartment"],
    "Bldg-Addition": ["1 or 2 Family Dwelling"],
    "Swimming-Pool/Spa": ["1 or 2 Family Dwelling"],
}
WORK = {
    "Bldg-Alter/Repair": "Kitchen and bathroom remodel, replace windows",
    "Bldg-New": "New construction per plans",
    "Electrical": "Install rooftop solar photovoltaic system",
    "Plumbing": "Replace water heater",
    "Bldg-Addition": "Add 400 sq ft bedroom and bath to rear of dwelling",
    "Swimming-Pool/Spa": "New in-ground swimming pool and spa",
}
REQUEST_TYPES = ["Bulky Items", "Graffiti Removal", "Illegal Dumping Pickup", "Dead Animal Removal",
                 "Electronic Waste", "Metal/Household Appliances", "Homeless Encampment", "Other"]
REQUEST_SOURCES = ["Mobile App", "Call", "Self Service", "Email", "Driver Self Report"]
FACILITY_WORDS = ["Taqueria", "Pho", "Cafe", "Pizzeria", "Bakery", "Grill", "Sushi", "Deli",
                  "Burger", "Noodle House", "Kitchen", "Market"]
FACILITY_NAMES = ["El Sol", "Golden Star", "Silver Lake", "Echo Park", "Sunset", "Olympic", "Little Tokyo",
                  "Boyle Heights", "Mid City", "Harbor", "Valley", "Koreatown", "Highland Park"]


def _address(rng: random.Random) -> str:
    return f"{rng.randint(100, 24999)} {rng.choice(STREETS)}"


def _lat_lon(rng: random.Random) -> tuple[float, float]:
    return round(rng.uniform(33.75, 34.32), 6), round(rng.uniform(-118.66, -118.16), 6)


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def building_permits(rows: int = 4000, seed: int = SEED) -> Iterator[dict]:
    """Permits issued by Building and Safety (the SQL sample)."""
    rng = random.Random(seed)
    for i in range(rows):
        permit_type = rng.choice(sorted(PERMIT_TYPES))
        issued = _day(rng, dt.date(2019, 1, 1), REFERENCE_DAY)
        lat, lon = _lat_lon(rng)
        valuation: float | None = float(rng.choice([1500, 4800, 12000, 25000, 60000, 185000, 950000]))
        row = {
            "permit_nbr": f"{issued.year % 100:02d}{rng.choice(['014', '016', '019', '020', '030', '041'])}"
                          f"-{rng.randint(10000, 99999)}-{i:05d}",
            "permit_type": permit_type,
            "permit_sub_type": rng.choice(PERMIT_TYPES[permit_type]),
            "status": rng.choice(["Issued", "Issued", "Permit Finaled", "CofO Issued", "Expired"]),
            "issue_date": issued.isoformat(),
            "valuation": valuation,
            "square_footage": rng.randint(0, 4000) if permit_type.startswith("Bldg") else None,
            "work_description": WORK[permit_type],
            "address": _address(rng),
            "zip_code": rng.choice(ZIP_CODES),
            "council_district": rng.randint(1, 15),
            "contractor": rng.choice(CONTRACTORS),
            "latitude": lat,
            "longitude": lon,
        }
        # Realistic dirt, at fixed places so tests can count on it.
        if i % 997 == 13:
            row["valuation"] = None                       # missing valuation
        if i % 1499 == 7:
            row["valuation"] = -1.0 * rng.randint(1, 5000)  # sign error in the source system
        if i % 1777 == 21:
            row["council_district"] = 16                 # the city has 15 districts
        if i % 2003 == 99:
            row["issue_date"] = (REFERENCE_DAY + dt.timedelta(days=400)).isoformat()  # keyed in the future
        yield row


def service_requests_311(rows: int = 5000, seed: int = SEED + 1) -> Iterator[dict]:
    """MyLA311 service requests handled by Sanitation (the CSV sample)."""
    rng = random.Random(seed)
    for i in range(rows):
        created = dt.datetime.combine(_day(rng, dt.date(2025, 1, 1), REFERENCE_DAY), dt.time()) + dt.timedelta(
            minutes=rng.randint(0, 24 * 60 - 1))
        status = rng.choice(["Closed", "Closed", "Closed", "Open", "Pending", "Cancelled"])
        closed = created + dt.timedelta(hours=rng.randint(2, 24 * 20)) if status == "Closed" else None
        lat, lon = _lat_lon(rng)
        row = {
            "sr_number": f"1-{3_000_000_000 + i * 37:010d}",
            "created_date": created.strftime("%Y-%m-%dT%H:%M:%S"),
            "closed_date": closed.strftime("%Y-%m-%dT%H:%M:%S") if closed else "",
            "request_type": rng.choice(REQUEST_TYPES),
            "status": status,
            "request_source": rng.choice(REQUEST_SOURCES),
            "address": _address(rng),
            "zip_code": rng.choice(ZIP_CODES),
            "council_district": str(rng.randint(1, 15)),
            "latitude": f"{lat:.6f}",
            "longitude": f"{lon:.6f}",
        }
        if i % 811 == 5:
            row["address"] = ""                            # caller gave no address
        if i % 1303 == 17 and closed:
            row["closed_date"] = (created - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")  # closed before opened
        if i % 1601 == 44:
            row["zip_code"] = "9OO12"                      # letter O typed for zero
        if i % 1999 == 3:
            row["latitude"], row["longitude"] = "0.000000", "0.000000"  # failed geocode
        yield row


def restaurant_inspections(rows: int = 3000, seed: int = SEED + 2) -> Iterator[dict]:
    """Food facility inspections by Environmental Health (the HTTP sample)."""
    rng = random.Random(seed)
    for i in range(rows):
        score = rng.choice([98, 96, 95, 94, 93, 92, 91, 90, 88, 86, 85, 84, 82, 79, 76, 72])
        grade = "A" if score >= 90 else "B" if score >= 80 else "C"
        row = {
            "inspection_id": f"DAJ{1_000_000 + i * 7:08d}",
            "facility_id": f"FA{rng.randint(1000, 9999):04d}{rng.randint(100, 999)}",
            "facility_name": f"{rng.choice(FACILITY_NAMES)} {rng.choice(FACILITY_WORDS)}".upper(),
            "facility_address": _address(rng).upper(),
            "facility_zip": rng.choice(ZIP_CODES),
            "activity_date": _day(rng, dt.date(2024, 1, 1), REFERENCE_DAY).isoformat() + "T00:00:00.000",
            "service_description": rng.choice(["ROUTINE INSPECTION", "ROUTINE INSPECTION",
                                               "OWNER INITIATED ROUTINE INSPECTION"]),
            "score": score,
            "grade": grade,
            "program_status": rng.choice(["ACTIVE", "ACTIVE", "ACTIVE", "INACTIVE"]),
        }
        if i % 743 == 11:
            row["score"] = 150                             # scores run 0-100
        if i % 1201 == 8:
            row["facility_name"] = None                    # missing name
        yield row


def write_csv(rows: Iterator[dict], path: Path) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(handle, fieldnames=list(row), lineterminator="\n")
                writer.writeheader()
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            count += 1
    return count


def write_json(rows: Iterator[dict], path: Path) -> int:
    """``{"data": [...]}`` with one record per line: compact, yet readable in a diff."""
    records = [json.dumps(row, separators=(",", ":")) for row in rows]
    path.write_text('{"data":[\n' + ",\n".join(records) + "\n]}\n", encoding="utf-8")
    return len(records)


SAMPLE_FILES = {
    "building_permits.csv": lambda out: write_csv(building_permits(), out),
    "service_requests_311.csv": lambda out: write_csv(service_requests_311(), out),
    "restaurant_inspections.json": lambda out: write_json(restaurant_inspections(), out),
}


def generate_all(out_dir: Path) -> dict[str, int]:
    """Write every sample file into ``out_dir``; returns rows written per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {name: writer(out_dir / name) for name, writer in SAMPLE_FILES.items()}
