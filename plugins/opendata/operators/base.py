"""What every dataset task shares: its dataset id, and skipping itself when the run's plan
gives it nothing to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
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


#: Airflow's SimpleAuthManager in "all admins" mode (no sign-in) answers as this user.
ANONYMOUS_USER = "Anonymous"
#: What the records say of that user: never a made-up name.
ANONYMOUS_RESPONDER = "an anonymous Airflow user (the Airflow deployment has no sign-in)"


def responder_name(user: Mapping[str, Any] | None, people: Mapping[str, str] | None = None) -> str:
    """Who answered a human-in-the-loop form, as the records and e-mails name them.

    ``people`` maps Airflow user ids to real names (the governance file's people: their key or
    ``airflow_user``). Airflow's SimpleAuthManager gives id == name == the user name, so a user
    signed in as ``alicia-grant`` is recorded as "Alicia Grant". Other users keep the name their
    auth manager gives. The anonymous admin of a deployment without sign-in is said to be
    anonymous, not recorded as a person called "Anonymous"."""
    user = user or {}
    user_id = str(user.get("id") or "").strip()
    name = str(user.get("name") or "").strip()
    if people and user_id in people:
        return people[user_id]
    if user_id == ANONYMOUS_USER and name in ("", ANONYMOUS_USER):
        return ANONYMOUS_RESPONDER
    return name or user_id or "an unidentified Airflow user (the response carried no user)"


def governance_names() -> dict[str, str]:
    """Airflow user id -> real name for every person of the governance file ({} if unreadable:
    the raw Airflow name is recorded then, which still says who it was)."""
    from opendata import settings
    from opendata.spec.loader import load_governance

    try:
        governance, _ = load_governance(settings.governance_file())
    except Exception:  # noqa: BLE001 - naming must never lose the answer itself
        return {}
    if governance is None:
        return {}
    return {(person.airflow_user or key): person.name for key, person in governance.people.items()}


@dataclass(frozen=True)
class HumanAnswer:
    """A person's answer to one of the dataset DAG's approval (human-in-the-loop) tasks."""

    approved: bool
    #: The person's name (see :func:`responder_name`).
    by: str
    at: dt.datetime
    #: What they typed in the form's text field, stripped; None when they left it empty.
    comment: str | None = None

    @property
    def reason(self) -> str:
        """The comment, or words saying there was none (never an empty reason)."""
        return self.comment or "no reason given"

    @classmethod
    def from_result(cls, result: dict[str, Any], approve_option: str,
                    people: Mapping[str, str] | None = None) -> HumanAnswer:
        """From what ``HITLOperator.execute_complete`` returns. The text field is ``comment``
        (Step 1) or ``reason`` (the shrink guard)."""
        params = result.get("params_input") or {}
        typed = params.get("comment") if params.get("comment") is not None else params.get("reason")
        comment = str(typed).strip() if typed is not None else ""
        return cls(approved=result["chosen_options"][0] == approve_option,
                   by=responder_name(result.get("responded_by_user"), people), at=result["responded_at"],
                   comment=comment or None)
