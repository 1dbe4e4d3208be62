"""The DAG factory: one Airflow DAG per dataset file.

Parsing must stay cheap (the DAG processor re-parses often): this reads YAML files and a
small stage snapshot, and touches no network or database. Task code imports its heavy
libraries (pandas, pyarrow, sodapy) only when it runs.
"""

from __future__ import annotations

import datetime as dt
import logging

from airflow.sdk import DAG

from opendata.lifecycle.checklist import checklist_markdown
from opendata.lifecycle.stage_snapshot import NOT_READY, read_stages
from opendata.operators.extract import ExtractDatasetOperator
from opendata.spec.errors import SpecFileError
from opendata.spec.loader import Catalog, LoadedDataset, load_catalog

log = logging.getLogger(__name__)


def dataset_tags(loaded: LoadedDataset, stage: str) -> list[str]:
    spec = loaded.spec
    return [
        f"department:{spec.department}",
        f"classification:{spec.classification.category.value}-level-{spec.classification.level}",
        f"stage:{stage}",
        f"updates:{spec.update_frequency.value}",
    ]


def build_dag(loaded: LoadedDataset, stage: str = NOT_READY) -> DAG:
    spec = loaded.spec
    settings = spec.dag
    steward = spec.steward
    with DAG(
        dag_id=spec.id,
        description=f"{spec.name} ({spec.department})",
        schedule=spec.schedule,
        start_date=dt.datetime.combine(settings.start_date, dt.time(), tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
        tags=dataset_tags(loaded, stage),
        owner_links={steward.name: f"mailto:{steward.email}"},
        doc_md=checklist_markdown(spec),
        default_args={
            "owner": steward.name,
            "retries": settings.retries,
            "retry_delay": dt.timedelta(minutes=settings.retry_delay_minutes),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": dt.timedelta(minutes=settings.max_retry_delay_minutes),
        },
    ) as dag:
        ExtractDatasetOperator(task_id="extract", dataset_id=spec.id)
    return dag


def build_all_dags(catalog: Catalog | None = None) -> dict[str, DAG]:
    """DAGs for every valid dataset file; broken files are skipped (and reported separately)."""
    catalog = catalog or load_catalog()
    for error in catalog.errors:
        log.warning("Dataset file skipped: %s", error)
    stages = read_stages()
    return {loaded.spec.id: build_dag(loaded, stages.get(loaded.spec.id, NOT_READY)) for loaded in catalog.datasets}


def raise_for_broken_files(catalog: Catalog | None = None) -> None:
    """Raise one error naming every broken file, field and hint (an Airflow import error)."""
    catalog = catalog or load_catalog()
    if catalog.errors:
        raise SpecFileError(catalog.errors)
