"""What every dataset task shares: its dataset id and portal connection, its inputs read once
(:class:`opendata.lifecycle.inputs.TaskInputs`), and skipping itself when the run's plan gives
it nothing to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from opendata.portal.config import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs
    from opendata.lifecycle.plan import RunPlan
    from opendata.spec.governance import Governance


class ReportedFailure(AirflowFailException):
    """A failure the people concerned were already told about (a rejection, a timeout):
    the generic "run failed" e-mail is not sent for it."""


class DatasetTask:
    """Mixed into every task of a dataset DAG (operators, the HITL approvals, the sensor): the
    dataset id, the portal's Airflow connection, and the task's inputs, built once per task
    execution and handed to the library functions."""

    #: Set by the operator's constructor (``task_id`` by Airflow's).
    task_id: str
    dataset_id: str
    socrata_conn_id: str

    def task_inputs(self, context: Context) -> TaskInputs:
        """This execution's inputs: each file, the registry and the hook read or built when
        first used, then kept (build it once per execution and pass it on)."""
        from opendata.lifecycle.inputs import TaskInputs

        return TaskInputs.of(self.dataset_id, context, self.socrata_conn_id)

    def plan(self, context: Context) -> RunPlan:
        from opendata.lifecycle.runtime import plan_of_run

        return plan_of_run(context)

    def skip_unless_planned(self, context: Context) -> RunPlan:
        """Return the run's plan, or skip this task when the plan does not involve it."""
        plan = self.plan(context)
        if not plan.acts(self.task_id):
            raise AirflowSkipException(f"nothing to do on the {plan.path.value} path ({plan.reason})")
        return plan


class DatasetOperator(DatasetTask, BaseOperator):
    """A dataset task: :meth:`run` gets the execution's :class:`TaskInputs`, built here once.

    :param dataset_id: the dataset file's id
    :param socrata_conn_id: the Airflow connection of the Socrata portal (templated)
    """

    template_fields: Sequence[str] = ("dataset_id", "socrata_conn_id")

    def __init__(self, *, dataset_id: str, socrata_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any):
        super().__init__(**kwargs)
        self.dataset_id = dataset_id
        self.socrata_conn_id = socrata_conn_id

    def execute(self, context: Context) -> Any:
        from opendata import storage

        # Files of a remote store are downloaded into (or prepared in) this task's own scratch
        # folder, removed when the task ends however it ends (a deferral included).
        with storage.scratch():
            return self.run(self.task_inputs(context), context)

    def run(self, inputs: TaskInputs, context: Context) -> Any:
        raise NotImplementedError


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


def governance_names(inputs: TaskInputs) -> dict[str, str]:
    """Airflow user id -> real name for every person of the task's governance file ({} if
    unreadable: the raw Airflow name is recorded then, which still says who it was)."""
    try:
        governance: Governance | None = inputs.loaded_governance
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
