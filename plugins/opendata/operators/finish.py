"""The last task of a dataset run: record its outcome; and the failure hook every task has."""

from __future__ import annotations

from airflow.sdk import BaseNotifier

from opendata.operators.base import DatasetOperator, ReportedFailure


class FinishRunOperator(DatasetOperator):
    ui_color = "#f1f3f4"

    def execute(self, context) -> dict:
        from opendata.lifecycle.plan import RunPath
        from opendata.registry import Registry

        plan = self.plan(context)
        registry = Registry.from_settings()
        registry.update_run(self.dataset_id, context["run_id"], outcome="success")
        state = registry.get_state(self.dataset_id)
        if plan.path is RunPath.REJECTED:  # a decision, not a failure: the run ends here, nothing sent
            self.log.info("Nothing was sent to the portal: %s", plan.reason)
        self.log.info("Run recorded: %s is %s", self.dataset_id, state.stage.value if state else "not-ready")
        return {"stage": state.stage.value if state else None, "portal_id": state.portal_id if state else None,
                "path": plan.path.value}


class RunFailureHandler(BaseNotifier):
    """on_failure_callback of every dataset task: records the failed run in the registry and
    tells the coordinator and steward, unless the failure was already announced (a rejection)."""

    template_fields = ("dataset_id",)

    def __init__(self, dataset_id: str):
        super().__init__()
        self.dataset_id = dataset_id

    def notify(self, context) -> None:
        from opendata.notify import NotificationEvent, OpenDataNotifier
        from opendata.registry import Registry

        exception = context.get("exception")
        message = str(exception).strip().splitlines()[0] if exception else "unknown error"
        try:
            Registry.from_settings().update_run(self.dataset_id, context["run_id"], outcome="failed",
                                                error=f"{context['ti'].task_id}: {message}"[:2000])
        except Exception:  # the registry itself may be what failed; still send the e-mail
            self.log.exception("Could not record the failed run of %s", self.dataset_id)
        if not isinstance(exception, ReportedFailure):
            OpenDataNotifier(event=NotificationEvent.REFRESH_FAILED, dataset_id=self.dataset_id,
                             details={"run_kind": run_kind(context)}).notify(context)


def run_kind(context) -> str | None:
    """What the failed run was doing, from its plan: ``refresh`` (a public dataset's routine
    refresh) or ``publication`` (Step 1 to Stage 2); None when the plan was not made (the
    ``plan`` task itself failed), so the e-mail does not guess."""
    from opendata.lifecycle.plan import RunPath
    from opendata.lifecycle.runtime import PLAN_TASK_ID

    try:
        data = context["ti"].xcom_pull(task_ids=PLAN_TASK_ID)
        path = RunPath(data["path"]) if data else None
    except Exception:  # noqa: BLE001 - the failure e-mail goes out whatever the plan's state
        return None
    if path is None:
        return None
    return "refresh" if path is RunPath.REFRESH else "publication"
