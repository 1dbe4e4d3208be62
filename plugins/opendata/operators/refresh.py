"""From Stage 2 on: each scheduled run refreshes the public dataset with what changed."""

from __future__ import annotations

from pathlib import Path

from opendata.operators.base import DatasetOperator


class RefreshPublicOperator(DatasetOperator):
    """Upsert new and changed rows by row identifier and delete (``:deleted``) rows gone from
    the source, within the dataset file's limit, or replace the dataset atomically through a
    revision; an unchanged extract sends nothing. Past the limit it runs only when a person
    approved it in ``shrink_approval``."""

    ui_color = "#e8f0fe"

    def execute(self, context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from opendata.lifecycle.assets import dataset_asset
        from opendata.lifecycle.context import load_spec
        from opendata.lifecycle.held import HeldOutcome, follow_up_held
        from opendata.lifecycle.history import archive_version
        from opendata.lifecycle.runtime import (
            fingerprint_path,
            portal_hook,
            portal_url,
            record_confirmed_load,
            show_stage,
        )
        from opendata.lifecycle.sync import ShrinkGuardError, sync_to_portal
        from opendata.registry import Registry, Stage

        self.skip_unless_planned(context)
        spec = load_spec(self.dataset_id)
        registry = Registry.from_settings()
        state = registry.get_state(self.dataset_id)
        hook = portal_hook()
        staged = context["ti"].xcom_pull(task_ids="extract")
        approval = context["ti"].xcom_pull(task_ids="shrink_approval") or {}
        approved = approval.get("chosen_options") == ["Approve"]
        if approved:
            self.log.info("Deleting beyond the file's limit as approved by %s",
                          (approval.get("responded_by_user") or {}).get("name", "a person"))
        held = follow_up_held(hook, registry, state, staged["checksum"], run_id=context["run_id"], log=self.log)
        if held is HeldOutcome.APPLIED and state.held_checksum == staged["checksum"]:
            # The approved version is this very extract: archive it, as every published version is.
            archive_version(registry, spec.id, run_id=context["run_id"], staged=staged, kind="full",
                            retention_days=spec.history.retention_days)
        if held is HeldOutcome.WAITING:
            self.log.warning("%s: the version sent earlier still waits for the portal's reviewer; nothing is sent "
                             "again until it is approved or the data changes", self.dataset_id)
            return {"mode": "held", "held_revision": state.held_revision}
        state = registry.get_state(self.dataset_id)
        try:
            result = sync_to_portal(
                hook, spec, state.portal_id, Path(staged["path"]), fingerprint_path=fingerprint_path(self.dataset_id),
                previous_fingerprint=Path(state.fingerprint_path) if state.fingerprint_path else None,
                published_rows=state.published_rows, apply_shrink_guard=not approved, audience="public",
                published_checksum=state.published_checksum, staged_checksum=staged["checksum"],
                incremental=staged.get("since") is not None)
        except ShrinkGuardError as exc:
            # Only reachable when the data changed between the approval check and now.
            raise AirflowFailException(f"{self.dataset_id}: {exc}") from exc
        self.log.info("Refreshed %s: %s", state.portal_id, result.as_dict())
        record_confirmed_load(registry, spec, staged, result, run_id=context["run_id"], refreshed=True)
        if result.held_revision is not None:
            self.log.warning("%s: the portal holds the new version (revision %d) for its reviewer; it goes live "
                             "when approved there, and the next run records it", self.dataset_id,
                             result.held_revision)
            return result.as_dict()
        show_stage(self.dataset_id, Stage.REFRESHING)
        extra = {"portal_id": state.portal_id, "url": portal_url(hook, state.portal_id), "event": "refreshed",
                 "rows": result.rows_published, "changed": result.rows_changed, "deleted": result.rows_deleted,
                 "checksum": staged["checksum"]}
        context["outlet_events"][dataset_asset(spec)].extra = extra
        return result.as_dict()
