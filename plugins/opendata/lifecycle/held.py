"""A new version the portal holds for its reviewer: followed up on the next runs.

A portal can require approval for changes to public assets: applying a replace revision then
answers ``approval_submitted`` and nothing changes until the reviewer approves (socrata-py
``Job.submitted_for_approval``). The pipeline records such a version as *held*, never as
published, and on each later run reads the revision back: applied -> recorded as published;
still waiting with the same data -> nothing is sent again; waiting while the source moved on ->
the held revision is discarded (it was never applied, so nothing is lost) and the newer data is
sent instead; closed without being applied -> forgotten.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from opendata.portal.hook import SocrataHook
    from opendata.registry import DatasetState, Registry


class HeldOutcome(StrEnum):
    APPLIED = "applied"          # the reviewer approved it: it is the published version now
    WAITING = "waiting"          # still waiting, same data: nothing to send
    SUPERSEDED = "superseded"    # still waiting, but the source changed: discard it, send the new data
    GONE = "gone"                # closed without being applied (discarded or refused): send again if needed


def held_outcome(*, applied: bool, open_: bool, same_data: bool) -> HeldOutcome:
    """What became of a held revision (pure)."""
    if applied:
        return HeldOutcome.APPLIED
    if open_:
        return HeldOutcome.WAITING if same_data else HeldOutcome.SUPERSEDED
    return HeldOutcome.GONE


def follow_up_held(hook: SocrataHook, registry: Registry, state: DatasetState | None, staged_checksum: str, *,
                   run_id: str, log: Logger) -> HeldOutcome | None:
    """Read the held revision back and record what became of it; ``None`` when nothing is held."""
    from opendata.portal.revisions import get_revision

    if state is None or state.held_revision is None or state.portal_id is None or state.held_checksum is None:
        return None  # a held version is recorded with its portal dataset and checksum, or not at all
    revision = get_revision(hook, state.portal_id, state.held_revision)
    applied = bool(revision.closed_at) and any(job.status == "successful" for job in revision.jobs)
    outcome = held_outcome(applied=applied, open_=not revision.closed_at,
                           same_data=state.held_checksum == staged_checksum)
    log.info("Revision %s/%d held for approval on the portal: %s", state.portal_id, state.held_revision,
             outcome.value)
    if outcome is HeldOutcome.APPLIED:
        registry.record_published_data(state.dataset_id, rows=state.held_rows or 0, checksum=state.held_checksum,
                                       fingerprint_path=state.fingerprint_path, refreshed=True, run_id=run_id)
        registry.clear_held_version(state.dataset_id, run_id=run_id,
                                    note=f"revision {state.held_revision} approved and applied on the portal")
    elif outcome is HeldOutcome.SUPERSEDED:
        hook.discard_revision(state.portal_id, state.held_revision)
        registry.clear_held_version(state.dataset_id, run_id=run_id,
                                    note=f"revision {state.held_revision} superseded by newer data before approval")
    elif outcome is HeldOutcome.GONE:
        registry.clear_held_version(state.dataset_id, run_id=run_id,
                                    note=f"revision {state.held_revision} closed on the portal without being applied")
    return outcome
