"""Stage 1 of the playbook: the dataset goes to the portal privately, for the CDO's review."""

from __future__ import annotations

from pathlib import Path

from opendata.operators.base import DatasetOperator


class PushPrivateOperator(DatasetOperator):
    """Create the dataset privately (once), bring metadata and data in line with the file and
    the extract, submit it for public approval (once), and tell the Chief Data Officer.

    Safe to re-run: the portal id is recorded the moment the portal creates the dataset, the
    data load sends only what the portal does not have yet, and a pending submission is not
    submitted twice. A dataset with a future go-live (``publication.not_before``) on a portal
    whose approval makes datasets public at once is pushed but not submitted: the approval
    task submits it when the time comes.
    """

    ui_color = "#e8f0fe"

    def execute(self, context) -> dict:
        from opendata import settings
        from opendata.lifecycle.context import load_spec
        from opendata.lifecycle.plan import RunPath
        from opendata.lifecycle.portal_metadata import columns, dataset_metadata
        from opendata.lifecycle.runtime import (
            fingerprint_path,
            portal_hook,
            portal_url,
            record_confirmed_load,
            show_stage,
            utcnow,
        )
        from opendata.lifecycle.sync import sync_to_portal
        from opendata.notify import NotificationEvent, notify
        from opendata.registry import Registry, Stage
        from opendata.spec.loader import load_governance

        plan = self.skip_unless_planned(context)
        run_id = context["run_id"]
        spec = load_spec(self.dataset_id)
        governance, _ = load_governance(settings.governance_file())
        registry = Registry.from_settings()
        hook = portal_hook()
        state = registry.get_state(self.dataset_id)
        metadata = dataset_metadata(spec, governance)

        portal_id = state.portal_id if state else None
        if portal_id is None:
            portal_id = hook.create_dataset(spec.name, columns(spec), row_identifier=spec.publishing.row_identifier,
                                            metadata=metadata)
            # Recorded at once: a retry must find this dataset, never create a second one.
            registry.record_portal_dataset(self.dataset_id, portal_id, run_id=run_id)
            self.log.info("Created private dataset %s at %s", portal_id, portal_url(hook, portal_id))
        hook.update_metadata(portal_id, metadata)

        staged = context["ti"].xcom_pull(task_ids="extract")
        result = sync_to_portal(
            hook, spec, portal_id, Path(staged["path"]), fingerprint_path=fingerprint_path(self.dataset_id),
            previous_fingerprint=Path(state.fingerprint_path) if state and state.fingerprint_path else None,
            published_rows=state.published_rows if state else None,
            published_checksum=state.published_checksum if state else None, staged_checksum=staged["checksum"],
            apply_shrink_guard=False, audience="private",  # a private copy nobody reads yet
        )
        self.log.info("Private load of %s: %s", portal_id, result.as_dict())
        record_confirmed_load(registry, spec, staged, result, run_id=run_id, refreshed=False)

        not_before = spec.publication.not_before
        hold = bool(not_before and not_before > utcnow() and hook.config.approval_changes_audience)
        submitted = False
        if hold:
            self.log.info("Not submitting yet: approval would make it public before its go-live at %s", not_before)
        else:
            submitted = hook.submit_for_public_approval(portal_id).submitted
        first_time = plan.path in (RunPath.FIRST_PUBLICATION, RunPath.RESUBMIT) or submitted
        if submitted or (hold and first_time):
            registry.record_submission(self.dataset_id, at=utcnow(), run_id=run_id)
        show_stage(self.dataset_id, Stage.STAGE_1)
        if first_time:
            validation = context["ti"].xcom_pull(task_ids="validate") or {}
            notify(NotificationEvent.STAGE1_READY_FOR_REVIEW, self.dataset_id, context,
                   portal_id=portal_id, portal_url=portal_url(hook, portal_id),
                   report_path=validation.get("report_markdown"), validation_summary=validation.get("summary"),
                   not_before=not_before.isoformat() if hold else None,
                   rows={"created": result.rows_created, "updated": result.rows_updated,
                         "deleted": result.rows_deleted, "total": result.rows_in_extract})
        return {"portal_id": portal_id, "submitted": submitted, "held_until": not_before.isoformat() if hold else None,
                **result.as_dict()}
