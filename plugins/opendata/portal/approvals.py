"""Approval state: pure parsers from the Approvals API and view JSON to typed results.

Two sources are combined:

* ``GET /api/views/{id}/approvals?method=guidance_v2&assetId={id}`` gives, per audience
  (``public``, ``internal``), the ``currentState``: ``approved|pending|rejected`` once submitted,
  otherwise ``submittable|unsubmittable``. The older ``method=guidance`` form puts
  ``currentState`` at the top level; both are accepted.
* ``approvals[]`` in ``GET /api/views/{id}.json`` holds the submission records; the latest one
  for the audience is reported. A recorded real record carries ``state, reviewedAt,
  reviewedAutomatically, submittedAt, submitter, submissionId, submissionObject,
  submissionOutcome, submissionOutcomeApplication, targetAudience, workflowId`` and nothing
  else: **no reviewer and no notes** (reference §2.5). The reviewer writes notes through the
  Approvals API, but no documented read gives them back, so this module never pretends to know
  who reviewed or why: :func:`review_account` says so, with the portal link where people can
  read them.

Both the sync hook and the async reader call :func:`approval_status_from_json`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opendata.portal.errors import SocrataUnexpectedResponse
from opendata.portal.models import ApprovalState, parse_timestamp

PUBLIC_AUDIENCE_REQUEST = "public_audience_request"
CHANGE_AUDIENCE = "change_audience"

#: States in which a new submission must not be sent.
NO_RESUBMIT_STATES = frozenset({ApprovalState.PENDING, ApprovalState.APPROVED})


@dataclass(frozen=True)
class ApprovalReview:
    """One submission record from the view's ``approvals[]``, read from its recorded fields only."""

    state: str | None
    reviewed_at: dt.datetime | None
    reviewed_automatically: bool | None
    submitted_at: dt.datetime | None
    submitter: str | None
    submission_id: str | None
    submission_object: str | None
    submission_outcome: str | None
    target_audience: str | None
    #: ``submissionOutcomeApplication.status`` (``success`` once an approved outcome was applied).
    outcome_status: str | None

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> ApprovalReview:
        application = record.get("submissionOutcomeApplication")
        automatic = record.get("reviewedAutomatically")
        return cls(
            state=_str(record.get("state")),
            reviewed_at=parse_timestamp(record.get("reviewedAt")),
            reviewed_automatically=bool(automatic) if automatic is not None else None,
            submitted_at=parse_timestamp(record.get("submittedAt")),
            submitter=_person(record.get("submitter")),
            submission_id=_str(record.get("submissionId")),
            submission_object=_str(record.get("submissionObject")),
            submission_outcome=_str(record.get("submissionOutcome")),
            target_audience=_str(record.get("targetAudience")),
            outcome_status=_str(application.get("status")) if isinstance(application, Mapping) else None,
        )


@dataclass(frozen=True)
class ReviewAccount:
    """What the pipeline can truthfully record about a review: who (as far as the portal says)
    and a note that sends people to the portal for the reviewer's own words."""

    by: str
    notes: str


def review_account(
    *,
    approved: bool,
    reviewed_at: dt.datetime | None,
    reviewed_automatically: bool | None,
    portal_url: str | None,
) -> ReviewAccount:
    """The registry's and the e-mails' account of a review read from the portal (pure).

    The portal's API names neither the reviewer nor their notes, so neither is invented: an
    automatic approval says so; a person's review is "a reviewer on the portal" with the time
    and the portal link where the notes can be read.
    """
    when = reviewed_at.strftime("%Y-%m-%d %H:%M UTC") if reviewed_at else "a time the portal did not report"
    where = f": {portal_url}" if portal_url else ""
    if reviewed_automatically:
        return ReviewAccount(
            by="the portal's automatic approval",
            notes=f"Approved automatically by the portal's approval workflow at {when}{where}.",
        )
    verdict = "Approved" if approved else "Rejected"
    return ReviewAccount(
        by="a reviewer on the portal",
        notes=(
            f"{verdict} on the portal at {when}. The portal's API does not give the reviewer's name or "
            f"notes; read them on the dataset's page on the portal{where}"
        ),
    )


