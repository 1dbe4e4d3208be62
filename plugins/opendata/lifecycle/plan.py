"""Which path a dataset run takes, from what the portal and the registry say.

Pure: no I/O. The portal is the source of truth for audience and approval; the registry says
what the pipeline already recorded (and so already announced). Every task of the dataset DAG
asks the plan whether it has work to do, so any task can be re-run safely: a second run of a
step finds the dataset already created, submitted or public and carries on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from opendata.lifecycle.tasks import (
    AWAIT_APPROVAL_TASK_ID,
    EXTRACT_TASK_ID,
    GO_PUBLIC_TASK_ID,
    PUSH_PRIVATE_TASK_ID,
    REFRESH_TASK_ID,
    SHRINK_APPROVAL_TASK_ID,
    STEP1_TASK_ID,
    VALIDATE_TASK_ID,
)
from opendata.portal.models import ApprovalState, Audience
from opendata.registry.stages import Stage


class RunPath(StrEnum):
    # Nothing on the portal yet: Step 1 approval, Stage 1 push, review, go public.
    FIRST_PUBLICATION = "first-publication"
    # Private on the portal but not (or no longer) submitted: push and submit.
    SUBMIT = "submit"
    # Private and waiting for the reviewer: refresh the private copy, keep waiting.
    AWAIT_REVIEW = "await-review"
    # Rejected, and the coordinator asked to submit again after fixing it.
    RESUBMIT = "resubmit"
    # Rejected (Step 1 by department leadership, or the Stage 1 review); nothing to do until
    # the data or the file is fixed and the coordinator asks to resubmit. Every task skips.
    REJECTED = "rejected"
    # Approved but still private (a planned go-live, or a portal whose approval does not
    # change the audience), or public on paper but not published: make it visible to the
    # public at the right moment and check that it is.
    GO_PUBLIC = "go-public"
    # Public on the portal, but the pipeline has not recorded it yet (approved while no run
    # was watching): record it and tell people.
    RECORD_PUBLIC = "record-public"
    # Public and recorded: a routine refresh.
    REFRESH = "refresh"
    # Retired with the Mayor's Office's approval: nothing to do, ever again.
    RETIRED = "retired"


#: What a rejected dataset's runs say to do about it.
RESUBMIT_HINT = 'trigger the DAG with {"resubmit": true} after fixing'

_WORKING_PATHS = frozenset({RunPath.FIRST_PUBLICATION, RunPath.SUBMIT, RunPath.AWAIT_REVIEW, RunPath.RESUBMIT,
                            RunPath.GO_PUBLIC, RunPath.RECORD_PUBLIC, RunPath.REFRESH})


# Which tasks of the dataset DAG act on which path (the others skip themselves).
TASK_PATHS: dict[str, frozenset[RunPath]] = {
    EXTRACT_TASK_ID: _WORKING_PATHS,
    VALIDATE_TASK_ID: _WORKING_PATHS,
    STEP1_TASK_ID: frozenset({RunPath.FIRST_PUBLICATION}),
    PUSH_PRIVATE_TASK_ID: frozenset({RunPath.FIRST_PUBLICATION, RunPath.SUBMIT, RunPath.AWAIT_REVIEW,
                                     RunPath.RESUBMIT}),
    AWAIT_APPROVAL_TASK_ID: frozenset({RunPath.FIRST_PUBLICATION, RunPath.SUBMIT, RunPath.AWAIT_REVIEW,
                                       RunPath.RESUBMIT, RunPath.GO_PUBLIC}),
    GO_PUBLIC_TASK_ID: frozenset({RunPath.FIRST_PUBLICATION, RunPath.SUBMIT, RunPath.AWAIT_REVIEW,
                                  RunPath.RESUBMIT, RunPath.GO_PUBLIC, RunPath.RECORD_PUBLIC}),
    SHRINK_APPROVAL_TASK_ID: frozenset({RunPath.REFRESH}),
    REFRESH_TASK_ID: frozenset({RunPath.REFRESH}),
}


@dataclass(frozen=True)
class PortalSnapshot:
    """What the portal says about the dataset right now. The portal's API tells when a review
    happened, never who reviewed or their notes (those stay on the portal's page)."""

    audience: Audience
    approval: ApprovalState
    published: bool = True
    reviewed_at: dt.datetime | None = None


@dataclass(frozen=True)
class RunPlan:
    path: RunPath
    stage: Stage
    reason: str

    def acts(self, task_id: str) -> bool:
        return self.path in TASK_PATHS[task_id]

    def as_dict(self) -> dict:
        return {"path": self.path.value, "stage": self.stage.value, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict) -> RunPlan:
        return cls(RunPath(data["path"]), Stage(data["stage"]), data["reason"])


def plan_run(portal: PortalSnapshot | None, recorded_stage: Stage | None, *, resubmit: bool = False,
             department_rejection: str | None = None) -> RunPlan:
    """The path of this run. ``portal`` is None when the dataset does not exist there yet;
    ``department_rejection``: why department leadership refused Step 1 (None: not refused)."""
    if recorded_stage is Stage.RETIRED:
        return RunPlan(RunPath.RETIRED, Stage.RETIRED, "retired; no more refreshes")
    if portal is None:
        if department_rejection:
            if resubmit:
                return RunPlan(RunPath.FIRST_PUBLICATION, Stage.NOT_READY,
                               department_rejection + "; asking the department again as asked")
            # Refused by the department: a decision, shown as the stage "rejected"; runs skip.
            return rejected_plan(department_rejection)
        return RunPlan(RunPath.FIRST_PUBLICATION, Stage.NOT_READY, "not on the portal yet")
    if portal.audience is Audience.PUBLIC and not portal.published:
        # A draft is invisible to the public whatever its audience: publish it and check.
        return RunPlan(RunPath.GO_PUBLIC, Stage.STAGE_1, "public audience but not published; publishing it")
    if portal.audience is Audience.PUBLIC:
        if recorded_stage is not None and recorded_stage.is_public:
            return RunPlan(RunPath.REFRESH, recorded_stage, "public; refreshing")
        return RunPlan(RunPath.RECORD_PUBLIC, Stage.STAGE_2, "public on the portal; recording it")
    if portal.approval is ApprovalState.APPROVED:
        stage = Stage.SCHEDULED if recorded_stage is Stage.SCHEDULED else Stage.STAGE_1
        return RunPlan(RunPath.GO_PUBLIC, stage, "approved, still private; making it public when due")
    if portal.approval is ApprovalState.PENDING:
        return RunPlan(RunPath.AWAIT_REVIEW, Stage.STAGE_1, "private, waiting for the reviewer")
    if portal.approval is ApprovalState.REJECTED:
        when = f" on {portal.reviewed_at:%Y-%m-%d %H:%M} UTC" if portal.reviewed_at else ""
        reason = f"rejected in the Stage 1 review{when} (the reviewer's notes are on the portal's page)"
        if resubmit:
            return RunPlan(RunPath.RESUBMIT, Stage.REJECTED, reason + "; resubmitting as asked")
        return rejected_plan(reason)
    return RunPlan(RunPath.SUBMIT, Stage.STAGE_1, "private, not submitted for public approval")


def rejected_plan(why: str) -> RunPlan:
    """A rejected dataset's run: every task skips, saying why and how to send it again. Nothing
    failed (people decided), so the run is not marked failed; nothing is asked or sent."""
    return RunPlan(RunPath.REJECTED, Stage.REJECTED, f"{why}; {RESUBMIT_HINT}")
