"""The last task of a dataset run: record its outcome; and the failure hook every task has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from opendata.operators.base import DatasetOperator, ReportedFailure

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs


class FinishRunOperator(DatasetOperator):
    ui_color = "#f1f3f4"

    def run(self, inputs: TaskInputs, context: Context) -> dict[str, Any]:
        from opendata.lifecycle.plan import RunPath

        plan = self.plan(context)
        registry = inputs.registry
        registry.update_run(self.dataset_id, context["run_id"], outcome="success")
        state = inputs.state  # read after this run's last write
        if plan.path is RunPath.REJECTED:  # a decision, not a failure: the run ends here, nothing sent
            self.log.info("Nothing was sent to the portal: %s", plan.reason)
        self.log.info("Run recorded: %s is %s", self.dataset_id, state.stage.value if state else "not-ready")
        return {"stage": state.stage.value if state else None, "portal_id": state.portal_id if state else None,
                "path": plan.path.value}


class RunFailureHandler(BaseNotifier):
    """on_failure_callback of every dataset task: records the failed run in the registry and
    tells the coordinator and steward, unless the failure was already announced (a rejection)."""

    template_fields: Sequence[str] = ("dataset_id",)

    def __init__(self, dataset_id: str):
        super().__init__()
        self.dataset_id = dataset_id

    def notify(self, context: Context | Mapping[str, Any]) -> None:
        from opendata.notify import NotificationEvent
        from opendata.operators.notifier import DatasetNotifier
        from opendata.registry import Registry

        exception = context.get("exception")
        message = str(exception).strip().splitlines()[0] if exception else "unknown error"
        try:
            Registry.from_settings().update_run(self.dataset_id, context["run_id"], outcome="failed",
                                                error=f"{context['ti'].task_id}: {message}"[:2000])
        except Exception:  # the registry itself may be what failed; still send the e-mail
            self.log.exception("Could not record the failed run of %s", self.dataset_id)
        if not isinstance(exception, ReportedFailure):
            DatasetNotifier(NotificationEvent.REFRESH_FAILED, self.dataset_id,
                            details={"run_kind": run_kind(context)}).notify(context)


def run_kind(context: Context | Mapping[str, Any]) -> str | None:
    """What the failed run was doing, from its plan: ``refresh`` (a public dataset's routine
    refresh) or ``publication`` (Step 1 to Stage 2); None when the plan was not made (the
    ``plan`` task itself failed), so the e-mail does not guess."""
    from opendata.lifecycle.plan import RunPath
    from opendata.lifecycle.tasks import PLAN_TASK_ID

    try:
        data = context["ti"].xcom_pull(task_ids=PLAN_TASK_ID)
        path = RunPath(data["path"]) if data else None
    except Exception:  # noqa: BLE001 - the failure e-mail goes out whatever the plan's state
        return None
    if path is None:
        return None
    return "refresh" if path is RunPath.REFRESH else "publication"