@dataclass(frozen=True)
class ApprovalStatus:
    """Approval state of one asset for one audience (``public`` unless asked otherwise)."""

    dataset_id: str
    audience: str
    state: ApprovalState
    outcome: str | None = None
    outcome_status: str | None = None
    latest_review: ApprovalReview | None = None
    can_submit: bool = False
    raw_guidance: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        """Approved or rejected: a poller can stop."""
        return self.state in (ApprovalState.APPROVED, ApprovalState.REJECTED)

    @property
    def reviewed_at(self) -> dt.datetime | None:
        return self.latest_review.reviewed_at if self.latest_review else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for XCom and trigger events)."""
        review = self.latest_review
        return {
            "dataset_id": self.dataset_id,
            "audience": self.audience,
            "state": self.state.value,
            "outcome": self.outcome,
            "outcome_status": self.outcome_status,
            "can_submit": self.can_submit,
            "reviewed_at": review.reviewed_at.isoformat() if review and review.reviewed_at else None,
            "reviewed_automatically": review.reviewed_automatically if review else None,
            "review_state": review.state if review else None,
        }


@dataclass(frozen=True)
class SubmissionResult:
    """Outcome of :meth:`SocrataHook.submit_for_public_approval`."""

    submitted: bool
    status: ApprovalStatus
    response: Any = field(default=None, repr=False, compare=False)


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _person(value: Any) -> str | None:
    """``submitter`` is recorded as ``{"id", "displayName"}``."""
    if isinstance(value, Mapping):
        return _str(value.get("displayName") or value.get("id"))
    return _str(value)


def guidance_for_audience(guidance: Any, audience: str = "public") -> Mapping[str, Any]:
    """The Guidance object for ``audience`` from a ``guidance_v2`` (or v1) response."""
    if not isinstance(guidance, Mapping):
        raise SocrataUnexpectedResponse(f"Approvals guidance is not an object ({type(guidance).__name__})")
    nested = guidance.get(audience)
    if isinstance(nested, Mapping):
        return nested
    if "currentState" in guidance:  # v1 "guidance": one object at the top level
        return guidance
    raise SocrataUnexpectedResponse(f"Approvals guidance has no {audience!r} entry")


def latest_review(
    approvals: Sequence[Mapping[str, Any]] | None, audience: str = "public"
) -> ApprovalReview | None:
    """Most recent record of ``approvals[]`` for ``audience`` (by reviewedAt, then submittedAt)."""
    best: tuple[float, int, Mapping[str, Any]] | None = None
    for index, record in enumerate(approvals or ()):
        if not isinstance(record, Mapping):
            continue
        target = record.get("targetAudience")
        if target not in (None, "", audience):
            continue
        stamp = parse_timestamp(record.get("reviewedAt")) or parse_timestamp(record.get("submittedAt"))
        key = (stamp.timestamp() if stamp else float("-inf"), index, record)
        if best is None or key[:2] > best[:2]:
            best = key
    return ApprovalReview.from_json(best[2]) if best else None


def _can_submit(g: Mapping[str, Any], state: ApprovalState) -> bool:
    if state in NO_RESUBMIT_STATES or state is ApprovalState.UNSUBMITTABLE:
        return False
    if state in (ApprovalState.SUBMITTABLE, ApprovalState.REJECTED):
        return True
    return bool(g.get("toChangeAudience") or g.get("toPublishAndChangeAudience"))


def approval_status_from_json(
    dataset_id: str,
    guidance: Any,
    approvals: Sequence[Mapping[str, Any]] | None = None,
    audience: str = "public",
) -> ApprovalStatus:
    """Combine a guidance response and the view's ``approvals[]`` into an :class:`ApprovalStatus`."""
    g = guidance_for_audience(guidance, audience)
    state = ApprovalState.parse(g.get("currentState"))
    return ApprovalStatus(
        dataset_id=dataset_id,
        audience=audience,
        state=state,
        outcome=_str(g.get("currentOutcome")),
        outcome_status=_str(g.get("currentOutcomeStatus")),
        latest_review=latest_review(approvals, audience),
        can_submit=_can_submit(g, state),
        raw_guidance=g,
    )


def submission_body(guidance_entry: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Body for ``POST …/approvals?method=startWorkflowSubmission`` (public audience request).

    Always ``{"object": "public_audience_request", "outcome": "change_audience"}``; when the
    guidance offers a ``toChangeAudience.submission`` template with ``details``, those are added.
    """
    body: dict[str, Any] = {"object": PUBLIC_AUDIENCE_REQUEST, "outcome": CHANGE_AUDIENCE}
    template = None
    if isinstance(guidance_entry, Mapping):
        change = guidance_entry.get("toChangeAudience")
        if isinstance(change, Mapping):
            template = change.get("submission")
    if isinstance(template, Mapping) and isinstance(template.get("details"), Mapping):
        if template.get("object", PUBLIC_AUDIENCE_REQUEST) == PUBLIC_AUDIENCE_REQUEST:
            body["details"] = dict(template["details"])
    return body
