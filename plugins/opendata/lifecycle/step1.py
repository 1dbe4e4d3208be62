"""Step 1 of the playbook as the registry, the DAG's tag and the rest of the run see it.

A department's refusal is a decision, not a failure: the run that asked ends without a red
mark, its later tasks skip themselves naming who refused, when and why, the registry records
the stage ``rejected`` with the reason, and scheduled runs stop at ``plan`` until the
coordinator triggers the DAG with ``{"resubmit": true}``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from opendata.lifecycle.tasks import EXTRACT_TASK_ID, PLAN_TASK_ID, STEP1_TASK_ID, VALIDATE_TASK_ID
from opendata.registry.stages import Stage

if TYPE_CHECKING:
    from opendata.registry import Registry

#: The XCom (of the Step 1 task, ``STEP1_TASK_ID``) that tells the rest of the run it was refused.
STEP1_REJECTION_KEY = "step1_rejection"
#: The tasks that run before Step 1 answers: they never read the refusal.
BEFORE_STEP1 = frozenset({PLAN_TASK_ID, EXTRACT_TASK_ID, VALIDATE_TASK_ID, STEP1_TASK_ID})

#: Recorded as the reason when a person rejected without writing one. The rejection stands
#: (it is their decision to make, and sending the form back would leave the dataset waiting on
#: a button); the coordinator and steward are told that no reason was given and whom to ask.
NO_REASON = "no reason was given in the form"


def rejection_text(by: str, at: dt.datetime | None, reason: str | None) -> str:
    """``Step 1 rejected by Alicia Grant on 2026-11-27: the address column is not documented``."""
    when = f" on {at:%Y-%m-%d}" if at else ""
    return f"Step 1 rejected by {by}{when}: {reason or NO_REASON}"


def record_rejection(registry: Registry, dataset_id: str, *, by: str, at: dt.datetime, reason: str | None,
                     run_id: str) -> None:
    """The refusal with its reason, and the dataset's stage ``rejected`` (registry and DAG tag)."""
    from opendata.lifecycle.runtime import show_stage

    registry.record_department_rejection(dataset_id, by=by, at=at, reason=reason or NO_REASON, run_id=run_id)
    show_stage(dataset_id, Stage.REJECTED)


def record_approval(registry: Registry, dataset_id: str, *, by: str, at: dt.datetime, run_id: str) -> None:
    """The approval; a dataset refused earlier and not yet on the portal is "not ready" again
    (Stage 1 follows at once in this run)."""
    registry.record_department_approval(dataset_id, by=by, at=at, source="airflow", run_id=run_id)
