"""The DAG factory: one Airflow DAG per dataset file.

Every dataset DAG is the same straight line; its first task reads where the dataset stands
(portal + registry) and has the scheduler skip at once the tasks that have nothing to do on that
path (``opendata.lifecycle.preskip``, which also adds the edges that keep the rest in order); a
task left with nothing to do by what happens later in the run skips itself:

    plan -> extract -> validate -> department_approval (Step 1, HITL)
         -> push_private (Stage 1) -> await_public_approval (deferred) -> go_public (Stage 2)
         -> shrink_approval (HITL, only past the deletion limit) -> refresh (later runs) -> finish

Parsing must stay cheap (the DAG processor re-parses often): this reads YAML files (each once
per change, through the parse cache) and the registry's stages and dataset-file record through
this machine's cache of them (``opendata.registry.stage_snapshot``: no database round trip within
OPENDATA_STAGE_CACHE_SECONDS, one statement after it, never a stall on an unreachable registry).
Task code imports its heavy libraries (pandas, pyarrow, sodapy) only when it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from airflow.sdk import DAG, TriggerRule

from opendata import settings
from opendata.lifecycle.assets import PUBLISHED_INVENTORY, dataset_asset
from opendata.lifecycle.preskip import order_edges
from opendata.lifecycle.tasks import (
    AWAIT_APPROVAL_TASK_ID,
    EXTRACT_TASK_ID,
    FINISH_TASK_ID,
    GO_PUBLIC_TASK_ID,
    PLAN_TASK_ID,
    PUSH_PRIVATE_TASK_ID,
    REFRESH_TASK_ID,
    SHRINK_APPROVAL_TASK_ID,
    STEP1_TASK_ID,
    VALIDATE_TASK_ID,
)
from opendata.operators.department_approval import DepartmentApprovalOperator
from opendata.operators.extract import ExtractDatasetOperator
from opendata.operators.finish import FinishRunOperator, RunFailureHandler
from opendata.operators.go_public import GoPublicOperator
from opendata.operators.plan import PlanRunOperator
from opendata.operators.push_private import PushPrivateOperator
from opendata.operators.refresh import RefreshPublicOperator
from opendata.operators.shrink_approval import ShrinkApprovalOperator
from opendata.operators.validate import ValidateDatasetOperator
from opendata.portal.config import DEFAULT_CONN_ID
from opendata.registry.stage_snapshot import NOT_READY, read_stages, record_dataset_files, snapshot
from opendata.sensors.approval import PublicApprovalSensor
from opendata.spec.cache import ParseCache, ShardedParseCache
from opendata.spec.errors import SpecFileError
from opendata.spec.governance import Governance
from opendata.spec.loader import Catalog, LoadedDataset, load_catalog
from opendata.spec.shards import DATASET_DAG_FILES, shard_of, shard_of_dag_file, shard_part
from opendata.validation.checklist import checklist_markdown, checklist_summary_markdown

__all__ = ["DATASET_DAG_FILES", "PORTAL_WRITERS", "build_all_dags", "build_dag", "build_shard_dags", "parse_catalog",
           "raise_for_broken_files", "shard_of", "shard_of_dag_file"]

log = logging.getLogger(__name__)

# Tasks after the Step 1 approval run when nothing upstream failed: a step with nothing to
# do on this run's path is skipped, and that must not skip the rest.
AFTER_OPTIONAL_STEP = TriggerRule.NONE_FAILED

#: The tasks that write to the portal: each takes a slot of the ``socrata_writes`` pool (Socrata
#: throttles per account, whatever the number of workers) and runs on OPENDATA_PORTAL_QUEUE.
#: push_private creates, loads, publishes and submits; await_public_approval submits for approval
#: when a held go-live comes (deferred, it holds no slot: the pool does not count deferred tasks);
#: go_public publishes and sets the audience; refresh upserts, replaces and discards revisions.
#: plan and shrink_approval only read the portal, finish writes only the registry, the other
#: tasks do not talk to it.
PORTAL_WRITERS = frozenset({PUSH_PRIVATE_TASK_ID, AWAIT_APPROVAL_TASK_ID, GO_PUBLIC_TASK_ID, REFRESH_TASK_ID})


def portal_writer_args() -> dict[str, str]:
    """The pool (and the queue, when OPENDATA_PORTAL_QUEUE names one) of a portal-writing task."""
    queue = settings.portal_queue()
    return {"pool": settings.SOCRATA_WRITE_POOL, **({"queue": queue} if queue else {})}


def source_reader_args() -> dict[str, str]:
    """The queue of the task that reads the source system, when OPENDATA_SOURCE_QUEUE names one
    (unset: no argument, Airflow's default queue)."""
    queue = settings.source_queue()
    return {"queue": queue} if queue else {}


def dataset_tags(loaded: LoadedDataset, stage: str) -> list[str]:
    spec = loaded.spec
    return [
        f"department:{spec.department}",
        f"classification:{spec.classification.category.value}-level-{spec.classification.level}",
        f"stage:{stage}",
        f"updates:{spec.update_frequency.value}",
    ]


def build_dag(loaded: LoadedDataset, stage: str = NOT_READY, governance: Governance | None = None, *,
              socrata_conn_id: str = DEFAULT_CONN_ID) -> DAG:
    """The dataset's DAG; every task reaches the portal through ``socrata_conn_id``."""
    spec = loaded.spec
    settings = spec.dag
    steward = spec.steward
    department = governance.departments.get(spec.department) if governance else None
    # The Step 1 form shows the whole checklist; the DAG's documentation (stored in every
    # serialized DAG, sent on every parse) only says where it is.
    checklist = checklist_markdown(spec)
    with DAG(
        dag_id=spec.id,
        description=f"{spec.name} ({spec.department})",
        schedule=spec.schedule,
        start_date=dt.datetime.combine(settings.start_date, dt.time(), tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
        tags=dataset_tags(loaded, stage),
        owner_links={steward.name: f"mailto:{steward.email}"},
        doc_md=warnings_markdown(loaded) + checklist_summary_markdown(
            spec, f"datasets/{loaded.path.parent.name}/{loaded.path.name}"),
        default_args={
            "owner": steward.name,
            "retries": settings.retries,
            "retry_delay": dt.timedelta(minutes=settings.retry_delay_minutes),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": dt.timedelta(minutes=settings.max_retry_delay_minutes),
            "on_failure_callback": RunFailureHandler(spec.id),
        },
    ) as dag:
        conn = socrata_conn_id
        after = AFTER_OPTIONAL_STEP
        plan = PlanRunOperator(task_id=PLAN_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn)
        writer = portal_writer_args()
        extract = ExtractDatasetOperator(task_id=EXTRACT_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn,
                                         **source_reader_args())
        validate = ValidateDatasetOperator(task_id=VALIDATE_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn)
        approval = DepartmentApprovalOperator(
            task_id=STEP1_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn, dataset_name=spec.name,
            department_name=department.name if department else spec.department,
            checklist=checklist,
            leadership=governance.hitl_users(department.leadership) if department and governance else [],
        )
        push = PushPrivateOperator(task_id=PUSH_PRIVATE_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn,
                                   trigger_rule=after, **writer)
        wait = PublicApprovalSensor(task_id=AWAIT_APPROVAL_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn,
                                    trigger_rule=after, **writer)
        go_public = GoPublicOperator(task_id=GO_PUBLIC_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn,
                                     trigger_rule=after, outlets=[dataset_asset(spec), PUBLISHED_INVENTORY], **writer)
        shrink = ShrinkApprovalOperator(
            task_id=SHRINK_APPROVAL_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn, dataset_name=spec.name,
            trigger_rule=after,
            approvers=governance.hitl_users(list(dict.fromkeys(department.leadership + department.coordinators)))
            if department and governance else [],
        )
        refresh = RefreshPublicOperator(task_id=REFRESH_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn,
                                        trigger_rule=after, outlets=[dataset_asset(spec), PUBLISHED_INVENTORY],
                                        **writer)
        finish = FinishRunOperator(task_id=FINISH_TASK_ID, dataset_id=spec.id, socrata_conn_id=conn, trigger_rule=after)
        plan >> extract >> validate >> approval >> push >> wait >> go_public >> shrink >> refresh >> finish
        # The plan skips a path's idle tasks at once; these edges keep the tasks left on each
        # path waiting for the one before them (trigger rules look at direct upstreams only).
        for upstream, downstream in sorted(order_edges()):
            dag.task_dict[upstream] >> dag.task_dict[downstream]
    return dag


def parse_catalog(shard: int | None = None, started: float | None = None, keep_datasets: bool = True) -> Catalog:
    """The dataset files as DAG parsing sees them (``shard``: only the ids built by that DAG file).

    Unchanged files come from the parse cache (each file is parsed once per change, by whichever
    DAG file meets it first: a shard's DAG file and the unsharded load share its entries); new or
    changed files are parsed within a time budget (OPENDATA_PARSE_BUDGET_SECONDS), so neither one
    slow file nor thousands of new ones bring a DAG file near Airflow's import timeout. The
    unsharded load (dags/dataset_file_errors.py) records which file holds each dataset id in the
    registry; every DAG file and every task reads that record.
    """
    include = settings.include_dir()
    cache = parse_cache(include, shard) if settings.parse_cache_enabled() else None
    known = snapshot()
    catalog = load_catalog(include, cache=cache, record=known.dataset_files, stages=known.stages,
                           only=None if shard is None else (lambda dataset_id: shard_of(dataset_id) == shard),
                           deadline=parse_deadline(settings.parse_budget_seconds(), started),
                           keep_datasets=keep_datasets)
    if cache is not None:
        cache.save()
    if shard is None:
        record_dataset_files(catalog.holders)
    return catalog


# The share of the parse budget that parsing new or changed files may use: the rest is kept for
# building the DAGs (a DAG file builds ~310 at 5,000 datasets) and for Airflow's checks of them.
PARSE_SHARE = 0.8


def parse_deadline(budget: float, started: float | None = None) -> float:
    """When parsing new or changed files stops (``time.monotonic()``): ``PARSE_SHARE`` of the
    budget after ``started``, when the DAG file began (its own imports count: Airflow's timeout
    bounds the whole import), or after now."""
    now = time.monotonic()
    return min(started if started is not None else now, now) + budget * PARSE_SHARE


def parse_cache(include: Path, shard: int | None = None) -> ParseCache | ShardedParseCache:
    """The parse cache of one shard's files, or (None) of every shard's."""
    if shard is None:
        return ShardedParseCache.for_include(include, settings.state_dir())
    return ParseCache.for_include(include, settings.state_dir(), shard_part(shard))


def build_shard_dags(dag_file: str, started: float | None = None) -> dict[str, DAG]:
    """The DAGs of the dataset ids that belong to this DAG file (``started``: see parse_deadline)."""
    return build_all_dags(parse_catalog(shard_of_dag_file(dag_file), started))


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


def raise_for_broken_files(catalog: Catalog | None = None, started: float | None = None) -> None:
    """Raise one error naming every broken file, field and hint (an Airflow import error)."""
    # Only the errors are needed: the valid files' models are not kept (5,000 of them were ~250 MB).
    catalog = catalog or parse_catalog(started=started, keep_datasets=False)
    if catalog.errors:
        raise SpecFileError(catalog.errors)


def warnings_markdown(loaded: LoadedDataset) -> str:
    """The file's warnings, above the checklist on the DAG's page (the messages are the
    loader's own words and dates, not text from the file)."""
    return "".join(f"> **Warning**, {w.field}: {w.message}\n\n" for w in loaded.warnings)
