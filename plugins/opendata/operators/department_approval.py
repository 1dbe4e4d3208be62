"""Step 1 of the playbook: department leadership approves the dataset leaving the department.

A human-in-the-loop task (Airflow 3's HITL ApprovalOperator) assigned to the department's
leadership from the governance file, showing the checklist and the validation summary. An
approval already recorded in the dataset file, or given in an earlier run, skips it.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowSkipException

from opendata.lifecycle.markdown import md_text
from opendata.operators.base import HumanAnswer, ReportedFailure


def step1_subject(dataset_name: str) -> str:
    return f"Step 1: approve {md_text(dataset_name)} for publication"


def step1_body(*, department_name: str, dataset_name: str, checklist: str, validation_summary: str) -> str:
    """The form's text (Markdown, rendered by the Airflow UI). Names and the validation summary
    are escaped here; ``checklist`` is :func:`checklist_markdown`'s, escaped already."""
    return "\n".join([
        f"**{md_text(department_name)}** asks for Step 1 approval to publish **{md_text(dataset_name)}**: it will "
        "be pushed privately to the open data portal for the Chief Data Officer's review (Stage 1).",
        "",
        f"**Validation:** {md_text(validation_summary)}",
        "",
        "Approve to send it on; reject with a reason to stop this run.",
        "",
        checklist,
    ])


class DepartmentApprovalOperator(ApprovalOperator):
    ui_color = "#fef7e0"
    # Subject and body hold the dataset file's text: they are never Jinja templates (a
    # description holding "{{ conn.socrata_default.password }}" would be evaluated). The one
    # part known only at run time, the validation summary, is filled in by execute().
    template_fields = ()

    def __init__(self, *, dataset_id: str, dataset_name: str, department_name: str, checklist: str,
                 leadership: list[dict[str, str]], **kwargs: Any):
        from opendata.notify import NotificationEvent, OpenDataNotifier

        super().__init__(
            subject=step1_subject(dataset_name),
            body=step1_body(department_name=department_name, dataset_name=dataset_name, checklist=checklist,
                            validation_summary="not available yet"),
            assigned_users=leadership or None,
            # The dataset DAG has no DAG-level params on purpose: in Airflow 3.3.2 they reach the
            # resumed HITL task's params and fail its form validation.
            params={"reason": Param("", type="string", title="Reason (when rejecting)",
                                    description="Tell the coordinator and steward what to fix.")},
            notifiers=[OpenDataNotifier(event=NotificationEvent.DEPARTMENT_APPROVAL_REQUESTED,
                                        dataset_id=dataset_id)],
            **kwargs,
        )
        self.dataset_id = dataset_id
        self.dataset_name = dataset_name
        self.department_name = department_name
        self.checklist = checklist

    def execute(self, context):
        from opendata.lifecycle.context import load_spec
        from opendata.lifecycle.runtime import plan_of_run
        from opendata.registry import Registry

        plan = plan_of_run(context)
        if not plan.acts(self.task_id):
            raise AirflowSkipException(f"nothing to do on the {plan.path.value} path ({plan.reason})")
        registry = Registry.from_settings(dataset_id=self.dataset_id)
        recorded = load_spec(self.dataset_id).publication.department_approval
        if recorded is not None:
            state = registry.get_state(self.dataset_id)
            if state is None or state.department_approved_by != recorded.approved_by:
                import datetime as dt

                registry.record_department_approval(
                    self.dataset_id, by=recorded.approved_by, source="dataset file", run_id=context["run_id"],
                    at=dt.datetime.combine(recorded.approved_at, dt.time(), tzinfo=dt.UTC))
            raise AirflowSkipException(f"Step 1 approval recorded in the dataset file: {recorded.approved_by} "
                                       f"on {recorded.approved_at}")
        state = registry.get_state(self.dataset_id)
        if state is not None and state.department_approved_by:
            raise AirflowSkipException(f"Step 1 already approved by {state.department_approved_by} "
                                       f"on {state.department_approved_at:%Y-%m-%d}")
        validation = context["ti"].xcom_pull(task_ids="validate") or {}
        self.body = step1_body(department_name=self.department_name, dataset_name=self.dataset_name,
                               checklist=self.checklist,
                               validation_summary=str(validation.get("summary") or "not available"))
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]):
        from opendata.registry import Registry

        # HITLOperator's handling only: ApprovalOperator would merely skip downstream on reject.
        result = HITLOperator.execute_complete(self, context, event)
        answer = HumanAnswer.from_result(result, self.APPROVE)
        if not answer.approved:
            from opendata.notify import NotificationEvent, notify

            Registry.from_settings().record_department_rejection(
                self.dataset_id, by=answer.by, at=answer.at, reason=answer.reason, run_id=context["run_id"])
            # The coordinator and steward fix it; they hear the reason now, not from a failed-run e-mail.
            try:
                notify(NotificationEvent.DEPARTMENT_REJECTED, self.dataset_id, context=context, reviewer=answer.by,
                       notes=answer.reason, reviewed_at=answer.at)
            except Exception:  # noqa: BLE001 - the rejection is recorded and stops the run either way
                self.log.exception("Could not e-mail the Step 1 rejection of %s", self.dataset_id)
            raise ReportedFailure(f"Step 1 rejected by {answer.by}: {answer.reason}. Fix it, then trigger the DAG "
                                  f"with the configuration {{\"resubmit\": true}} to ask the department again.")
        Registry.from_settings().record_department_approval(
            self.dataset_id, by=answer.by, at=answer.at, source="airflow", run_id=context["run_id"])
        self.log.info("Step 1 approved by %s", answer.by)
        return result
