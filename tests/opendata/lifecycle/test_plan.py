"""The run's path from portal and registry state (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.lifecycle.plan import PortalSnapshot, RunPath, plan_run
from opendata.lifecycle.step1 import rejection_text
from opendata.portal.models import ApprovalState, Audience
from opendata.registry import Stage

PRIVATE_PENDING = PortalSnapshot(Audience.PRIVATE, ApprovalState.PENDING)
REJECTED = PortalSnapshot(Audience.PRIVATE, ApprovalState.REJECTED,
                          reviewed_at=dt.datetime(2026, 11, 27, 16, 30, tzinfo=dt.UTC))


@pytest.mark.parametrize("portal,recorded,resubmit,path,stage", [
    (None, None, False, RunPath.FIRST_PUBLICATION, Stage.NOT_READY),
    (PortalSnapshot(Audience.PRIVATE, ApprovalState.SUBMITTABLE), Stage.STAGE_1, False, RunPath.SUBMIT,
     Stage.STAGE_1),
    (PRIVATE_PENDING, Stage.STAGE_1, False, RunPath.AWAIT_REVIEW, Stage.STAGE_1),
    (REJECTED, Stage.REJECTED, False, RunPath.REJECTED, Stage.REJECTED),
    (REJECTED, Stage.REJECTED, True, RunPath.RESUBMIT, Stage.REJECTED),
    (PortalSnapshot(Audience.PRIVATE, ApprovalState.APPROVED), Stage.SCHEDULED, False, RunPath.GO_PUBLIC,
     Stage.SCHEDULED),
    (PortalSnapshot(Audience.PRIVATE, ApprovalState.APPROVED), Stage.STAGE_1, False, RunPath.GO_PUBLIC,
     Stage.STAGE_1),
    (PortalSnapshot(Audience.PUBLIC, ApprovalState.APPROVED), Stage.STAGE_1, False, RunPath.RECORD_PUBLIC,
     Stage.STAGE_2),
    (PortalSnapshot(Audience.PUBLIC, ApprovalState.APPROVED), Stage.STAGE_2, False, RunPath.REFRESH,
     Stage.STAGE_2),
    (PortalSnapshot(Audience.PUBLIC, ApprovalState.APPROVED), Stage.REFRESHING, False, RunPath.REFRESH,
     Stage.REFRESHING),
    # The portal wins over the registry: public there means public, whatever was recorded.
    (PortalSnapshot(Audience.PUBLIC, ApprovalState.APPROVED), None, False, RunPath.RECORD_PUBLIC, Stage.STAGE_2),
    # Public on paper but a draft: nobody sees it; publish it and check, whatever was recorded.
    (PortalSnapshot(Audience.PUBLIC, ApprovalState.APPROVED, published=False), Stage.STAGE_2, False,
     RunPath.GO_PUBLIC, Stage.STAGE_1),
    (PortalSnapshot(Audience.PUBLIC, ApprovalState.APPROVED, published=False), Stage.REFRESHING, False,
     RunPath.GO_PUBLIC, Stage.STAGE_1),
    # A private draft waiting for its review: the Stage 1 push publishes it (privately).
    (PortalSnapshot(Audience.PRIVATE, ApprovalState.PENDING, published=False), Stage.STAGE_1, False,
     RunPath.AWAIT_REVIEW, Stage.STAGE_1),
])
def test_plan(portal, recorded, resubmit, path, stage):
    plan = plan_run(portal, recorded, resubmit=resubmit)
    assert (plan.path, plan.stage) == (path, stage)


def test_a_retired_dataset_does_nothing_whatever_the_portal_says():
    plan = plan_run(PortalSnapshot(Audience.PUBLIC, ApprovalState.APPROVED), Stage.RETIRED)
    assert plan.path is RunPath.RETIRED
    assert not any(plan.acts(task) for task in ("extract", "validate", "push_private", "go_public", "refresh"))


def test_a_step1_rejection_stops_runs_until_the_coordinator_resubmits():
    why = "Step 1 rejected by Alicia Grant on 2026-11-27: the address column is not documented"
    stopped = plan_run(None, Stage.NOT_READY, department_rejection=why)
    # A decision, shown as the stage "rejected"; every task skips saying who, when, why and what to do.
    assert (stopped.path, stopped.stage) == (RunPath.REJECTED, Stage.REJECTED)
    assert stopped.reason == why + '; trigger the DAG with {"resubmit": true} after fixing'
    assert not any(stopped.acts(task) for task in ("extract", "department_approval", "push_private"))
    again = plan_run(None, Stage.REJECTED, department_rejection=why, resubmit=True)
    assert again.path is RunPath.FIRST_PUBLICATION and again.acts("department_approval")
    assert again.stage is Stage.NOT_READY
    # Once on the portal, the portal's own review decides, whatever Step 1 once said.
    assert plan_run(PRIVATE_PENDING, Stage.STAGE_1, department_rejection=why).path is RunPath.AWAIT_REVIEW


def test_rejection_reason_says_when_and_where_the_notes_are_never_who():
    # The portal's API gives the review's time, not the reviewer's name or notes.
    assert plan_run(REJECTED, Stage.REJECTED).reason == (
        "rejected in the Stage 1 review on 2026-11-27 16:30 UTC (the reviewer's notes are on the portal's page); "
        'trigger the DAG with {"resubmit": true} after fixing')
    undated = PortalSnapshot(Audience.PRIVATE, ApprovalState.REJECTED)
    assert "None" not in plan_run(undated, Stage.REJECTED).reason


def test_the_step1_rejection_text_names_who_when_and_why():
    at = dt.datetime(2026, 11, 27, 18, tzinfo=dt.UTC)
    assert rejection_text("Alicia Grant", at, "Document the codes.") == \
        "Step 1 rejected by Alicia Grant on 2026-11-27: Document the codes."
    assert rejection_text("Alicia Grant", at, None) == \
        "Step 1 rejected by Alicia Grant on 2026-11-27: no reason was given in the form"


@pytest.mark.parametrize("path,acting", [
    (RunPath.FIRST_PUBLICATION, {"department_approval", "push_private", "await_public_approval", "go_public"}),
    (RunPath.AWAIT_REVIEW, {"push_private", "await_public_approval", "go_public"}),
    (RunPath.GO_PUBLIC, {"await_public_approval", "go_public"}),
    (RunPath.RECORD_PUBLIC, {"go_public"}),
    (RunPath.REFRESH, {"shrink_approval", "refresh"}),
    (RunPath.RETIRED, set()),
])
def test_which_tasks_act_on_each_path(path, acting):
    plan = plan_run(None, None)
    plan = type(plan)(path, plan.stage, "")
    tasks = {"department_approval", "push_private", "await_public_approval", "go_public", "shrink_approval",
             "refresh"}
    assert {task for task in tasks if plan.acts(task)} == acting


def test_plan_round_trips_through_xcom():
    plan = plan_run(PRIVATE_PENDING, Stage.STAGE_1)
    assert type(plan).from_dict(plan.as_dict()) == plan
