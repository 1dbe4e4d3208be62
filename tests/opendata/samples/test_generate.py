"""The bundled sample sources are exactly what the seeded generator writes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from opendata.samples.generate import generate_all

BUNDLED = Path(__file__).resolve().parents[3] / "include" / "sample_sources"


def test_bundled_files_match_the_generator(tmp_path):
    counts = generate_all(tmp_path)
    assert counts == {"building_permits.csv": 4000, "service_requests_311.csv": 5000,
                      "restaurant_inspections.json": 3000}
    for name in counts:
        assert (tmp_path / name).read_bytes() == (BUNDLED / name).read_bytes(), f"{name} is stale: regenerate it"


def test_samples_carry_realistic_dirt():
    permits = pd.read_csv(BUNDLED / "building_permits.csv", dtype=str)
    assert permits["permit_nbr"].is_unique
    assert permits["valuation"].isna().sum() == 4
    assert (permits["valuation"].astype(float) < 0).sum() == 3
    assert (permits["council_district"] == "16").sum() == 3
    requests_311 = pd.read_csv(BUNDLED / "service_requests_311.csv", dtype=str)
    assert requests_311["sr_number"].is_unique
    assert requests_311["address"].isna().sum() == 7
    assert (requests_311["zip_code"] == "9OO12").sum() == 4
    inspections = json.loads((BUNDLED / "restaurant_inspections.json").read_text())["data"]
    assert sum(1 for row in inspections if row["score"] > 100) == 5
    assert sum(1 for row in inspections if row["facility_name"] is None) == 3
