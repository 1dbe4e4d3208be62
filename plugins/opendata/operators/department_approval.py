"""Step 1 of the playbook: department leadership approves the dataset leaving the department.

A human-in-the-loop task (Airflow 3's HITL ApprovalOperator) assigned to the department's
leadership from the governance file, showing the checklist, the validation summary, each
validation warning and a link to the full report. Approving is one click (the comment is
optional); rejecting records the reason and ends the run without failing it (a decision, not
a crash). An approval already recorded in the dataset file, or given in an earlier run, skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowSkipException

from opendata.lifecycle.tasks import APPROVE_OPTION, VALIDATE_TASK_ID
from opendata.operators.base import DatasetTask, HumanAnswer, governance_names
from opendata.portal.config import DEFAULT_CONN_ID
from opendata.spec.markdown import md_text

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.spec.governance import Governance


def step1_subject(dataset_name: str) -> str:
    return f"Step 1: approve {md_text(dataset_name)} for publication"


#: How many warnings the form and the CDO's e-mail name one by one (the validate task's XCom
#: keeps no more than this; the checklist report has them all).
WARNINGS_SHOWN = 20

#: The form's one text field: optional to approve, the reason to reject.
COMMENT = "comment"


def step1_body(*, department_name: str, dataset_name: str, checklist: str, validation_summary: str,
               warnings: list[str] | None = None, warnings_total: int | None = None,
               report_url: str | None = None) -> str:
    """The form's text (Markdown, rendered by the Airflow UI). Names, the validation summary and
    each warning are escaped here; ``checklist`` is :func:`checklist_markdown`'s, escaped
    already; ``report_url`` is the pipeline's own link into the Airflow UI."""
    lines = [
        f"**{md_text(department_name)}** asks for Step 1 approval to publish **{md_text(dataset_name)}**: it will "
        "be pushed privately to the open data portal for the Chief Data Officer's review (Stage 1).",
        "",
        f"**Validation:** {md_text(validation_summary)}",
        "",
    ]
    lines += warning_lines(warnings or [], warnings_total)
    if report_url:
        lines += [f"The full Data Submission Checklist report: [the validate task in Airflow]({report_url}) "
                  "(its log shows the report).", ""]
    lines += [
        "Approve to send it on: one click, the comment is optional. To reject, write in the comment what the "
        "coordinator and steward must fix; they are e-mailed it, and this run stops without publishing.",
        "",
        checklist,
    ]
    return "\n".join(lines)


def warning_lines(warnings: list[str], total: int | None) -> list[str]:
    """The warnings as a Markdown list (each escaped), with how many more the report holds."""
    if not warnings:
        return []
    total = max(total or 0, len(warnings))
    lines = [f"Warnings ({total}):", ""] + [f"- {md_text(text)}" for text in warnings]
    if total > len(warnings):
        lines.append(f"- and {total - len(warnings)} more (see the report)")
    return lines + [""]


