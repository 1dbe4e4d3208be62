"""Stage 1 of the playbook: the dataset goes to the portal privately, for the CDO's review."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opendata.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs
    from opendata.notify.compose import Attachment
    from opendata.portal.hook import SocrataHook
    from opendata.portal.models import ColumnSpec, DatasetMetadata
    from opendata.registry import DatasetState, Registry
    from opendata.spec.dataset import DatasetSpec


class PushPrivateOperator(DatasetOperator):
    """Create the dataset privately (once), bring metadata and data in line with the file and
    the extract, publish it with its private audience (so the reviewer sees a real asset and the
    approval only changes the audience), submit it for public approval (once), and tell the
    Chief Data Officer.

    Safe to re-run: the intent to create is recorded before the portal is asked, the new asset
    carries the dataset's id in a custom field and every attempt looks for it before creating
    (a lost answer never makes a second dataset); the portal id is recorded the moment it is
    known, the data load sends only what the portal does not have yet, publication and a
    pending submission are read back rather than repeated. A dataset with a future go-live
    (``publication.not_before``) on a portal whose approval makes datasets public at once is
    pushed but not submitted: the approval task submits it when the time comes.
    """

    ui_color = "#e8f0fe"

    def run(self, inputs: TaskInputs, context: Context) -> dict[str, Any]:
        from opendata.lifecycle.plan import RunPath
        from opendata.lifecycle.runtime import (
            airflow_task_url,
            portal_url,
            record_confirmed_load,
            show_stage,
            utcnow,
        )
        from opendata.lifecycle.staging import fingerprint_work_file, keep_fingerprint
        from opendata.lifecycle.sync import sync_arguments
        from opendata.lifecycle.tasks import VALIDATE_TASK_ID
        from opendata.notify import NotificationEvent, notify
        from opendata.portal.dataset_metadata import columns, dataset_metadata
        from opendata.portal.models import Audience
        from opendata.registry import Stage

        plan = self.skip_unless_planned(context)
        run_id = context["run_id"]
        spec, registry, hook, state = inputs.spec, inputs.registry, inputs.hook, inputs.state
        metadata = dataset_metadata(spec, inputs.loaded_governance)

        portal_id = state.portal_id if state else None
        if portal_id is None:
            portal_id = self._find_or_create(hook, registry, spec, state, metadata, columns(spec), run_id)
        hook.update_metadata(portal_id, metadata)

        staged = inputs.staged
        result = sync_arguments(state, staged).sync(
            hook, spec, portal_id, fingerprint_path=fingerprint_work_file(self.dataset_id),
            apply_shrink_guard=False, audience="private",  # a private copy nobody reads yet
        )
        result = keep_fingerprint(self.dataset_id, result)
        self.log.info("Private load of %s: %s", portal_id, result.as_dict())
        record_confirmed_load(registry, spec, staged, result, run_id=run_id, refreshed=False)
        # A draft is invisible to everyone but its owners, reviewer included: publish it, privately.
        hook.publish(portal_id)
        if hook.get_audience(portal_id) is not Audience.PRIVATE:
            self.log.error("%s is not private after publication; making it private again", portal_id)
            hook.make_private(portal_id)

        not_before = spec.publication.not_before
        held_until = not_before.isoformat() if not_before and not_before > utcnow() \
            and hook.approval_changes_audience else None
        submitted = False
        if held_until:
            self.log.info("Not submitting yet: approval would make it public before its go-live at %s", not_before)
        else:
            submitted = hook.submit_for_public_approval(portal_id).submitted
        first_time = plan.path in (RunPath.FIRST_PUBLICATION, RunPath.RESUBMIT) or submitted
        if submitted or (held_until and first_time):
            registry.record_submission(self.dataset_id, at=utcnow(), run_id=run_id)
        show_stage(self.dataset_id, Stage.STAGE_1)
        if first_time:
            validation = inputs.xcom(VALIDATE_TASK_ID) or {}
            report = checklist_attachment(validation.get("report_html"))
            if report is None:
                self.log.warning("The checklist report %s could not be read; the CDO's e-mail links to it in "
                                 "Airflow only", validation.get("report_html"))
            # The report is attached and linked in the Airflow UI: a path on this worker is
            # something the CDO cannot open, so it is not in the e-mail.
            notify(NotificationEvent.STAGE1_READY_FOR_REVIEW, spec, inputs.governance, context,
                   portal_id=portal_id, portal_url=portal_url(hook, portal_id),
                   report_url=airflow_task_url(self.dag_id, run_id, VALIDATE_TASK_ID),
                   report_attached=report.filename if report else None, attachments=[report] if report else [],
                   validation_summary=validation.get("summary"), warnings=validation.get("warnings"),
                   warnings_total=validation.get("warnings_total"), not_before=held_until,
                   rows={"created": result.rows_created, "updated": result.rows_updated,
                         "deleted": result.rows_deleted, "total": result.rows_in_extract})
        return {"portal_id": portal_id, "submitted": submitted, "held_until": held_until, **result.as_dict()}

    def _find_or_create(self, hook: SocrataHook, registry: Registry, spec: DatasetSpec, state: DatasetState | None,
                        metadata: DatasetMetadata, columns: list[ColumnSpec], run_id: str) -> str:
        """The portal id of this dataset: adopted when an earlier attempt created it (found by its
        marker), else created now, never twice (see :mod:`opendata.lifecycle.creation`)."""
        import datetime as dt

        from opendata.lifecycle.creation import CreationAction, creation_refusal, decide_creation
        from opendata.lifecycle.runtime import portal_url, utcnow
        from opendata.portal.dataset_metadata import dataset_marker

        refusal = creation_refusal(spec, state, hook.base_url)
        if refusal:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(refusal)
        marker = dataset_marker(spec)
        found = [view.id for view in hook.find_marked_datasets(marker, name=spec.name)]
        decision = decide_creation(found, intent_at=state.creation_started_at if state else None, now=utcnow(),
                                   catalog_lag=dt.timedelta(seconds=hook.catalog_lag_seconds))
        self.log.info("Dataset %s on the portal: %s (%s)", spec.id, decision.action.value, decision.reason)
        if decision.action is CreationAction.WAIT:
            raise CreationPending(f"{spec.id}: {decision.reason}")
        if decision.action is CreationAction.ADOPT:
            if decision.strays:
                self.log.warning("More portal assets are marked as %s: %s. They were left alone (the pipeline "
                                 "never deletes); an administrator may remove them.", spec.id,
                                 ", ".join(decision.strays))
            adopted = decision.portal_id
            assert adopted is not None  # ADOPT names the dataset it found
            registry.record_portal_dataset(spec.id, adopted, run_id=run_id, note=decision.reason)
            return adopted
        from opendata.portal.assets import SocrataCreationUnknown

        registry.record_creation_intent(spec.id, at=utcnow(), run_id=run_id)
        try:
            portal_id = hook.create_dataset(spec.name, columns, row_identifier=spec.publishing.row_identifier,
                                            metadata=metadata, marker=marker)
        except SocrataCreationUnknown:
            # The catalog lag counts from now, when this attempt stopped waiting, not from when it
            # started: the portal may still be working on a request the client gave up on (a
            # timeout), and a lag counted from the start could end before that request is applied.
            registry.record_creation_intent(spec.id, at=utcnow(), run_id=run_id)
            raise
        # Recorded at once; should this fail, the next attempt finds the dataset by its marker.
        registry.record_portal_dataset(spec.id, portal_id, run_id=run_id)
        self.log.info("Created private dataset %s at %s", portal_id, portal_url(hook, portal_id))
        return portal_id


class CreationPending(RuntimeError):
    """An earlier attempt may have created the dataset and the catalog may not list it yet; the
    task's retry looks again (a late dataset is better than a second one)."""


def checklist_attachment(path: str | None) -> Attachment | None:
    """The HTML Data Submission Checklist report the validate task kept in the store (every text
    from the dataset file escaped there), as an e-mail attachment; None when it cannot be read."""
    from opendata import storage
    from opendata.notify import Attachment
    from opendata.validation.report import REPORT_NAME

    if not path:
        return None
    try:
        content = storage.read_bytes(storage.resolve(path))
    except OSError:  # a missing report or an unreachable store (StorageError is an OSError)
        return None
    return Attachment(filename=f"{REPORT_NAME}.html", content=content, mime_type="text/html")
