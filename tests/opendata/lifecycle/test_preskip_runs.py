"""Real dataset DAG runs (``dag.test()``): the plan skips the tasks its path leaves idle before
any of them starts, and what is left runs in order. ``try_number`` counts the task's starts: a
task the plan skipped was never handed to a worker (0), one that skipped itself was (1)."""

from __future__ import annotations

import datetime as dt

from opendata.lifecycle.tasks import PLAN_TASK_ID
from tests.opendata.lifecycle.test_publication_flow import DATASET, run_date

LINE = ["plan", "extract", "validate", "department_approval", "push_private", "await_public_approval", "go_public",
        "shrink_approval", "refresh", "finish"]


def task_instances(run) -> dict:
    return {ti.task_id: ti for ti in run.get_task_instances()}


def started(run) -> list[str]:
    """The tasks a worker ran in this run, in the DAG's order."""
    tis = task_instances(run)
    return [task for task in LINE if tis[task].try_number > 0]


def skipped_by_the_plan(run) -> set[str]:
    """Skipped without ever starting, at the moment the plan ended."""
    tis = task_instances(run)
    plan_ended = tis[PLAN_TASK_ID].end_date
    return {task for task, ti in tis.items()
            if ti.state == "skipped" and ti.try_number == 0 and ti.start_date == ti.end_date <= plan_ended}


def in_order(run) -> bool:
    """Each task that ran started after the one that ran before it ended."""
    tis = task_instances(run)
    ran = [tis[task] for task in started(run)]
    return all(before.end_date <= after.start_date for before, after in zip(ran, ran[1:], strict=False))


def publish(world):
    reviewer = world.review_when_pending(DATASET, "approved")
    run = world.dag(DATASET).test(logical_date=run_date(0))
    reviewer.join(5)
    assert reviewer.failures == []
    return run


def test_a_first_publication_never_starts_the_refresh_tasks(world):
    run = publish(world)
    assert run.state == "success"
    assert skipped_by_the_plan(run) == {"shrink_approval", "refresh"}
    # department_approval starts and skips itself: it records the approval the file holds.
    assert started(run) == ["plan", "extract", "validate", "department_approval", "push_private",
                            "await_public_approval", "go_public", "finish"]
    assert task_instances(run)["department_approval"].state == "skipped"
    assert world.registry().get_state(DATASET).department_approval_source == "dataset file"
    # finish records the run once go_public is done, not as soon as the tasks before it were skipped.
    assert in_order(run)
    assert world.registry().runs(DATASET)[-1].outcome == "success"
    assert world.anonymous_status(world.portal_id(DATASET)) == 200


def test_a_refresh_starts_six_tasks_instead_of_ten(world):
    assert publish(world).state == "success"
    refresh = world.dag(DATASET).test(logical_date=run_date(7))
    assert refresh.state == "success"
    assert skipped_by_the_plan(refresh) == {"department_approval", "push_private", "await_public_approval",
                                            "go_public"}
    # shrink_approval still starts (it counts the rows a refresh would delete) and skips itself.
    assert started(refresh) == ["plan", "extract", "validate", "shrink_approval", "refresh", "finish"]
    assert task_instances(refresh)["shrink_approval"].state == "skipped"
    assert task_instances(refresh)["refresh"].state == "success"
    assert in_order(refresh)
    assert world.registry().runs(DATASET)[-1].kind == "refresh"
    # Every later task read the plan: the plan's return value is there though it ended by skipping.
    assert task_instances(refresh)["finish"].xcom_pull(task_ids=PLAN_TASK_ID)["path"] == "refresh"


def test_a_refresh_that_fails_validation_sends_nothing(world):
    # The tasks between validate and shrink_approval are skipped at once: the refresh must
    # still wait for validate, and not run when it fails.
    assert publish(world).state == "success"
    portal_id = world.portal_id(DATASET)
    world.set_in_dataset(DATASET, "dag.retries", 0)
    world.set_in_dataset(DATASET, "quality.table.row_count", {"min": 5000})
    world.emu.reset_stats()
    refresh = world.dag(DATASET).test(logical_date=run_date(7))
    assert refresh.state == "failed"
    tis = task_instances(refresh)
    assert tis["validate"].state == "failed"
    assert {task: tis[task].state for task in ("shrink_approval", "refresh", "finish")} == {
        "shrink_approval": "upstream_failed", "refresh": "upstream_failed", "finish": "upstream_failed"}
    assert started(refresh) == ["plan", "extract", "validate"]
    assert world.emu.stats()["rows"].get(portal_id, {}).get("received", 0) == 0
    assert world.registry().runs(DATASET)[-1].outcome == "failed"


def test_a_rejected_dataset_runs_only_plan_and_finish(world):
    dataset = "service-requests-311"
    world.registry().record_department_rejection(dataset, by="Alicia Grant", reason="Document the codes",
                                                 at=dt.datetime(2026, 10, 30, tzinfo=dt.UTC))
    run = world.dag(dataset).test(logical_date=run_date(0))
    assert run.state == "success"
    assert started(run) == ["plan", "finish"]
    assert skipped_by_the_plan(run) == set(LINE) - {"plan", "finish"}
    assert in_order(run)
    last = world.registry().runs(dataset)[-1]
    assert last.outcome == "success"
    assert task_instances(run)["finish"].xcom_pull(task_ids="finish")["path"] == "rejected"
    assert world.portal_id(dataset) is None
