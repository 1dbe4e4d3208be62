"""The shrink guard's human in the loop: a refresh that would delete more of the published
rows than the dataset file allows (or empty the dataset) waits here, naming the counts, until
department leadership or a coordinator approves it; nothing has touched the portal yet. They
are e-mailed the counts and a link to the task's Required Actions page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowSkipException

from opendata.operators.base import HumanAnswer, ReportedFailure, governance_names
from opendata.spec.markdown import md_text


class ShrinkApprovalOperator(ApprovalOperator):
    ui_color = "#fef7e0"
    # The subject and body hold the dataset's name: never Jinja templates (see DepartmentApprovalOperator).
    template_fields = ()

    def __init__(self, *, dataset_id: str, dataset_name: str, approvers: list[dict[str, str]], **kwargs: Any):
        from opendata.notify import NotificationEvent, OpenDataNotifier

        super().__init__(
            subject=f"Approve deleting published rows of {md_text(dataset_name)}",
            body="(the counts are filled in when the refresh needs approval)",
            assigned_users=approvers or None,
            # Optional, so that Approve is one click (see DepartmentApprovalOperator's form).
            params={"reason": Param(None, type=["null", "string"], title="Reason (when rejecting)",
                                    description="Why the rows must stay; the refresh stops.")},
            notifiers=[OpenDataNotifier(event=NotificationEvent.SHRINK_APPROVAL_REQUESTED, dataset_id=dataset_id)],
            **kwargs,
        )
        self.dataset_id = dataset_id
        self.dataset_name = dataset_name

    def execute(self, context):
        from opendata.lifecycle.context import load_spec
        from opendata.lifecycle.runtime import plan_of_run, portal_hook
        from opendata.lifecycle.sync import plan_sync
        from opendata.registry import Registry

        plan = plan_of_run(context)
        if not plan.acts(self.task_id):
            raise AirflowSkipException(f"nothing to do on the {plan.path.value} path ({plan.reason})")
        spec = load_spec(self.dataset_id)
        state = Registry.from_settings().get_state(self.dataset_id)
        staged = context["ti"].xcom_pull(task_ids="extract")
        sync = plan_sync(portal_hook(), spec, state.portal_id, Path(staged["path"]),
                         previous_fingerprint=Path(state.fingerprint_path) if state.fingerprint_path else None,
                         published_rows=state.published_rows, published_checksum=state.published_checksum,
                         staged_checksum=staged["checksum"], incremental=staged.get("since") is not None)
        if not sync.shrink_problem:
            raise AirflowSkipException(f"within the file's limit: {sync.deleted:,} of {sync.published:,} "
                                       f"published rows to delete")
        self.body = "\n".join([
            f"The scheduled refresh of **{md_text(self.dataset_name)}** stopped before touching the portal: "
            f"{md_text(sync.shrink_problem)}.",
            "",
            f"- rows in the new extract: {sync.rows_in_extract:,}",
            f"- published rows: {sync.published:,}",
            f"- rows that would be deleted from the public dataset: {sync.deleted:,}",
            f"- new or changed rows: {sync.changed:,}",
            "",
            "Approve if the source really lost these rows (the published data is archived either way); "
            "reject with a reason to stop this refresh and keep the public dataset as it is.",
        ])
        counts = {"in_the_new_extract": sync.rows_in_extract, "published": sync.published,
                  "to_delete": sync.deleted, "new_or_changed": sync.changed}
        for notifier in self.notifiers:  # the e-mail names what the task's page names
            notifier.details = {**getattr(notifier, "details", {}), "shrink_problem": sync.shrink_problem,
                                "rows": counts}
        self.log.info("Waiting for approval: %s", sync.shrink_problem)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]):
        result = HITLOperator.execute_complete(self, context, event)
        answer = HumanAnswer.from_result(result, self.APPROVE, governance_names())
        if not answer.approved:
            raise ReportedFailure(f"refresh stopped by {answer.by}: {answer.reason}")
        self.log.info("Deleting beyond the limit approved by %s", answer.by)
        return result
