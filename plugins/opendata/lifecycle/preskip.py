"""Which tasks a run's plan skips at once, and the edges that keep what is left in order.

On CeleryExecutor every task instance costs a worker a process start, even one that only skips
itself, so the ``plan`` task hands the scheduler, as it ends, every task that certainly has
nothing to do on the run's path (Airflow sets them to skipped without starting them). A task
certainly has nothing to do when the plan's path is not among its :data:`TASK_PATHS`: that is
the check each task makes first (``DatasetTask.skip_unless_planned``), and it keeps making it.
The tasks' other skips depend on what happens later in the run (a Step 1 approval recorded in
the dataset file, a refused Step 1, a refresh within the shrink limit), so they are not taken
early; ``plan`` and ``finish`` are never skipped (``finish`` records the run's outcome).

The DAG is one line and its trigger rules look at direct upstream tasks only: with the tasks
between validate and shrink_approval skipped at once, shrink_approval's only upstream is done,
so it would start beside extract and run whatever validate says. :func:`order_edges` gives the
DAG a direct edge between each two tasks that follow each other on some path once the skipped
ones are left out, so every task that may run still waits for, and fails with, the one before.
Pure: no Airflow, no I/O.
"""

from __future__ import annotations

from opendata.lifecycle.plan import TASK_PATHS, RunPath
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

#: The dataset DAG's tasks in the order of its line (``plan >> extract >> ... >> finish``).
DAG_LINE: tuple[str, ...] = (PLAN_TASK_ID, EXTRACT_TASK_ID, VALIDATE_TASK_ID, STEP1_TASK_ID, PUSH_PRIVATE_TASK_ID,
                             AWAIT_APPROVAL_TASK_ID, GO_PUBLIC_TASK_ID, SHRINK_APPROVAL_TASK_ID, REFRESH_TASK_ID,
                             FINISH_TASK_ID)


def skipped_by_plan(path: RunPath) -> frozenset[str]:
    """The tasks that certainly have nothing to do on ``path``: ``plan`` skips them as it ends."""
    return frozenset(task for task, paths in TASK_PATHS.items() if path not in paths)


def may_run(path: RunPath) -> tuple[str, ...]:
    """The tasks of ``path`` that are not skipped at once, in the line's order."""
    skipped = skipped_by_plan(path)
    return tuple(task for task in DAG_LINE if task not in skipped)


def order_edges() -> frozenset[tuple[str, str]]:
    """The (upstream, downstream) edges the DAG needs besides its line: on every path, each task
    that may run directly follows the one that may run before it."""
    line = set(zip(DAG_LINE, DAG_LINE[1:], strict=False))
    needed = {pair for path in RunPath for pair in zip(may_run(path), may_run(path)[1:], strict=False)}
    return frozenset(needed - line)
