"""Builders of the inventory's inputs for its unit tests (the governance file of include/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from opendata.freshness.policy import FreshnessPolicy
from opendata.inventory.model import DatasetSummary, FileSnapshot
from opendata.spec.loader import load_governance
from tests.conftest import REPO_ROOT

NOW = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)
D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def governance() -> Any:
    loaded, errors = load_governance(REPO_ROOT / "include" / "governance.yaml")
    assert loaded is not None, errors
    return loaded


def summary(dataset_id: str = "building-permits", department: str = "building-and-safety", *,
            frequency: str = "daily", **changes: Any) -> DatasetSummary:
    values: dict[str, Any] = dict(
        dataset_id=dataset_id, department=department, name=f"Name of {dataset_id}", steward_name="Luis Herrera",
        steward_email="luis.herrera@ladbs.lacity.example", coordinator="jorge-ramos", classification="public",
        classification_level=1, update_frequency=frequency, schedule="@daily",
        policy=FreshnessPolicy.for_frequency(frequency), path=f"{department}/{dataset_id}.yaml")
    values.update(changes)
    return DatasetSummary(**values)


def files(*summaries: DatasetSummary) -> FileSnapshot:
    return FileSnapshot(governance(), {s.dataset_id: s for s in summaries})
