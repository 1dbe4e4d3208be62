"""The shrink guard's human in the loop: a refresh that would delete more of the published
rows than the dataset file allows (or empty the dataset) waits here, naming the counts, until
department leadership or a coordinator approves it; nothing has touched the portal yet. They
are e-mailed the counts and a link to the task's Required Actions page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from opendata.lifecycle.tasks import APPROVE_OPTION
from opendata.operators.base import DatasetTask, HumanAnswer, ReportedFailure, governance_names
from opendata.portal.config import DEFAULT_CONN_ID
from opendata.spec.markdown import md_text

if TYPE_CHECKING:
    from airflow.sdk import Context


class ShrinkApprovalOperator(DatasetTask, ApprovalOperator):
    ui_color = "#fef7e0"
    # The subject and body hold the dataset's name: never Jinja templates (see DepartmentApprovalOperator).
    template_fields: Sequence[str] = ("socrata_conn_id",)

    def __init__(self, *, dataset_id: str, dataset_name: str, approvers: list[dict[str, str]],
                 socrata_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any):
        from opendata.notify import NotificationEvent
        from opendata.operators.notifier import DatasetNotifier

        super().__init__(
            subject=f"Approve deleting published rows of {md_text(dataset_name)}",
            body="(the counts are filled in when the refresh needs approval)",
            assigned_users=approvers or None,
            # Optional, so that Approve is one click (see DepartmentApprovalOperator's form).
            params={"reason": Param(None, type=["null", "string"], title="Reason (when rejecting)",
                                    description="Why the rows must stay; the refresh stops.")},
            notifiers=[DatasetNotifier(NotificationEvent.SHRINK_APPROVAL_REQUESTED, dataset_id)],
            **kwargs,
        )
        self.dataset_id = dataset_id
        self.dataset_name = dataset_name
        self.socrata_conn_id = socrata_conn_id

    def execute(self, context: Context) -> Any:
        from opendata import storage
        from opendata.lifecycle.columns import ColumnMismatchError, ensure_columns_match
        from opendata.lifecycle.sync import sync_arguments
        from opendata.operators.notifier import DatasetNotifier

        self.skip_unless_planned(context)
        inputs = self.task_inputs(context)
        try:
            # Counted only against the portal's own columns (the refresh checks again before sending).
            ensure_columns_match(inputs.hook, inputs.spec, inputs.portal_id)
        except ColumnMismatchError as exc:
            raise AirflowFailException(str(exc)) from exc
        with storage.scratch():  # the files are downloaded for the count only, then removed
            sync = sync_arguments(inputs.state, inputs.staged).plan(inputs.hook, inputs.spec, inputs.portal_id)
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
            if isinstance(notifier, DatasetNotifier):
                notifier.details = {**notifier.details, "shrink_problem": sync.shrink_problem, "rows": counts}
                notifier.inputs = inputs  # the files this task read: not read again
        self.log.info("Waiting for approval: %s", sync.shrink_problem)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        result = HITLOperator.execute_complete(self, context, event)
        answer = HumanAnswer.from_result(result, APPROVE_OPTION, governance_names(self.task_inputs(context)))
        if not answer.approved:
            raise ReportedFailure(f"refresh stopped by {answer.by}: {answer.reason}")
        self.log.info("Deleting beyond the limit approved by %s", answer.by)
        return result
