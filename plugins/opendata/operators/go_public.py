"""Stage 2 of the playbook: approved and public; the department and policy team are told.

Step 3, strategic publication: a dataset with ``publication.not_before`` is never made public
before that moment, even when approved; the task waits deferred (no worker slot) and the
communications team hears when it goes live.
"""

from __future__ import annotations

from typing import Any

from opendata.operators.base import DatasetOperator


class GoPublicOperator(DatasetOperator):
    """Make the approved dataset public (if the approval did not), record Stage 2, notify, and
    emit the dataset's Asset event."""

    ui_color = "#e6f4ea"

    def execute(self, context) -> Any:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from opendata.lifecycle.context import load_spec
        from opendata.lifecycle.runtime import portal_hook, portal_url, show_stage, utcnow
        from opendata.notify import NotificationEvent, notify
        from opendata.portal.models import Audience
        from opendata.registry import Registry, Stage

        self.skip_unless_planned(context)
        spec = load_spec(self.dataset_id)
        hook = portal_hook()
        state = Registry.from_settings().get_state(self.dataset_id)
        if hook.get_audience(state.portal_id) is Audience.PUBLIC:
            return self._record_public(context)
        not_before = spec.publication.not_before
        if not_before is not None and not_before > utcnow():
            show_stage(self.dataset_id, Stage.SCHEDULED)
            notify(NotificationEvent.SCHEDULED_GO_LIVE, self.dataset_id, context, portal_id=state.portal_id,
                   portal_url=portal_url(hook, state.portal_id), not_before=not_before.isoformat(),
                   reviewer=state.reviewed_by, notes=state.review_notes)
            self.log.info("Approved; waiting until %s to make it public", not_before.isoformat())
            self.defer(trigger=DateTimeTrigger(moment=not_before), method_name="go_live")
        return self._make_public(context)

    def go_live(self, context, event: Any = None) -> Any:
        return self._make_public(context)

    def _make_public(self, context) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from opendata.lifecycle.runtime import portal_hook
        from opendata.portal.models import Audience
        from opendata.registry import Registry

        hook = portal_hook()
        portal_id = Registry.from_settings().get_state(self.dataset_id).portal_id
        hook.publish_if_unpublished(portal_id)
        hook.set_audience(portal_id, Audience.PUBLIC)
        audience = hook.get_audience(portal_id)
        if audience is not Audience.PUBLIC:
            raise AirflowFailException(f"{portal_id} is still {audience.value} after asking for public; "
                                       f"check its approval on the portal")
        self.log.info("%s is public", portal_id)
        return self._record_public(context)

    def _record_public(self, context) -> dict:
        from opendata.lifecycle.assets import dataset_asset
        from opendata.lifecycle.context import load_spec
        from opendata.lifecycle.runtime import portal_hook, portal_url, show_stage, utcnow
        from opendata.notify import NotificationEvent, notify
        from opendata.registry import Registry, Stage

        spec = load_spec(self.dataset_id)
        registry = Registry.from_settings()
        hook = portal_hook()
        state = registry.get_state(self.dataset_id)
        if state.review_state != "approved":
            # Approved while no run was watching: take the review from the portal.
            review = hook.get_approval_status(state.portal_id).latest_review
            registry.record_review(self.dataset_id, approved=True, by=review.reviewer if review else None,
                                   at=review.reviewed_at if review else None, notes=review.notes if review else None,
                                   run_id=context["run_id"])
            state = registry.get_state(self.dataset_id)
        url = portal_url(hook, state.portal_id)
        now = utcnow()
        if not (state.stage.is_public and state.public_at):
            registry.record_public(self.dataset_id, at=now, rows=state.published_rows,
                                   checksum=state.published_checksum, run_id=context["run_id"])
            show_stage(self.dataset_id, Stage.STAGE_2)
            details = {"portal_id": state.portal_id, "portal_url": url, "reviewer": state.reviewed_by,
                       "notes": state.review_notes, "reviewed_at": state.reviewed_at.isoformat()
                       if state.reviewed_at else None, "rows": {"total": state.published_rows}}
            notify(NotificationEvent.APPROVED_PUBLIC, self.dataset_id, context, **details)
            if spec.publication.not_before is not None:
                # Step 3: the planned go-live happened; communications runs the announcement.
                notify(NotificationEvent.WENT_LIVE, self.dataset_id, context,
                       not_before=spec.publication.not_before.isoformat(), **details)
        extra = {"portal_id": state.portal_id, "url": url, "event": "published", "rows": state.published_rows,
                 "checksum": state.published_checksum}
        context["outlet_events"][dataset_asset(spec)].extra = extra
        return extra
