"""Stage 2 of the playbook: wait, deferred, for the Chief Data Officer's review on the portal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException

from opendata import settings
from opendata.lifecycle.tasks import REVIEW_APPROVED
from opendata.operators.base import DatasetTask, ReportedFailure
from opendata.portal.config import DEFAULT_CONN_ID
from opendata.triggers.approval import (
    APPROVED,
    REJECTED,
    REMIND,
    TIMEOUT,
    PublicApprovalTrigger,
    review_details,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs
    from opendata.portal.approvals import ApprovalStatus, ReviewAccount
    from opendata.registry import DatasetState


def poll_seconds(file_minutes: float) -> float:
    """The dataset file's polling interval, unless the deployment overrides it for every
    dataset (the local demo polls every few seconds)."""
    override = settings.review_poll_seconds()
    return override if override is not None else file_minutes * 60


def next_reminder(submitted_at: dt.datetime, now: dt.datetime, every: dt.timedelta) -> dt.datetime:
    """The first reminder moment (submitted + k * every, k >= 1) after ``now`` (pure)."""
    elapsed = max(now - submitted_at, dt.timedelta(0))
    cycles = int(elapsed / every) + 1
    return submitted_at + cycles * every


class PublicApprovalSensor(DatasetTask, BaseSensorOperator):
    """Wait until the portal says the public-audience request is approved or rejected.

    Deferrable: a :class:`PublicApprovalTrigger` polls the portal from the triggerer, so no
    worker slot is held. Approved: the task succeeds and the registry records the review.
    Rejected: the coordinator and steward are told (with the portal link, where the reviewer's
    notes are: the portal's API does not hand them out) and the run fails. Still pending after
    ``publication.review_reminder_days``: the CDO is reminded and the wait goes on, up to
    ``publication.review_timeout_days``. A dataset held until its go-live (see
    PushPrivateOperator) is submitted here, at ``publication.not_before``.

    :param dataset_id: the dataset file's id
    :param socrata_conn_id: the Airflow connection of the Socrata portal (templated); the
        trigger polls through the same connection
    """

    ui_color = "#fce8e6"
    template_fields: Sequence[str] = ("dataset_id", "socrata_conn_id")

    def __init__(self, *, dataset_id: str, socrata_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any):
        super().__init__(**kwargs)
        self.dataset_id = dataset_id
        self.socrata_conn_id = socrata_conn_id

    # BaseSensorOperator's poke loop is not used (the task always defers); poke answers the
    # same question synchronously for anyone calling it directly.
    def poke(self, context: Context) -> bool:
        inputs = self.task_inputs(context)
        _, portal_id = self._state(inputs)
        return self._portal_status(inputs, portal_id).state.value in (APPROVED, REJECTED)

    def execute(self, context: Context) -> Any:
        self.skip_unless_planned(context)
        return self._check(self.task_inputs(context), context)

    def _check(self, inputs: TaskInputs, context: Context) -> Any:
        from opendata.lifecycle.runtime import utcnow
        from opendata.portal.models import ApprovalState

        spec = inputs.spec
        _, portal_id = self._state(inputs)
        status = self._portal_status(inputs, portal_id)
        if status.state is ApprovalState.APPROVED:
            return self._approved(inputs, context, review_details(status.latest_review))
        if status.state is ApprovalState.REJECTED:
            return self._rejected(inputs, context, review_details(status.latest_review))
        if status.state is not ApprovalState.PENDING:
            not_before = spec.publication.not_before
            if not_before is not None and not_before > utcnow():
                from airflow.providers.standard.triggers.temporal import DateTimeTrigger

                self.log.info("Held until its go-live: submitting for public approval at %s", not_before)
                self.defer(trigger=DateTimeTrigger(moment=not_before), method_name="submit_when_due")
            self._submit(inputs, context, portal_id)
        return self._wait(inputs, context)

    def submit_when_due(self, context: Context, event: Any = None) -> Any:
        """Resumed at the go-live moment: a new execution of the task, with its own inputs."""
        return self._check(self.task_inputs(context), context)

    def _submit(self, inputs: TaskInputs, context: Context, portal_id: str) -> None:
        from opendata.lifecycle.runtime import utcnow

        if inputs.hook.submit_for_public_approval(portal_id).submitted:
            inputs.registry.record_submission(self.dataset_id, at=utcnow(), run_id=context["run_id"])
            self.log.info("Submitted %s for public approval", portal_id)

    def _wait(self, inputs: TaskInputs, context: Context) -> NoReturn:
        from opendata.lifecycle.runtime import utcnow

        # Read again: this execution may just have recorded the submission.
        state, portal_id = self._state(inputs, reread=True)
        publication = inputs.spec.publication
        submitted_at = state.submitted_at or utcnow()
        give_up_at = submitted_at + dt.timedelta(days=publication.review_timeout_days)
        every = dt.timedelta(days=publication.review_reminder_days)
        # Recomputed from the submission time each time, so a restarted task reminds on schedule.
        remind_at: dt.datetime | None = next_reminder(submitted_at, utcnow(), every)
        if remind_at is not None and remind_at >= give_up_at:
            remind_at = None
        self.log.info("Waiting for the review of %s (submitted %s); reminder at %s, giving up at %s",
                      portal_id, submitted_at.isoformat(timespec="minutes"),
                      remind_at.isoformat(timespec="minutes") if remind_at else "never",
                      give_up_at.isoformat(timespec="minutes"))
        self.defer(
            trigger=PublicApprovalTrigger(
                portal_id=portal_id, conn_id=self.socrata_conn_id,
                poll_seconds=poll_seconds(publication.review_poll_minutes), give_up_at=give_up_at.isoformat(),
                remind_at=remind_at.isoformat() if remind_at else None),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from opendata.lifecycle.runtime import utcnow
        from opendata.notify import NotificationEvent, notify

        inputs = self.task_inputs(context)
        spec = inputs.spec
        status = event.get("status")
        if status == APPROVED:
            return self._approved(inputs, context, event)
        if status == REJECTED:
            return self._rejected(inputs, context, event)
        if status == REMIND:
            state, portal_id = self._state(inputs)
            days = (utcnow() - state.submitted_at).total_seconds() / 86400 if state.submitted_at else None
            notify(NotificationEvent.REVIEW_REMINDER, spec, inputs.governance, context, portal_id=portal_id,
                   portal_url=self._portal_url(inputs, portal_id),
                   days_pending=round(days, 1) if days else None)
            return self._wait(inputs, context)
        if status == TIMEOUT:
            raise AirflowFailException(
                f"{self.dataset_id} is still waiting for its review after "
                f"{spec.publication.review_timeout_days:g} days; the next run keeps waiting")
        raise AirflowFailException(f"cannot read the approval state of {self.dataset_id}: {event.get('message')}")

    def _approved(self, inputs: TaskInputs, context: Context, review: dict[str, Any]) -> dict[str, Any]:
        from opendata.lifecycle.runtime import utcnow

        not_before = inputs.spec.publication.not_before
        scheduled = bool(not_before and not_before > utcnow())
        state, portal_id = self._state(inputs)
        account = self._account(inputs, portal_id, review, approved=True)
        if state.review_state != REVIEW_APPROVED:
            inputs.registry.record_review(self.dataset_id, approved=True, by=account.by,
                                          at=_when(review.get("reviewed_at")), notes=account.notes,
                                          scheduled=scheduled, run_id=context["run_id"])
        self.log.info("Approved by %s%s", account.by, f"; going public at {not_before}" if scheduled else "")
        return {"state": REVIEW_APPROVED, **review}

    def _rejected(self, inputs: TaskInputs, context: Context, review: dict[str, Any]) -> NoReturn:
        from opendata.lifecycle.runtime import show_stage
        from opendata.notify import NotificationEvent, notify
        from opendata.registry import Stage

        _, portal_id = self._state(inputs)
        account = self._account(inputs, portal_id, review, approved=False)
        inputs.registry.record_review(self.dataset_id, approved=False, by=account.by,
                                      at=_when(review.get("reviewed_at")), notes=account.notes,
                                      run_id=context["run_id"])
        show_stage(self.dataset_id, Stage.REJECTED)
        notify(NotificationEvent.REJECTED, inputs.spec, inputs.governance, context, portal_id=portal_id,
               portal_url=self._portal_url(inputs, portal_id), reviewer=account.by, notes=account.notes,
               reviewed_at=review.get("reviewed_at"))
        raise ReportedFailure(f"{self.dataset_id} was rejected in the Stage 1 review. {account.notes}")

    def _account(self, inputs: TaskInputs, portal_id: str, review: dict[str, Any], *,
                 approved: bool) -> ReviewAccount:
        from opendata.portal.approvals import review_account

        return review_account(approved=approved, reviewed_at=_when(review.get("reviewed_at")),
                              reviewed_automatically=review.get("reviewed_automatically"),
                              portal_url=self._portal_url(inputs, portal_id))

    def _state(self, inputs: TaskInputs, *, reread: bool = False) -> tuple[DatasetState, str]:
        """The dataset's state and its portal id (none yet: the task fails at once); ``reread``:
        read again, after this execution's own writes."""
        state = inputs.registry.get_state(self.dataset_id) if reread else inputs.state
        if state is None or state.portal_id is None:
            raise AirflowFailException(f"{self.dataset_id} has no portal dataset yet; the Stage 1 push must run first")
        return state, state.portal_id

    def _portal_status(self, inputs: TaskInputs, portal_id: str) -> ApprovalStatus:
        return inputs.hook.get_approval_status(portal_id)

    def _portal_url(self, inputs: TaskInputs, portal_id: str) -> str:
        from opendata.lifecycle.runtime import portal_url

        return portal_url(inputs.hook, portal_id)


def _when(value: str | dt.datetime | None) -> dt.datetime | None:
    """A moment passed through Airflow's trigger events and next_kwargs, which may hand back
    either the ISO text we sent or a datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)
