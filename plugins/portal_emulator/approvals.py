"""The approvals workflow (reference §4.1) and audience changes (§4.2), shared by the API and the HTML page.

Like a portal with approvals configured, broadening a dataset's audience to public enters the queue:
``setPermission public.read`` on an unapproved dataset files a pending public audience request and
leaves the dataset private until a reviewer approves it. ``--no-approvals`` auto-approves instead.

In strict mode a DSMAPI revision applied to a public dataset is held too (Socrata's "update
published asset" outcome): the apply files a ``revision`` submission and answers
``approval_submitted``; approving it starts the apply job (through :attr:`Workflow.revisions`,
the publishing model's apply jobs, jobs.py), rejecting it leaves the revision open and the dataset
untouched.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from .config import Account, EmulatorConfig
from .errors import SocrataError, bad_request, not_found_view
from .render import INTERNAL_WORKFLOW_ID, PUBLIC_WORKFLOW_ID, approval_json, audience_requests
from .store import Approval, Dataset, Store

SUBMISSION_OBJECTS = ("public_audience_request", "working_copy", "revision", "draft_story")
UPDATE_PUBLISHED_ASSET = "update_published_asset"


class HeldRevisions(Protocol):
    """What the workflow needs from the publishing model to carry out an approved revision."""

    def approved(self, c, approval: Approval) -> int:
        """Inside the review's transaction: create the held revision's apply job; its id."""

    def start_job(self, ts_id: int) -> None:
        """After the commit: run the job."""


class Workflow:
    def __init__(self, store: Store, config: EmulatorConfig):
        self.store = store
        self.config = config
        self.revisions: HeldRevisions | None = None  # set by the publishing model

    # ---- reading ----

    def holds_applies(self, ds: Dataset) -> bool:
        """Whether applying a revision on this dataset now waits for a reviewer (strict mode: a
        change to an asset the public can already see needs approval, like its audience did)."""
        return self.config.strict and self.config.approvals_enabled and ds.is_public

    def public_state(self, ds: Dataset, approvals: list[Approval]) -> str:
        requests = audience_requests(approvals)
        latest = requests[-1] if requests else None
        if latest and latest.state in ("pending", "rejected"):
            return latest.state
        if ds.is_public or ds.approved_for_public:
            return "approved"
        return "submittable"

    def guidance(self, ds: Dataset, base_url: str, revision_seq: int | None = None) -> dict[str, Any]:
        """guidance_v2 for the asset, or (``assetId`` ``4x4:seq``) for one of its revision drafts."""
        approvals = self.store.approvals_for(ds.pk)
        views = f"{base_url}/api/views/{ds.id}/approvals"
        internal = self._internal_guidance(ds, views)
        if revision_seq is not None:
            return {"public": self._revision_guidance(ds, approvals, revision_seq, views), "internal": internal}
        requests = audience_requests(approvals)
        latest = requests[-1] if requests else None
        state = self.public_state(ds, approvals)
        expected = "pending" if self.config.approvals_enabled else "approved"

        submission = {
            "object": "public_audience_request",
            "outcome": "change_audience",
            "details": {"id": ds.id},
        }
        public = {
            **_submission_state(state, latest if state != "submittable" else None, views),
            "toChangeAudience": {
                "queueOptions": [_option(views, PUBLIC_WORKFLOW_ID, "Public datasets", expected)],
                "submission": submission,
            },
            "toPublishAndChangeAudience": {
                "queueOptions": [_option(views, PUBLIC_WORKFLOW_ID, "Public datasets", expected)],
                "submission": {**submission, "outcome": "publish_and_change_audience"},
            },
        }
        return {"public": public, "internal": internal}

    def _revision_guidance(
        self, ds: Dataset, approvals: list[Approval], seq: int, views: str
    ) -> dict[str, Any]:
        """The public guidance of a revision draft: its own submission, if any. A revision enters the
        queue by being applied (the emulator offers no ``toUpdatePublishedAsset`` submission), so
        one never submitted is ``submittable`` where applying it would be held, else
        ``unsubmittable`` (applying it goes straight through)."""
        records = [a for a in approvals if a.revision_seq == seq]
        latest = records[-1] if records else None
        if latest is None:
            return _submission_state("submittable" if self.holds_applies(ds) else "unsubmittable", None, views)
        return _submission_state(latest.state, latest, views)

    @staticmethod
    def _internal_guidance(ds: Dataset, views: str) -> dict[str, Any]:
        return {
            **_submission_state("approved" if ds.audience in ("site", "public") else "submittable", None, views),
            "toChangeAudience": {
                "queueOptions": [_option(views, INTERNAL_WORKFLOW_ID, "Internal datasets", "approved")],
                "submission": {
                    "object": "internal_audience_request",
                    "outcome": "change_audience",
                    "details": {"id": ds.id},
                },
            },
        }

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
            approvals = audience_requests(self.store.approvals_for(ds.pk, c))
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
        approvals = audience_requests(self.store.approvals_for(ds.pk, c))
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
            job = None
            if state == "approved" and a.is_audience_request:
                self._approve(c, ds, values, now)
            elif state == "approved":
                values["outcome_status"] = "in_progress"
                job = self.revisions.approved(c, a)
            self.store.update_approval(c, record_id, **values)
        if job is not None:
            self.revisions.start_job(job)  # after the commit, so the job sees its own row
        return self.store.get_approval(record_id)

    def hold_revision(self, c, ds: Dataset, revision_seq: int, account: Account) -> Approval:
        """Inside the apply's transaction: file the revision for review (object ``revision``,
        outcome ``update_published_asset``), or return the submission already waiting for it."""
        held = self.pending_revision(c, ds, revision_seq)
        if held is not None:
            return held
        sid = self.store.insert_approval(
            c,
            ds=ds.pk,
            object="revision",
            outcome=UPDATE_PUBLISHED_ASSET,
            target_audience="public",
            state="pending",
            workflow_id=PUBLIC_WORKFLOW_ID,
            submitted_at=time.time(),
            submitter_id=account.user_id,
            submitter_name=account.name,
            revision_seq=revision_seq,
        )
        return self.store.get_approval(sid, c)

    def pending_revision(self, c, ds: Dataset, revision_seq: int) -> Approval | None:
        found = [a for a in self.store.approvals_for(ds.pk, c) if a.revision_seq == revision_seq]
        return found[-1] if found and found[-1].state == "pending" else None

    def outcome_done(self, c, ds: Dataset, revision_seq: int, ok: bool) -> None:
        """The approved revision's apply job ended: record it on the submission."""
        c.execute(
            "UPDATE approvals SET applied_at=?, outcome_status=? WHERE ds=? AND revision_seq=?"
            " AND outcome_status='in_progress'",
            (time.time(), "success" if ok else "failure", ds.pk, revision_seq),
        )

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


