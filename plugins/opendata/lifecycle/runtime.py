"""What tasks of a dataset DAG share at run time: the portal, the registry, the run's plan.

Task code stays thin: it asks these helpers for the dataset, the portal's current state and
the plan, then calls the library function that does the work.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from opendata import settings
from opendata.lifecycle.plan import PortalSnapshot, RunPlan, plan_run
from opendata.lifecycle.tasks import PLAN_TASK_ID, STEP1_TASK_ID
from opendata.portal.errors import SocrataNotFound
from opendata.registry import DatasetState, Registry, Stage

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.sync import SyncResult
    from opendata.portal.hook import SocrataHook
    from opendata.sources.stage import StagedExtract
    from opendata.spec.dataset import DatasetSpec


class DatasetMissingOnPortal(RuntimeError):
    """The registry knows a portal id the portal no longer has. Never recreated silently:
    the pipeline does not delete datasets, so someone did, and people must look at it."""


class AdoptedDatasetWithoutPortalId(RuntimeError):
    """A dataset taken over from the portal (``opendata adopt``) whose registry row lost its
    portal id: it exists on the portal, so it is never created again; a person must put it right."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def portal_hook(socrata_conn_id: str) -> SocrataHook:
    """The portal's hook on the Airflow connection ``socrata_conn_id`` (an operator's)."""
    from opendata.portal.hook import SocrataHook

    return SocrataHook(socrata_conn_id)


def portal_snapshot(hook: SocrataHook, portal_id: str | None) -> PortalSnapshot | None:
    if portal_id is None:
        return None
    try:
        view = hook.get_view(portal_id)
        status = hook.get_approval_status(portal_id)
    except SocrataNotFound as exc:
        raise DatasetMissingOnPortal(
            f"the registry records portal dataset {portal_id}, but the portal has no such dataset; "
            f"the pipeline never deletes datasets, so find out who did before publishing again") from exc
    review = status.latest_review
    return PortalSnapshot(audience=view.audience, approval=status.state, published=view.is_published,
                          reviewed_at=review.reviewed_at if review else None)


def current_plan(hook: SocrataHook, registry: Registry, dataset_id: str, *,
                 resubmit: bool = False) -> tuple[RunPlan, DatasetState | None]:
    state = registry.get_state(dataset_id)
    if state is not None and state.adopted and state.portal_id is None:
        raise AdoptedDatasetWithoutPortalId(
            f"{dataset_id} was adopted from the portal ({state.adopted_by}, {state.adopted_at:%Y-%m-%d}) but the "
            f"registry no longer records its portal id; an adopted dataset is never created, so nothing was "
            f"sent: restore the portal id in the registry (or adopt it again) before the next run")
    snapshot = portal_snapshot(hook, state.portal_id if state else None)
    return plan_run(snapshot, state.stage if state else None, resubmit=resubmit,
                    department_rejection=step1_rejection(state)), state


def step1_rejection(state: DatasetState | None) -> str | None:
    """Who refused Step 1, when and why, while no later approval replaced it (else None)."""
    from opendata.lifecycle.step1 import rejection_text

    if state is None or state.department_rejection is None or state.department_rejected_by is None:
        return None
    return rejection_text(state.department_rejected_by, state.department_rejected_at,
                          state.department_rejection_reason)


def plan_of_run(context: Context) -> RunPlan:
    """The plan the run's first task made (every later task follows it), unless department
    leadership refused Step 1 in this run: then the rest of the run is on the rejected path and
    each later task skips itself naming who refused, when and why."""
    from opendata.lifecycle.plan import RunPath, rejected_plan
    from opendata.lifecycle.step1 import BEFORE_STEP1, STEP1_REJECTION_KEY

    ti = context["ti"]
    plan = RunPlan.from_dict(ti.xcom_pull(task_ids=PLAN_TASK_ID))
    if plan.path is RunPath.FIRST_PUBLICATION and getattr(ti, "task_id", None) not in BEFORE_STEP1:
        refused = ti.xcom_pull(task_ids=STEP1_TASK_ID, key=STEP1_REJECTION_KEY)
        if refused:
            return rejected_plan(str(refused))
    return plan


def portal_url(hook: SocrataHook, portal_id: str) -> str:
    return f"{hook.base_url}/d/{portal_id}"


def airflow_task_url(dag_id: str, run_id: str, task_id: str) -> str | None:
    """A task instance's page in the Airflow UI (it opens on the task's log), built from the
    configured ``[api] base_url``; None without one (a server file path is never a link)."""
    from urllib.parse import quote

    base = settings.airflow_base_url()
    if not base:
        return None
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"


def show_stage(dataset_id: str, stage: Stage) -> None:
    """Show a stage change on this machine's DAG tags at once (called after the registry recorded
    it; other machines read it from the registry within OPENDATA_STAGE_CACHE_SECONDS)."""
    from opendata.registry.stage_snapshot import write_stage

    write_stage(dataset_id, stage.value)


def record_confirmed_load(registry: Registry, spec: DatasetSpec, staged: StagedExtract, result: SyncResult, *,
                          run_id: str, refreshed: bool) -> None:
    """After the portal confirmed a load: the registry's counts, the watermark, the archive. A
    version the portal holds for its reviewer is recorded as held, not as published."""
    from opendata.lifecycle.history import archive_version
    from opendata.lifecycle.sync import SyncMode

    if result.held_revision is not None:
        registry.record_held_version(spec.id, revision=result.held_revision, checksum=staged.checksum,
                                     rows=result.rows_in_extract, run_id=run_id)
        registry.update_run(spec.id, run_id, rows_created=0, rows_updated=0, rows_deleted=0)
        return

    registry.record_published_data(spec.id, rows=result.rows_published, checksum=staged.checksum,
                                   fingerprint_path=result.fingerprint_path, refreshed=refreshed, run_id=run_id)
    registry.update_run(spec.id, run_id, rows_created=result.rows_created, rows_updated=result.rows_updated,
                        rows_deleted=result.rows_deleted)
    if staged.watermark:
        registry.record_watermark(spec.id, staged.watermark, run_id=run_id)
    newest = newest_value(staged, spec.freshness.newest_date_column)
    if newest is not None:
        registry.update_run(spec.id, run_id, newest_data_at=newest)
    if result.mode is not SyncMode.NONE:
        archive_version(registry, spec.id, run_id=run_id, staged=staged,
                        kind="incremental" if staged.since else "full",
                        retention_days=spec.history.retention_days)


def newest_value(staged: StagedExtract, column: str | None) -> str | None:
    """The newest date in the staged extract's ``column`` (ISO text), for the freshness
    monitor's cross-check of the data's own dates."""
    if column is None:
        return None
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from opendata.lifecycle.staging import local_staged

    newest = pc.max(pq.read_table(local_staged(staged, with_fingerprint=False), columns=[column])[column]).as_py()
    return newest.isoformat() if newest is not None else None
