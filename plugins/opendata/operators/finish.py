"""The last task of a dataset run: record its outcome; and the failure hook every task has."""

from __future__ import annotations

from airflow.sdk import BaseNotifier

from opendata.operators.base import DatasetOperator, ReportedFailure


class FinishRunOperator(DatasetOperator):
    ui_color = "#f1f3f4"

    def execute(self, context) -> dict:
        from opendata.registry import Registry

        registry = Registry.from_settings()
        registry.update_run(self.dataset_id, context["run_id"], outcome="success")
        state = registry.get_state(self.dataset_id)
        self.log.info("Run recorded: %s is %s", self.dataset_id, state.stage.value if state else "not-ready")
        return {"stage": state.stage.value if state else None, "portal_id": state.portal_id if state else None}


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
            OpenDataNotifier(event=NotificationEvent.REFRESH_FAILED, dataset_id=self.dataset_id).notify(context)
