"""The DAG factory: one Airflow DAG per dataset file.

Every dataset DAG is the same straight line; its first task reads where the dataset stands
(portal + registry) and the tasks that have nothing to do on that path skip themselves:

    plan -> extract -> validate -> department_approval (Step 1, HITL)
         -> push_private (Stage 1) -> await_public_approval (deferred) -> go_public (Stage 2)
         -> shrink_approval (HITL, only past the deletion limit) -> refresh (later runs) -> finish

Parsing must stay cheap (the DAG processor re-parses often): this reads YAML files (each once
per change, through the parse cache) and small state files, and touches no network or database.
Task code imports its heavy libraries (pandas, pyarrow, sodapy) only when it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from pathlib import Path

from airflow.sdk import DAG, TriggerRule

from opendata import settings
from opendata.lifecycle.assets import dataset_asset
from opendata.lifecycle.checklist import checklist_markdown
from opendata.lifecycle.runtime import PLAN_TASK_ID
from opendata.lifecycle.stage_snapshot import NOT_READY, read_dataset_files, read_stages, record_dataset_files
from opendata.operators.department_approval import DepartmentApprovalOperator
from opendata.operators.extract import ExtractDatasetOperator
from opendata.operators.finish import FinishRunOperator, RunFailureHandler
from opendata.operators.go_public import GoPublicOperator
from opendata.operators.plan import PlanRunOperator
from opendata.operators.push_private import PushPrivateOperator
from opendata.operators.refresh import RefreshPublicOperator
from opendata.operators.shrink_approval import ShrinkApprovalOperator
from opendata.operators.validate import ValidateDatasetOperator
from opendata.sensors.approval import PublicApprovalSensor
from opendata.spec.cache import ParseCache
from opendata.spec.errors import SpecFileError
from opendata.spec.governance import Governance
from opendata.spec.loader import Catalog, LoadedDataset, load_catalog

log = logging.getLogger(__name__)

# Dataset DAGs are spread over this many DAG files (dags/datasets.py, dags/datasets_1.py, ...) by
# a hash of the id: Airflow's import timeout (dagbag_import_timeout, 30 s) applies per DAG file,
# and Airflow takes ~2.5 ms to build one dataset DAG, so 5,000 datasets in one file would use half
# of it; in eight, each file builds ~600 in about 2 s.
DATASET_DAG_FILES = 8

# Tasks after the Step 1 approval run when nothing upstream failed: a step with nothing to
# do on this run's path is skipped, and that must not skip the rest.
AFTER_OPTIONAL_STEP = TriggerRule.NONE_FAILED


def dataset_tags(loaded: LoadedDataset, stage: str) -> list[str]:
    spec = loaded.spec
    return [
        f"department:{spec.department}",
        f"classification:{spec.classification.category.value}-level-{spec.classification.level}",
        f"stage:{stage}",
        f"updates:{spec.update_frequency.value}",
    ]


def build_dag(loaded: LoadedDataset, stage: str = NOT_READY, governance: Governance | None = None) -> DAG:
    spec = loaded.spec
    settings = spec.dag
    steward = spec.steward
    department = governance.departments.get(spec.department) if governance else None
    checklist = checklist_markdown(spec)  # once: escaping every answer costs ~1 ms, times 5,000 DAGs
    with DAG(
        dag_id=spec.id,
        description=f"{spec.name} ({spec.department})",
        schedule=spec.schedule,
        start_date=dt.datetime.combine(settings.start_date, dt.time(), tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
        tags=dataset_tags(loaded, stage),
        owner_links={steward.name: f"mailto:{steward.email}"},
        doc_md=warnings_markdown(loaded) + checklist,
        default_args={
            "owner": steward.name,
            "retries": settings.retries,
            "retry_delay": dt.timedelta(minutes=settings.retry_delay_minutes),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": dt.timedelta(minutes=settings.max_retry_delay_minutes),
            "on_failure_callback": RunFailureHandler(spec.id),
        },
    ) as dag:
        plan = PlanRunOperator(task_id=PLAN_TASK_ID, dataset_id=spec.id)
        extract = ExtractDatasetOperator(task_id="extract", dataset_id=spec.id)
        validate = ValidateDatasetOperator(task_id="validate", dataset_id=spec.id)
        approval = DepartmentApprovalOperator(
            task_id="department_approval", dataset_id=spec.id, dataset_name=spec.name,
            department_name=department.name if department else spec.department,
            checklist=checklist,
            leadership=governance.hitl_users(department.leadership) if department and governance else [],
        )
        push = PushPrivateOperator(task_id="push_private", dataset_id=spec.id, trigger_rule=AFTER_OPTIONAL_STEP)
        wait = PublicApprovalSensor(task_id="await_public_approval", dataset_id=spec.id,
                                    trigger_rule=AFTER_OPTIONAL_STEP)
        go_public = GoPublicOperator(task_id="go_public", dataset_id=spec.id, trigger_rule=AFTER_OPTIONAL_STEP,
                                     outlets=[dataset_asset(spec)])
        shrink = ShrinkApprovalOperator(
            task_id="shrink_approval", dataset_id=spec.id, dataset_name=spec.name, trigger_rule=AFTER_OPTIONAL_STEP,
            approvers=governance.hitl_users(list(dict.fromkeys(department.leadership + department.coordinators)))
            if department and governance else [],
        )
        refresh = RefreshPublicOperator(task_id="refresh", dataset_id=spec.id, trigger_rule=AFTER_OPTIONAL_STEP,
                                        outlets=[dataset_asset(spec)])
        finish = FinishRunOperator(task_id="finish", dataset_id=spec.id, trigger_rule=AFTER_OPTIONAL_STEP)
        plan >> extract >> validate >> approval >> push >> wait >> go_public >> shrink >> refresh >> finish
    return dag


def parse_catalog(shard: int | None = None) -> Catalog:
    """The dataset files as DAG parsing sees them (``shard``: only the ids built by that DAG file).

    Unchanged files come from the parse cache (each file is parsed once per change); new or
    changed files are parsed within a time budget (OPENDATA_PARSE_BUDGET_SECONDS), so neither one
    slow file nor thousands of new ones bring a DAG file near Airflow's import timeout. The
    unsharded load (dags/dataset_file_errors.py) records which file holds each dataset id in the
    state folder; every DAG file and every task reads that record.
    """
    started = time.monotonic()
    include = settings.include_dir()
    part = "all" if shard is None else f"shard-{shard}-of-{DATASET_DAG_FILES}"
    cache = ParseCache.for_include(include, settings.state_dir(), part) if settings.parse_cache_enabled() else None
    catalog = load_catalog(include, cache=cache, record=read_dataset_files(), stages=read_stages(),
                           only=None if shard is None else (lambda dataset_id: shard_of(dataset_id) == shard),
                           deadline=started + settings.parse_budget_seconds())
    if cache is not None:
        cache.save()
    if shard is None:
        record_dataset_files(catalog.holders)
    return catalog


def shard_of(dataset_id: str) -> int:
    """Which of the dataset DAG files builds this id (every file claiming the id: the same one)."""
    return zlib.crc32(dataset_id.encode("utf-8", "surrogateescape")) % DATASET_DAG_FILES


def shard_of_dag_file(dag_file: str) -> int:
    """dags/datasets.py is shard 0, dags/datasets_<k>.py shard k."""
    stem = Path(dag_file).stem
    number = 0 if stem == "datasets" else int(stem.removeprefix("datasets_"))
    if not 0 <= number < DATASET_DAG_FILES:
        raise ValueError(f"{dag_file}: only {DATASET_DAG_FILES} dataset DAG files build DAGs (datasets.py, "
                         f"datasets_1.py ... datasets_{DATASET_DAG_FILES - 1}.py)")
    return number


def build_shard_dags(dag_file: str) -> dict[str, DAG]:
    """The DAGs of the dataset ids that belong to this DAG file."""
    return build_all_dags(parse_catalog(shard_of_dag_file(dag_file)))


def build_all_dags(catalog: Catalog | None = None) -> dict[str, DAG]:
    """DAGs for every valid dataset file; broken files are skipped (and reported separately)."""
    catalog = catalog or parse_catalog()
    for error in catalog.errors:
        log.warning("Dataset file skipped: %s", error)
    for warning in catalog.warnings:
        log.warning("Dataset file warning: %s", warning)
    stages = read_stages()
    return {loaded.spec.id: build_dag(loaded, stages.get(loaded.spec.id, NOT_READY), catalog.governance)
            for loaded in catalog.datasets}


def raise_for_broken_files(catalog: Catalog | None = None) -> None:
    """Raise one error naming every broken file, field and hint (an Airflow import error)."""
    catalog = catalog or parse_catalog()
    if catalog.errors:
        raise SpecFileError(catalog.errors)


def warnings_markdown(loaded: LoadedDataset) -> str:
    """The file's warnings, above the checklist on the DAG's page (the messages are the
    loader's own words and dates, not text from the file)."""
    return "".join(f"> **Warning**, {w.field}: {w.message}\n\n" for w in loaded.warnings)
