"""From Stage 2 on: each scheduled run refreshes the public dataset with what changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opendata.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from pydantic import JsonValue

    from opendata.lifecycle.inputs import TaskInputs


class RefreshPublicOperator(DatasetOperator):
    """Upsert new and changed rows by row identifier and delete (``:deleted``) rows gone from
    the source, within the dataset file's limit, or replace the dataset atomically through a
    revision; an unchanged extract sends nothing. Past the limit it runs only when a person
    approved it in ``shrink_approval``."""

    ui_color = "#e8f0fe"

    def run(self, inputs: TaskInputs, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from opendata.lifecycle.assets import dataset_asset
        from opendata.lifecycle.columns import ColumnMismatchError, ensure_columns_match
        from opendata.lifecycle.held import HeldOutcome, follow_up_held
        from opendata.lifecycle.history import archive_version
        from opendata.lifecycle.runtime import portal_url, record_confirmed_load, show_stage
        from opendata.lifecycle.staging import fingerprint_work_file, keep_fingerprint
        from opendata.lifecycle.sync import ShrinkGuardError, SyncMode, sync_arguments
        from opendata.lifecycle.tasks import APPROVE_OPTION, SHRINK_APPROVAL_TASK_ID
        from opendata.registry import Stage

        self.skip_unless_planned(context)
        run_id = context["run_id"]
        spec, registry, hook, staged = inputs.spec, inputs.registry, inputs.hook, inputs.staged
        state = inputs.recorded_state()
        approval = inputs.xcom(SHRINK_APPROVAL_TASK_ID) or {}
        approved = approval.get("chosen_options") == [APPROVE_OPTION]
        if approved:
            self.log.info("Deleting beyond the file's limit as approved by %s",
                          (approval.get("responded_by_user") or {}).get("name", "a person"))
        held = follow_up_held(hook, registry, state, staged.checksum, run_id=run_id, log=self.log)
        if held is HeldOutcome.APPLIED and state.held_checksum == staged.checksum:
            # The approved version is this very extract: archive it, as every published version is.
            archive_version(registry, spec.id, run_id=run_id, staged=staged, kind="full",
                            retention_days=spec.history.retention_days)
        if held is HeldOutcome.WAITING:
            self.log.warning("%s: the version sent earlier still waits for the portal's reviewer; nothing is sent "
                             "again until it is approved or the data changes", self.dataset_id)
            return {"mode": SyncMode.HELD.value, "held_revision": state.held_revision}
        if held is not None:  # what became of the held version was just recorded
            state = inputs.recorded_state(reread=True)
        portal_id = inputs.portal_id
        try:
            # The portal's columns must be the file's before a row is sent (a dataset taken over
            # from the portal, a column changed on either side): else fail, naming them.
            ensure_columns_match(hook, spec, portal_id)
        except ColumnMismatchError as exc:
            raise AirflowFailException(str(exc)) from exc
        try:
            result = sync_arguments(state, staged).sync(
                hook, spec, portal_id, fingerprint_path=fingerprint_work_file(self.dataset_id),
                apply_shrink_guard=not approved, audience="public")
        except ShrinkGuardError as exc:
            # Only reachable when the data changed between the approval check and now.
            raise AirflowFailException(f"{self.dataset_id}: {exc}") from exc
        result = keep_fingerprint(self.dataset_id, result)
        self.log.info("Refreshed %s: %s", portal_id, result.as_dict())
        record_confirmed_load(registry, spec, staged, result, run_id=run_id, refreshed=True)
        if result.held_revision is not None:
            self.log.warning("%s: the portal holds the new version (revision %d) for its reviewer; it goes live "
                             "when approved there, and the next run records it", self.dataset_id,
                             result.held_revision)
            return result.as_dict()
        show_stage(self.dataset_id, Stage.REFRESHING)
        extra: dict[str, JsonValue] = {
            "portal_id": portal_id, "url": portal_url(hook, portal_id), "event": "refreshed",
            "rows": result.rows_published, "changed": result.rows_changed, "deleted": result.rows_deleted,
            "checksum": staged.checksum}
        context["outlet_events"][dataset_asset(spec)].extra = extra
        return result.as_dict()