def _option(views: str, workflow_id: int, name: str, expected_state: str) -> dict[str, Any]:
    return {
        "workflowId": workflow_id,
        "displayName": name,
        "submissionUrl": f"{views}?method=startWorkflowSubmission",
        "expectedState": expected_state,
    }


def _submission_state(state: str, latest: Approval | None, views: str) -> dict[str, Any]:
    """The guidance keys that describe a submission (approvals.yaml): the outcome once submitted,
    ``currentOutcomeStatus`` only while an approved outcome is being carried out, the review and
    withdraw URLs only while it is pending."""
    pending = latest if latest and latest.state == "pending" else None
    return {
        "currentState": state,
        "currentOutcome": latest.outcome if latest else None,
        "currentOutcomeStatus": "in_progress" if latest and latest.outcome_status == "in_progress" else None,
        "submissionId": latest.submission_id if latest else None,
        "updateUrl": f"{views}/{pending.submission_id}" if pending else None,
        "withdrawUrl": f"{views}/{pending.submission_id}?method=cancelWorkflowSubmission" if pending else None,
    }


def submission_json(a: Approval) -> dict[str, Any]:
    """What submitting and reviewing answer: the record's API keys (never reviewer or notes)."""
    return {"id": a.submission_id, **approval_json(a)}