class DepartmentApprovalOperator(DatasetTask, ApprovalOperator):
    ui_color = "#fef7e0"
    # Subject and body hold the dataset file's text: they are never Jinja templates (a
    # description holding "{{ conn.socrata_default.password }}" would be evaluated). The one
    # parts known only at run time (the validation summary, its warnings, the report's link)
    # are filled in by execute().
    template_fields: Sequence[str] = ("socrata_conn_id",)

    def __init__(self, *, dataset_id: str, dataset_name: str, department_name: str, checklist: str,
                 leadership: list[dict[str, str]], socrata_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any):
        from opendata.notify import NotificationEvent
        from opendata.operators.notifier import DatasetNotifier

        super().__init__(
            subject=step1_subject(dataset_name),
            body=step1_body(department_name=department_name, dataset_name=dataset_name, checklist=checklist,
                            validation_summary="not available yet"),
            assigned_users=leadership or None,
            # One optional field. Airflow 3.3.2's form marks every field whose type does not
            # admit null as required and an empty text as missing (a "string" field with default
            # "" kept Approve disabled until something was typed), and HITLOperator refuses a
            # response naming only some of several fields (an empty one is left out). So: one
            # field, null allowed, no default. A reason is needed only to reject; see
            # execute_complete for a rejection without one. (The dataset DAG has no DAG-level
            # params on purpose: in Airflow 3.3.2 they reach the resumed HITL task's params and
            # fail its form validation.)
            params={COMMENT: Param(None, type=["null", "string"],
                                   title="Comment (optional to approve; to reject, say what to fix)",
                                   description="Approving needs no comment. When rejecting, tell the coordinator "
                                               "and steward what to fix: they are e-mailed it.")},
            notifiers=[DatasetNotifier(NotificationEvent.DEPARTMENT_APPROVAL_REQUESTED, dataset_id)],
            **kwargs,
        )
        self.dataset_id = dataset_id
        self.dataset_name = dataset_name
        self.department_name = department_name
        self.checklist = checklist
        self.socrata_conn_id = socrata_conn_id

    def execute(self, context: Context) -> Any:
        from opendata.operators.notifier import DatasetNotifier

        self.skip_unless_planned(context)
        inputs = self.task_inputs(context)
        registry = inputs.registry
        recorded = inputs.spec.publication.department_approval
        if recorded is not None:
            # The file names a governance person by key; the registry records people by name,
            # as it does for an answer given in Airflow.
            by = _person_name(recorded.approved_by, inputs.loaded_governance)
            state = inputs.state
            if state is None or state.department_approved_by != by:
                import datetime as dt

                registry.record_department_approval(
                    self.dataset_id, by=by, source="dataset file", run_id=context["run_id"],
                    at=dt.datetime.combine(recorded.approved_at, dt.time(), tzinfo=dt.UTC))
            raise AirflowSkipException(f"Step 1 approval recorded in the dataset file: {by} "
                                       f"on {recorded.approved_at}")
        state = inputs.state
        if state is not None and state.department_approved_by:
            raise AirflowSkipException(f"Step 1 already approved by {state.department_approved_by} "
                                       f"on {state.department_approved_at:%Y-%m-%d}")
        validation = inputs.xcom(VALIDATE_TASK_ID) or {}
        self.body = step1_body(department_name=self.department_name, dataset_name=self.dataset_name,
                               checklist=self.checklist,
                               validation_summary=str(validation.get("summary") or "not available"),
                               warnings=[str(w) for w in validation.get("warnings") or []][:WARNINGS_SHOWN],
                               warnings_total=validation.get("warnings_total"),
                               report_url=airflow_task_url(context, VALIDATE_TASK_ID))
        for notifier in self.notifiers:
            if isinstance(notifier, DatasetNotifier):
                notifier.inputs = inputs  # the files this task read: not read again
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from opendata.lifecycle.step1 import (
            NO_REASON,
            STEP1_REJECTION_KEY,
            record_approval,
            record_rejection,
            rejection_text,
        )
        from opendata.notify import NotificationEvent, notify

        # HITLOperator's handling only: ApprovalOperator would skip only the next task on reject,
        # and the tasks after it (trigger rule none_failed) would then run.
        result = HITLOperator.execute_complete(self, context, event)
        inputs = self.task_inputs(context)
        answer = HumanAnswer.from_result(result, APPROVE_OPTION, governance_names(inputs))
        registry = inputs.registry
        if answer.approved:
            record_approval(registry, self.dataset_id, by=answer.by, at=answer.at, run_id=context["run_id"])
            self.log.info("Step 1 approved by %s%s", answer.by,
                          f", with the comment: {answer.comment}" if answer.comment else "")
            return result

        # Rejected: a decision, not a failure. The task succeeds; the registry and the DAG's tag
        # say "rejected" with the reason; the coordinator and steward are e-mailed it; the rest
        # of the run skips itself naming who refused and why (opendata.lifecycle.runtime.plan_of_run).
        # Without a reason the rejection still stands (it is leadership's call, and sending the
        # form back would leave the dataset waiting on a button nobody may press again): it is
        # recorded as "no reason was given in the form" and the e-mail says to ask them what to fix.
        record_rejection(registry, self.dataset_id, by=answer.by, at=answer.at, reason=answer.comment,
                         run_id=context["run_id"])
        why = rejection_text(answer.by, answer.at, answer.comment)
        context["ti"].xcom_push(key=STEP1_REJECTION_KEY, value=why)
        try:
            notify(NotificationEvent.DEPARTMENT_REJECTED, inputs.spec, inputs.governance, context, reviewer=answer.by,
                   notes=answer.comment, reason_missing=answer.comment is None, reviewed_at=answer.at)
        except Exception:  # noqa: BLE001 - the rejection is recorded and stops the run either way
            self.log.exception("Could not e-mail the Step 1 rejection of %s", self.dataset_id)
        if answer.comment is None:
            self.log.warning("%s rejected Step 1 without a reason (recorded as \"%s\")", answer.by, NO_REASON)
        self.log.info("%s. Nothing goes to the portal; the rest of this run skips. Fix it, then trigger the DAG "
                      "with the configuration {\"resubmit\": true} to ask the department again.", why)
        return result


def airflow_task_url(context: Context, task_id: str) -> str | None:
    """The page of this run's ``task_id`` in the Airflow UI (its log), from ``[api] base_url``."""
    from opendata.lifecycle.runtime import airflow_task_url as url

    ti = context.get("ti")
    return url(ti.dag_id, ti.run_id, task_id) if ti is not None else None


def _person_name(key: str, governance: Governance | None) -> str:
    """The governance person's name for their key (the key itself if the file cannot be read)."""
    person = governance.people.get(key) if governance is not None else None
    return person.name if person is not None else key
