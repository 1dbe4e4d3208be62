"""The approvals workflow (reference §4.1) and audience changes (§4.2), shared by the API and the HTML page.

Like a portal with approvals configured, broadening a dataset's audience to public enters the queue:
``setPermission public.read`` on an unapproved dataset files a pending public audience request and
leaves the dataset private until a reviewer approves it. ``--no-approvals`` auto-approves instead.
"""

from __future__ import annotations

import time
from typing import Any

from .config import Account, EmulatorConfig
from .errors import SocrataError, bad_request, not_found_view
from .render import INTERNAL_WORKFLOW_ID, PUBLIC_WORKFLOW_ID, approval_json
from .store import Approval, Dataset, Store

SUBMISSION_OBJECTS = ("public_audience_request", "working_copy", "revision", "draft_story")


class Workflow:
    def __init__(self, store: Store, config: EmulatorConfig):
        self.store = store
        self.config = config

    # ---- reading ----

    def public_state(self, ds: Dataset, approvals: list[Approval]) -> str:
        latest = approvals[-1] if approvals else None
        if latest and latest.state in ("pending", "rejected"):
            return latest.state
        if ds.is_public or ds.approved_for_public:
            return "approved"
        return "submittable"

    def guidance(self, ds: Dataset, base_url: str) -> dict[str, Any]:
        approvals = self.store.approvals_for(ds.pk)
        latest = approvals[-1] if approvals else None
        state = self.public_state(ds, approvals)
        views = f"{base_url}/api/views/{ds.id}/approvals"
        pending = latest if latest and latest.state == "pending" else None
        expected = "pending" if self.config.approvals_enabled else "approved"

        def option(workflow_id: int, name: str, expected_state: str) -> dict[str, Any]:
            return {
                "workflowId": workflow_id,
                "displayName": name,
                "submissionUrl": f"{views}?method=startWorkflowSubmission",
                "expectedState": expected_state,
            }

        submission = {
            "object": "public_audience_request",
            "outcome": "change_audience",
            "details": {"id": ds.id},
        }
        public = {
            "currentState": state,
            "currentOutcome": latest.outcome if latest and state != "submittable" else None,
            "currentOutcomeStatus": "in_progress" if pending else None,
            "submissionId": latest.submission_id if latest and state != "submittable" else None,
            "updateUrl": f"{views}/{pending.submission_id}" if pending else None,
            "withdrawUrl": f"{views}/{pending.submission_id}?method=cancelWorkflowSubmission"
            if pending
            else None,
            "toChangeAudience": {
                "queueOptions": [option(PUBLIC_WORKFLOW_ID, "Public datasets", expected)],
                "submission": submission,
            },
            "toPublishAndChangeAudience": {
                "queueOptions": [option(PUBLIC_WORKFLOW_ID, "Public datasets", expected)],
                "submission": {**submission, "outcome": "publish_and_change_audience"},
            },
        }
        internal_state = "approved" if ds.audience in ("site", "public") else "submittable"
        internal = {
            "currentState": internal_state,
            "currentOutcome": None,
            "currentOutcomeStatus": None,
            "submissionId": None,
            "updateUrl": None,
            "withdrawUrl": None,
            "toChangeAudience": {
                "queueOptions": [option(INTERNAL_WORKFLOW_ID, "Internal datasets", "approved")],
                "submission": {
                    "object": "internal_audience_request",
                    "outcome": "change_audience",
                    "details": {"id": ds.id},
                },
            },
        }
        return {"public": public, "internal": internal}

    # ---- writing ----

    def submit(self, dataset_id: str, account: Account, obj: str, outcome: str) -> Approval:
        """startWorkflowSubmission; a second submission while one is pending returns the pending one."""
        if obj != "public_audience_request":
            raise bad_request(
                f"Submission object {obj!r} is not supported by this emulator "
                f"(supported: public_audience_request)",
                code="approvals.unsupported",
            )
        with self.store.writing() as c:
            ds = self._dataset(c, dataset_id)
            approvals = self.store.approvals_for(ds.pk, c)
            if approvals and approvals[-1].state == "pending":
                return approvals[-1]
            if ds.is_public:
                raise bad_request("The asset is already public", code="approvals.unsubmittable")
            sid = self._file(c, ds, account, outcome or "change_audience")
        return self.store.get_approval(sid)

    def request_audience(self, dataset_id: str, audience: str, account: Account) -> Dataset:
        """setPermission / permissions scope: public may go through the queue, the rest applies at once."""
        if audience not in ("private", "site", "public"):
            raise bad_request(f"Unknown permission value {audience!r}", code="permission.invalid")
        with self.store.writing() as c:
            ds = self._dataset(c, dataset_id)
            self.change_audience(c, ds, audience, account)
            return self.store.get_dataset(dataset_id, c)

    def change_audience(self, c, ds: Dataset, audience: str, account: Account) -> str:
        """Inside an open transaction: what setPermission does. Returns what happened:
        ``changed``, ``unchanged``, ``pending`` (a public audience request waits for a reviewer)."""
        if audience != "public":
            changed = ds.audience != audience
            self.store.update_dataset(c, ds, audience=audience, approved_for_public=0)
            return "changed" if changed else "unchanged"
        if ds.is_public:
            return "unchanged"
        approvals = self.store.approvals_for(ds.pk, c)
        if ds.approved_for_public:
            self.store.update_dataset(c, ds, audience="public")
            return "changed"
        if not (approvals and approvals[-1].state == "pending"):
            self._file(c, ds, account, "change_audience")
        after = self.store.get_dataset_by_pk(ds.pk, c)
        return "changed" if after.is_public else "pending"

    def cancel(self, dataset_id: str, submission_id: int) -> None:
        with self.store.writing() as c:
            ds = self._dataset(c, dataset_id)
            a = self.store.get_approval(submission_id, c)
            if a is None or a.ds != ds.pk:
                raise SocrataError(404, "not_found", "Submission not found", {"id": submission_id})
            if a.state != "pending":
                raise bad_request("Only a pending submission can be withdrawn", code="approvals.not_pending")
            c.execute("DELETE FROM approvals WHERE submission_id=?", (submission_id,))

    def review(
        self, dataset_id: str | None, record_id: int, state: str, notes: str | None, reviewer: Account
    ) -> Approval:
        if state not in ("approved", "rejected"):
            raise bad_request("state must be 'approved' or 'rejected'", code="approvals.invalid_state")
        now = time.time()
        with self.store.writing() as c:
            a = self.store.get_approval(record_id, c)
            if a is None or (dataset_id and a.dataset_id != dataset_id):
                raise SocrataError(404, "not_found", "Approval record not found", {"id": record_id})
            if a.state != "pending":
                raise SocrataError(
                    409,
                    "approvals.already_reviewed",
                    f"This submission was already {a.state}",
                    {"id": record_id},
                )
            values = {
                "state": state,
                "reviewed_at": now,
                "reviewer_id": reviewer.user_id,
                "reviewer_name": reviewer.name,
                "notes": notes or "",
            }
            ds = self.store.get_dataset(a.dataset_id, c)
            if state == "approved":
                self._approve(c, ds, values, now)
            self.store.update_approval(c, record_id, **values)
        return self.store.get_approval(record_id)

    # ---- helpers ----

    def _dataset(self, c, dataset_id: str) -> Dataset:
        ds = self.store.get_dataset(dataset_id, c)
        if ds is None:
            raise not_found_view(dataset_id)
        return ds

    def _approve(self, c, ds: Dataset, values: dict[str, Any], now: float) -> None:
        if self.config.approval_applies_audience:
            self.store.update_dataset(c, ds, audience="public", approved_for_public=1)
            values["applied_at"] = now
        else:
            # The approval is recorded but the audience stays as it is, as when a portal's workflow
            # only approves; a later setPermission public.read then goes through without queueing.
            self.store.update_dataset(c, ds, approved_for_public=1)

    def _file(self, c, ds: Dataset, account: Account, outcome: str) -> int:
        now = time.time()
        values = {
            "ds": ds.pk,
            "object": "public_audience_request",
            "outcome": outcome,
            "target_audience": "public",
            "state": "pending",
            "workflow_id": PUBLIC_WORKFLOW_ID,
            "submitted_at": now,
            "submitter_id": account.user_id,
            "submitter_name": account.name,
        }
        if not self.config.approvals_enabled:
            values.update(
                state="approved",
                reviewed_at=now,
                reviewed_automatically=1,
                notes="",
                reviewer_id=None,
                reviewer_name=None,
            )
            self._approve(c, ds, values, now)
        return self.store.insert_approval(c, **values)


def submission_json(a: Approval) -> dict[str, Any]:
    return {"id": a.submission_id, **approval_json(a)}
