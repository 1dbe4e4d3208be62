"""The first task of every dataset run: where does the dataset stand, which path to take."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opendata.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs


class PlanRunOperator(DatasetOperator):
    """Read the portal (the source of truth) and the registry, and decide the run's path.

    Also records the run in the registry and refreshes the stage shown as the DAG's tag.
    A rejected dataset (Step 1 refused by the department, or the Stage 1 review) is not asked
    again nor published: every task of the run skips, naming who rejected it, when and why,
    until the coordinator triggers the DAG with the configuration ``{"resubmit": true}`` after
    fixing it. The run does not fail: a rejection is a decision, and the people concerned were
    told when it was made.
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
        self.log.info("Dataset %s: stage %s, path %s (%s)", self.dataset_id, plan.stage.value, plan.path.value,
                      plan.reason)
        if plan.path is RunPath.RETIRED and state is not None:  # only a recorded dataset is retired
            self.log.info("Retired by %s: %s. Every task of this run skips.", state.retired_by, state.retired_reason)
            show_stage(self.dataset_id, plan.stage)
            return {**plan.as_dict(), "portal_id": state.portal_id}
        registry.start_run(self.dataset_id, context["run_id"],
                           kind="refresh" if plan.path is RunPath.REFRESH else "publication")
        show_stage(self.dataset_id, plan.stage)
        if plan.path is RunPath.REJECTED:
            self.log.warning("%s is not sent on: %s. Every task of this run skips.", self.dataset_id, plan.reason)
        return {**plan.as_dict(), "portal_id": state.portal_id if state else None}
