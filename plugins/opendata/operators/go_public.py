"""Stage 2 of the playbook: approved and public; the department and policy team are told.

Step 3, strategic publication: a dataset with ``publication.not_before`` is never made public
before that moment, even when approved; the task waits deferred (no worker slot) and the
communications team hears when it goes live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opendata.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from pydantic import JsonValue

    from opendata.lifecycle.inputs import TaskInputs
    from opendata.portal.hook import SocrataHook


class GoPublicOperator(DatasetOperator):
    """Make the approved dataset visible to the public, check that it is, record Stage 2,
    notify, and emit the dataset's Asset event.

    "Public" is never taken on trust: the four things that decide whether anonymous visitors
    see an asset (published, audience public, approved, not hidden) are read back from the
    portal, what the pipeline may fix is fixed (publish a draft, set the audience once approved),
    and an anonymous read of the rows must succeed. Anything else fails the task naming what is
    wrong, even when the audience alone says public.
    """

    ui_color = "#e6f4ea"

    def run(self, inputs: TaskInputs, context: Context) -> Any:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from opendata.lifecycle.runtime import portal_url, show_stage, utcnow
        from opendata.notify import NotificationEvent, notify
        from opendata.portal.models import Audience
        from opendata.registry import Stage

        self.skip_unless_planned(context)
        hook, portal_id = inputs.hook, inputs.portal_id
        if hook.get_audience(portal_id) is Audience.PUBLIC:
            return self._make_public(inputs, context)
        not_before = inputs.spec.publication.not_before
        if not_before is not None and not_before > utcnow():
            state = inputs.recorded_state()
            show_stage(self.dataset_id, Stage.SCHEDULED)
            notify(NotificationEvent.SCHEDULED_GO_LIVE, inputs.spec, inputs.governance, context, portal_id=portal_id,
                   portal_url=portal_url(hook, portal_id), not_before=not_before.isoformat(),
                   reviewer=state.reviewed_by, notes=state.review_notes)
            self.log.info("Approved; waiting until %s to make it public", not_before.isoformat())
            self.defer(trigger=DateTimeTrigger(moment=not_before), method_name="go_live")
        return self._make_public(inputs, context)

    def go_live(self, context: Context, event: Any = None) -> Any:
        """Resumed at the go-live moment: a new execution of the task, with its own inputs."""
        return self._make_public(self.task_inputs(context), context)

    def _make_public(self, inputs: TaskInputs, context: Context) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from opendata.portal.models import ApprovalState, Audience

        hook, portal_id = inputs.hook, inputs.portal_id
        seen = hook.visibility(portal_id)
        if not seen.published:
            hook.publish(portal_id)
        if seen.audience is not Audience.PUBLIC and seen.approval is ApprovalState.APPROVED:
            hook.set_audience(portal_id, Audience.PUBLIC)
        seen = hook.visibility(portal_id)
        if seen.problems:
            raise AirflowFailException(f"{portal_id} is not visible to the public: {'; '.join(seen.problems)}. "
                                       f"Check it on the portal; the next run checks again")
        status = self._anonymous_read(hook, portal_id)
        if status != 200:
            raise AirflowFailException(
                f"{portal_id} is published, public, approved and not hidden, but an anonymous read of its rows "
                f"answers HTTP {status}; check it on the portal")
        self.log.info("%s is visible to the public (published, public, approved, not hidden; anonymous read OK)",
                      portal_id)
        return self._record_public(inputs, context)

    def _anonymous_read(self, hook: SocrataHook, portal_id: str) -> int:
        """An anonymous visitor's view of the rows, given the portal a moment to catch up."""
        import time

        deadline = time.monotonic() + hook.visibility_wait_seconds
        delay = 0.5
        while True:
            status = hook.anonymous_read_status(portal_id)
            if status == 200 or time.monotonic() >= deadline:
                return status
            self.log.info("Anonymous read of %s answers HTTP %d; trying again in %.1fs", portal_id, status, delay)
            time.sleep(delay)
            delay = min(delay * 2, 15.0)

    def _record_public(self, inputs: TaskInputs, context: Context) -> dict[str, Any]:
        from opendata.lifecycle.assets import dataset_asset
        from opendata.lifecycle.runtime import portal_url, show_stage, utcnow
        from opendata.lifecycle.tasks import REVIEW_APPROVED
        from opendata.notify import NotificationEvent, notify
        from opendata.registry import Stage

        spec, registry, hook = inputs.spec, inputs.registry, inputs.hook
        state = inputs.recorded_state()
        if state.review_state != REVIEW_APPROVED:
            # Approved while no run was watching: take what the portal tells of the review.
            from opendata.portal.approvals import review_account

            review = hook.get_approval_status(inputs.portal_id).latest_review
            reviewed_at = review.reviewed_at if review else None
            account = review_account(approved=True, reviewed_at=reviewed_at,
                                     reviewed_automatically=review.reviewed_automatically if review else None,
                                     portal_url=portal_url(hook, inputs.portal_id))
            registry.record_review(self.dataset_id, approved=True, by=account.by, at=reviewed_at,
                                   notes=account.notes, run_id=context["run_id"])
            state = inputs.recorded_state(reread=True)
        url = portal_url(hook, inputs.portal_id)
        now = utcnow()
        if not (state.stage.is_public and state.public_at):
            registry.record_public(self.dataset_id, at=now, rows=state.published_rows,
                                   checksum=state.published_checksum, run_id=context["run_id"])
            show_stage(self.dataset_id, Stage.STAGE_2)
            details = {"portal_id": inputs.portal_id, "portal_url": url, "reviewer": state.reviewed_by,
                       "notes": state.review_notes, "reviewed_at": state.reviewed_at.isoformat()
                       if state.reviewed_at else None, "rows": {"total": state.published_rows}}
            notify(NotificationEvent.APPROVED_PUBLIC, spec, inputs.governance, context, **details)
            if spec.publication.not_before is not None:
                # Step 3: the planned go-live happened; communications runs the announcement.
                notify(NotificationEvent.WENT_LIVE, spec, inputs.governance, context,
                       not_before=spec.publication.not_before.isoformat(), **details)
        extra: dict[str, JsonValue] = {"portal_id": inputs.portal_id, "url": url, "event": "published",
                                       "rows": state.published_rows, "checksum": state.published_checksum}
        context["outlet_events"][dataset_asset(spec)].extra = extra
        return extra
