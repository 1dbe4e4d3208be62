"""Which tasks the plan skips at once on each path, and the edges that keep the rest in order (pure)."""

from __future__ import annotations

import pytest

from opendata.lifecycle.plan import RunPath
from opendata.lifecycle.preskip import DAG_LINE, may_run, order_edges, skipped_by_plan

EXTRACT, VALIDATE = "extract", "validate"
STEP1, PUSH, AWAIT, GO_PUBLIC = "department_approval", "push_private", "await_public_approval", "go_public"
SHRINK, REFRESH = "shrink_approval", "refresh"
EVERY_TASK = {EXTRACT, VALIDATE, STEP1, PUSH, AWAIT, GO_PUBLIC, SHRINK, REFRESH}

# Written out path by path from each task's own skip check (not computed from the table it reads).
SKIPPED = {
    # Step 1 to Stage 2; nothing public to refresh yet.
    RunPath.FIRST_PUBLICATION: {SHRINK, REFRESH},
    # On the portal already: Step 1 was given; push (again), submit, wait, go public.
    RunPath.SUBMIT: {STEP1, SHRINK, REFRESH},
    RunPath.AWAIT_REVIEW: {STEP1, SHRINK, REFRESH},
    RunPath.RESUBMIT: {STEP1, SHRINK, REFRESH},
    # Approved: wait for the go-live (and submit a held one), then go public; nothing to push.
    RunPath.GO_PUBLIC: {STEP1, PUSH, SHRINK, REFRESH},
    # Public on the portal already: only record it (go_public) after checking the extract.
    RunPath.RECORD_PUBLIC: {STEP1, PUSH, AWAIT, SHRINK, REFRESH},
    # A routine refresh: extract, validate, the shrink guard, refresh.
    RunPath.REFRESH: {STEP1, PUSH, AWAIT, GO_PUBLIC},
    # Nothing to do but record the run.
    RunPath.REJECTED: EVERY_TASK,
    RunPath.RETIRED: EVERY_TASK,
}


def test_every_path_is_listed():
    assert set(SKIPPED) == set(RunPath)


@pytest.mark.parametrize("path", list(RunPath))
def test_the_tasks_each_path_skips_at_once(path):
    assert skipped_by_plan(path) == SKIPPED[path]


@pytest.mark.parametrize("path", list(RunPath))
def test_plan_and_finish_are_never_skipped(path):
    # finish records the run's outcome, whatever the path.
    assert {"plan", "finish"} & skipped_by_plan(path) == set()
    assert may_run(path)[0] == "plan" and may_run(path)[-1] == "finish"


def test_a_task_skipped_on_its_path_is_one_whose_skip_depends_on_the_run():
    # Step 1 on a first publication skips itself when the file records the approval, but it
    # records that approval first: it is not skipped at once. Likewise the shrink guard.
    assert STEP1 not in skipped_by_plan(RunPath.FIRST_PUBLICATION)
    assert SHRINK not in skipped_by_plan(RunPath.REFRESH)


def test_the_line_holds_every_task_once():
    assert len(DAG_LINE) == len(set(DAG_LINE)) == 10
    assert set(DAG_LINE) == EVERY_TASK | {"plan", "finish"}


def test_the_edges_that_keep_each_path_in_order():
    assert order_edges() == {
        (VALIDATE, PUSH),        # submit, await-review, resubmit: Step 1 skipped
        (VALIDATE, AWAIT),       # go-public: nothing to push
        (VALIDATE, GO_PUBLIC),   # record-public
        (VALIDATE, SHRINK),      # refresh: Step 1 to Stage 2 skipped
        (GO_PUBLIC, "finish"),   # publication paths: the shrink guard and refresh skipped
        ("plan", "finish"),      # rejected, retired
    }


@pytest.mark.parametrize("path", list(RunPath))
def test_on_every_path_each_task_left_directly_follows_the_one_before(path):
    edges = set(zip(DAG_LINE, DAG_LINE[1:], strict=False)) | order_edges()
    left = may_run(path)
    assert all((before, after) in edges for before, after in zip(left, left[1:], strict=False))
