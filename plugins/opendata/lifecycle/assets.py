"""Airflow Assets of published data, so other DAGs can be scheduled on their updates."""

from __future__ import annotations

from airflow.sdk import Asset

from opendata.spec.dataset import DatasetSpec


def dataset_asset(spec: DatasetSpec) -> Asset:
    return Asset(name=f"opendata.{spec.id}", uri=f"opendata://{spec.department}/{spec.id}", group="open-data")


#: Updated by every dataset's go-public and refresh tasks beside the dataset's own Asset: the
#: catalog DAG (data.json) runs on it, once per publication, without listing every dataset.
PUBLISHED_INVENTORY = Asset(name="opendata.published-inventory", uri="opendata://catalog/published-inventory",
                            group="open-data")
