"""Whether to create a dataset on the portal, adopt one an earlier attempt created, or wait (pure).

Creating an asset is the one portal write whose lost answer cannot be read back by id, so the
pipeline records its intent before creating, marks the asset with the dataset's id, and on every
attempt looks for that marker first. The catalog that answers the lookup may take a while to list
a new asset, so after an attempt whose outcome is unknown the pipeline waits for the catalog
rather than create a second dataset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opendata.registry import DatasetState
    from opendata.spec.dataset import DatasetSpec


class CreationAction(StrEnum):
    ADOPT = "adopt"      # an asset carrying the marker exists: it is this dataset's
    CREATE = "create"    # nothing exists and nothing may be on its way: create it
    WAIT = "wait"        # an earlier attempt may have created it; the catalog may not list it yet


@dataclass(frozen=True)
class CreationDecision:
    action: CreationAction
    reason: str
    portal_id: str | None = None
    #: Further assets carrying the marker (an earlier fault's leftovers): reported, never deleted.
    strays: tuple[str, ...] = ()
    #: For WAIT: when creating becomes safe.
    retry_after: dt.datetime | None = None


def decide_creation(found: Sequence[str], *, intent_at: dt.datetime | None, now: dt.datetime,
                    catalog_lag: dt.timedelta) -> CreationDecision:
    """``found``: ids of assets carrying the marker, oldest first. ``intent_at``: when an earlier
    attempt that never recorded a portal id started creating (None: no such attempt)."""
    if found:
        first, *rest = found
        reason = "found on the portal by its marker"
        if rest:
            reason += f"; {len(rest)} more marked asset(s) left alone: {', '.join(rest)}"
        return CreationDecision(CreationAction.ADOPT, reason, portal_id=first, strays=tuple(rest))
    if intent_at is None:
        return CreationDecision(CreationAction.CREATE, "not on the portal, no earlier attempt")
    safe_at = intent_at + catalog_lag
    if now < safe_at:
        return CreationDecision(
            CreationAction.WAIT,
            f"an attempt started at {intent_at:%Y-%m-%d %H:%M:%S} UTC may have created it and the catalog "
            f"may not list it yet; creating again only after {safe_at:%H:%M:%S} UTC",
            retry_after=safe_at)
    return CreationDecision(
        CreationAction.CREATE,
        f"an attempt started at {intent_at:%Y-%m-%d %H:%M:%S} UTC left nothing the catalog lists after "
        f"{catalog_lag.total_seconds():g}s; creating it")


def creation_refusal(spec: DatasetSpec, state: DatasetState | None, portal_base_url: str) -> str | None:
    """Why the dataset must not be created on the portal (None: it may). A dataset taken over
    from the portal (``opendata adopt``) exists there already: it is never created, even when the
    registry lost its portal id or its row; its file's ``existing_publication.link`` names its
    page on this portal."""
    if state is not None and state.adopted:
        return (f"{spec.id} was adopted from the portal on {state.adopted_at:%Y-%m-%d} by {state.adopted_by}; an "
                f"adopted dataset is never created, and the registry records no portal id for it: restore it "
                f"(or adopt it again) before the next run. Nothing was sent")
    link = spec.existing_publication.link
    page = f"{portal_base_url.rstrip('/')}/d/"
    if spec.existing_publication.published and link is not None and str(link).startswith(page):
        return (f"{spec.id}: its file says it is published on this portal already ({link}) but the registry has "
                f"no record of it: run `opendata adopt {str(link)[len(page):].strip('/')} --id {spec.id} "
                f"--department {spec.department} --by <person> --overwrite` to take it over instead of creating "
                f"a second copy. Nothing was sent")
    return None
