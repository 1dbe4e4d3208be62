"""Polls the portal's approval state for one dataset from Airflow's triggerer.

The wait for the Chief Data Officer's review can last days; the trigger holds no worker slot.
It fires once: when the review is decided, when a reminder is due, or when the wait is over.
It does no HTTP of its own: it asks :meth:`SocrataHook.aget_approval_status
<opendata.portal.hook.SocrataHook.aget_approval_status>`, as Airflow's ``HttpTrigger`` asks
``HttpAsyncHook``; the hook reads the connection and owns the client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from opendata.portal.models import ApprovalState

if TYPE_CHECKING:
    from opendata.portal.approvals import ApprovalReview, ApprovalStatus
    from opendata.portal.hook import SocrataHook

APPROVED = "approved"
REJECTED = "rejected"
REMIND = "remind"
TIMEOUT = "timeout"
ERROR = "error"


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def review_details(review: ApprovalReview | None) -> dict[str, Any]:
    """What the portal tells of the latest review (an ApprovalReview or None): when, and whether
    it was automatic. The portal's API gives no reviewer name and no notes."""
    return {"reviewed_at": review.reviewed_at.isoformat() if review and review.reviewed_at else None,
            "reviewed_automatically": review.reviewed_automatically if review else None}


def due_event(state: ApprovalState, now: dt.datetime, remind_at: dt.datetime | None,
              give_up_at: dt.datetime) -> str | None:
    """Which event (if any) the trigger fires now (pure, unit-tested)."""
    if state is ApprovalState.APPROVED:
        return APPROVED
    if state is ApprovalState.REJECTED:
        return REJECTED
    if now >= give_up_at:
        return TIMEOUT
    if remind_at is not None and now >= remind_at:
        return REMIND
    return None


class PublicApprovalTrigger(BaseTrigger):
    """Poll the approval state of ``portal_id`` every ``poll_seconds`` through the ``socrata``
    connection ``conn_id`` until it is decided, a reminder is due (``remind_at``) or the wait is
    over (``give_up_at``); both moments are ISO-8601 text (they travel in ``serialize()``)."""

    def __init__(self, *, portal_id: str, conn_id: str, poll_seconds: float, give_up_at: str,
                 remind_at: str | None = None) -> None:
        super().__init__()
        self.portal_id = portal_id
        self.conn_id = conn_id
        self.poll_seconds = poll_seconds
        self.give_up_at = give_up_at
        self.remind_at = remind_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("opendata.triggers.approval.PublicApprovalTrigger", {
            "portal_id": self.portal_id, "conn_id": self.conn_id, "poll_seconds": self.poll_seconds,
            "give_up_at": self.give_up_at, "remind_at": self.remind_at,
        })

    def hook(self) -> SocrataHook:
        """The hook the trigger polls through (one per run: the connection is read once)."""
        from opendata.portal.hook import SocrataHook

        return SocrataHook(socrata_conn_id=self.conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from opendata.portal.errors import SocrataAuthError, SocrataConfigError, SocrataError, SocrataNotFound

        hook = self.hook()
        give_up_at = dt.datetime.fromisoformat(self.give_up_at)
        remind_at = _parse(self.remind_at)
        while True:
            status: ApprovalStatus | None
            try:
                status = await hook.aget_approval_status(self.portal_id)
                state = status.state
            except (SocrataAuthError, SocrataNotFound) as exc:
                # Nothing a later poll can fix: hand it back to the task to fail clearly.
                yield TriggerEvent({"status": ERROR, "message": str(exc)})
                return
            except SocrataConfigError:
                raise  # an unusable connection fails the trigger at once, not after days of polling
            except SocrataError as exc:
                # The portal is down for a while (retries already done): keep waiting.
                self.log.warning("Could not read the approval state of %s: %s", self.portal_id, exc)
                state = ApprovalState.PENDING
                status = None
            now = dt.datetime.now(dt.UTC)
            event = due_event(state, now, remind_at, give_up_at)
            if event is not None:
                review = status.latest_review if status is not None else None
                yield TriggerEvent({"status": event, **review_details(review)})
                return
            next_deadline = min(d for d in (give_up_at, remind_at) if d is not None)
            await asyncio.sleep(max(0.0, min(self.poll_seconds, (next_deadline - now).total_seconds())))
