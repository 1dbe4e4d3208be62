"""What every dataset task shares: its dataset id, and skipping itself when the run's plan
gives it nothing to do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException


class ReportedFailure(AirflowFailException):
    """A failure the people concerned were already told about (a rejection, a timeout):
    the generic "run failed" e-mail is not sent for it."""


class DatasetOperator(BaseOperator):
    template_fields = ("dataset_id",)

    def __init__(self, *, dataset_id: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.dataset_id = dataset_id

    def plan(self, context):
        from opendata.lifecycle.runtime import plan_of_run

        return plan_of_run(context)

    def skip_unless_planned(self, context):
        """Return the run's plan, or skip this task when the plan does not involve it."""
        plan = self.plan(context)
        if not plan.acts(self.task_id):
            raise AirflowSkipException(f"nothing to do on the {plan.path.value} path ({plan.reason})")
        return plan


@dataclass(frozen=True)
class HumanAnswer:
    """A person's answer to one of the dataset DAG's approval (human-in-the-loop) tasks."""

    approved: bool
    by: str
    at: dt.datetime
    #: The reason typed in the form when rejecting ("no reason given" when left empty).
    reason: str

    @classmethod
    def from_result(cls, result: dict[str, Any], approve_option: str) -> HumanAnswer:
        """From what ``HITLOperator.execute_complete`` returns."""
        user = result["responded_by_user"] or {}
        return cls(approved=result["chosen_options"][0] == approve_option,
                   by=user.get("name") or user.get("id") or "unknown", at=result["responded_at"],
                   reason=(result["params_input"] or {}).get("reason") or "no reason given")
