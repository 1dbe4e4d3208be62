"""The first task of every dataset run: where does the dataset stand, which path to take."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opendata.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs
    from opendata.lifecycle.plan import RunPath


class PlanRunOperator(DatasetOperator):
    """Read the portal (the source of truth) and the registry, and decide the run's path.

    Also records the run in the registry and refreshes the stage shown as the DAG's tag.
    A rejected dataset (Step 1 refused by the department, or the Stage 1 review) is not asked
    again nor published: every task of the run skips, naming who rejected it, when and why,
    until the coordinator triggers the DAG with the configuration ``{"resubmit": true}`` after
    fixing it. The run does not fail: a rejection is a decision, and the people concerned were
    told when it was made.

    As it ends, it has the scheduler skip every task that certainly has nothing to do on the
    run's path (``opendata.lifecycle.preskip``): those never take a worker.
    """

    ui_color = "#f3e8fd"

    def run(self, inputs: TaskInputs, context: Context) -> dict[str, Any]:
        from opendata.lifecycle.plan import RunPath
        from opendata.lifecycle.runtime import current_plan, show_stage

        # Triggered with the run configuration {"resubmit": true} after a rejection was fixed.
        resubmit = bool((context["dag_run"].conf or {}).get("resubmit", False))
        # The registry is read first: if it cannot be reached, the run fails here with an error
        # naming the dataset, the registry and where it is configured (RegistryUnavailable).
        registry = inputs.registry
        plan, state = current_plan(inputs.hook, registry, self.dataset_id, resubmit=resubmit)
        if plan.path is RunPath.FIRST_PUBLICATION and (state is None or state.portal_id is None):
            # Only before a first publication is the file read here: a dataset taken over from the
            # portal (its file links its page there) is never created, even without a registry row.
            from airflow.sdk.exceptions import AirflowFailException

            from opendata.lifecycle.creation import creation_refusal

            refusal = creation_refusal(inputs.spec, state, inputs.hook.base_url)
            if refusal:
                raise AirflowFailException(refusal)
        self.log.info("Dataset %s: stage %s, path %s (%s)", self.dataset_id, plan.stage.value, plan.path.value,
                      plan.reason)
        if plan.path is RunPath.RETIRED and state is not None:  # only a recorded dataset is retired
            self.log.info("Retired by %s: %s. Every task of this run skips.", state.retired_by, state.retired_reason)
            show_stage(self.dataset_id, plan.stage)
            return self._hand_over(context, plan.path, {**plan.as_dict(), "portal_id": state.portal_id})
        registry.start_run(self.dataset_id, context["run_id"],
                           kind="refresh" if plan.path is RunPath.REFRESH else "publication")
        show_stage(self.dataset_id, plan.stage)
        if plan.path is RunPath.REJECTED:
            self.log.warning("%s is not sent on: %s. Every task of this run skips.", self.dataset_id, plan.reason)
        return self._hand_over(context, plan.path, {**plan.as_dict(), "portal_id": state.portal_id if state else None})

    def _hand_over(self, context: Context, path: RunPath, result: dict[str, Any]) -> dict[str, Any]:
        """Return the plan, having the scheduler skip at once this run's tasks that the path
        leaves nothing to do. Only tasks that have not started in this run are skipped: a plan
        task cleared on its own, or retried, leaves alone what the run's other tasks did."""
        from airflow.sdk.bases.xcom import BaseXCom
        from airflow.sdk.exceptions import DownstreamTasksSkipped

        from opendata.lifecycle.preskip import skipped_by_plan

        off_path = sorted(skipped_by_plan(path) & self.get_flat_relative_ids(upstream=False))
        if not off_path:
            return result
        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=off_path, run_ids=[ti.run_id]).get(ti.run_id, {})
        not_started = [task for task in off_path if task in states and states[task] is None]
        if not not_started:
            return result
        self.log.info("Nothing to do on the %s path: skipping %s at once", path.value, ", ".join(not_started))
        # Airflow pushes no return value for a task that ends by skipping others: pushed here,
        # since every later task reads the plan from it.
        ti.xcom_push(key=BaseXCom.XCOM_RETURN_KEY, value=result)
        raise DownstreamTasksSkipped(tasks=not_started)
