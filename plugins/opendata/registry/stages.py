"""A dataset's publication stage (playbook, Communications: not ready, Stage 1, Stage 2)."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    # The department is still working on it: nothing on the portal yet.
    NOT_READY = "not-ready"
    # Private on the portal, submitted, waiting for the Chief Data Officer's review.
    STAGE_1 = "stage-1"
    # Sent back to the department: refused at Step 1 by its leadership (who, when and why are
    # recorded), or by the Stage 1 reviewer (notes on the portal). Runs skip until the DAG is
    # triggered with {"resubmit": true}.
    REJECTED = "rejected"
    # Approved, waiting for its planned go-live moment (Step 3, strategic publication).
    SCHEDULED = "scheduled"
    # Approved and public.
    STAGE_2 = "stage-2"
    # Public and kept up to date by scheduled refreshes.
    REFRESHING = "refreshing"
    # No longer refreshed, with the Mayor's Office's approval; the data stays published.
    RETIRED = "retired"

    @property
    def is_public(self) -> bool:
        return self in (Stage.STAGE_2, Stage.REFRESHING)
