"""Airflow Assets of published data, so other DAGs can be scheduled on their updates.

Their URIs use the scheme ``x-opendata``: Airflow's convention for a scheme no provider defines
(an ``x-`` scheme is never normalized). Another scheme makes Airflow look for a normalizer in
every installed provider at parse time, and the Amazon provider's handler imports its S3 hook
(boto3, requests): 0.2-0.3 s more per DAG file. Other DAGs schedule on these assets by name
(``Asset.ref(name="opendata.<dataset id>")``), which the scheme does not change.
"""

from __future__ import annotations

from airflow.sdk import Asset

from opendata.spec.dataset import DatasetSpec


def dataset_asset(spec: DatasetSpec) -> Asset:
    return Asset(name=f"opendata.{spec.id}", uri=f"x-opendata://{spec.department}/{spec.id}", group="open-data")


#: Updated by every dataset's go-public and refresh tasks beside the dataset's own Asset: the
#: catalog DAG (data.json) runs on it, once per publication, without listing every dataset.
PUBLISHED_INVENTORY = Asset(name="opendata.published-inventory", uri="x-opendata://catalog/published-inventory",
                            group="open-data")
