"""The Airflow Asset of a published dataset, so other DAGs can be scheduled on its updates."""

from __future__ import annotations

from airflow.sdk import Asset

from opendata.spec.dataset import DatasetSpec


def dataset_asset(spec: DatasetSpec) -> Asset:
    return Asset(name=f"opendata.{spec.id}", uri=f"opendata://{spec.department}/{spec.id}", group="open-data")
