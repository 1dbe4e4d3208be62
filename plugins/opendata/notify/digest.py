"""Messages about many datasets at once: the Chief Data Officer's overdue digest. Pure, like
:func:`opendata.notify.compose.compose`, but fed with rows instead of one dataset file.

    message = compose_digest(DigestEvent.OVERDUE_DIGEST, Digest(overdue=rows, ...), governance)

The caller (the freshness monitor) decides which datasets are in which section; this module
only lays them out, in text and HTML, with links that are links only when they are http(s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opendata.notify.compose import (
    SUBJECT_PREFIX,
    Message,
    RecipientError,
    environment,
    format_address,
    format_days,
    format_when,
)
from opendata.notify.events import DIGEST_RECIPIENTS, DigestEvent, Role
from opendata.spec.base import Contact
from opendata.spec.governance import Governance

_GOVERNANCE_ROLES = (Role.CDO, Role.POLICY_TEAM, Role.COMMUNICATIONS)


def _governance_contacts(role: Role, governance: Governance) -> list[Contact]:
    keys = {Role.CDO: [governance.chief_data_officer], Role.POLICY_TEAM: governance.policy_team,
            Role.COMMUNICATIONS: governance.communications}[role]
    missing = [key for key in keys if key not in governance.people]
    if missing:
        raise RecipientError(f"{role}: {missing[0]!r} is not a person in the governance file")
    return [governance.people[key] for key in keys]


@dataclass(frozen=True)
class DigestRow:
    """One dataset in a digest."""

    dataset_id: str
    name: str
    department: str
    steward: str
    frequency: str
    last_update: dt.datetime | None = None
    days_late: float | None = None
    cycles_late: float | None = None
    dag_url: str | None = None
    portal_url: str | None = None
    notes: tuple[str, ...] = ()
    #: When this dataset was first reported in this state (a re-alert shows it).
    first_reported_at: dt.datetime | None = None


@dataclass(frozen=True)
class Digest:
    #: Reported now: new, changed, or past the re-alert interval.
    overdue: tuple[DigestRow, ...]
    #: Overdue and reported before (listed for the full picture).
    still_overdue: tuple[DigestRow, ...] = ()
    #: Not overdue, but the monitor's cross-checks disagree.
    disagreements: tuple[DigestRow, ...] = ()
    #: Irregular or historical: listed, never alerted.
    unscheduled: tuple[DigestRow, ...] = ()
    #: Public datasets the monitor judged in this pass.
    monitored: int = 0
    generated_at: dt.datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def digest_recipients(event: DigestEvent, governance: Governance) -> tuple[tuple[str, ...], tuple[str, ...]]:
    row = DIGEST_RECIPIENTS[DigestEvent(event)]
    seen: set[str] = set()

    def collect(roles: Iterable[Role]) -> tuple[str, ...]:
        out = []
        for role in roles:
            if role not in _GOVERNANCE_ROLES:
                raise RecipientError(f"{role} depends on a dataset; a digest cannot be sent to it")
            for contact in _governance_contacts(role, governance):
                if contact.email.lower() not in seen:
                    seen.add(contact.email.lower())
                    out.append(format_address(contact))
        return tuple(out)

    to, cc = collect(row.to), collect(row.cc)
    if not to:
        raise RecipientError(f"no recipients for {event}: check the governance file")
    return to, cc


def _row_view(row: DigestRow) -> dict[str, Any]:
    return {
        "id": row.dataset_id,
        "name": row.name,
        "department": row.department,
        "steward": row.steward,
        "frequency": row.frequency,
        "last_update": format_when(row.last_update) or "never",
        # Zero (within the promised cycle) is not worth a line.
        "days_late": format_days(round(row.days_late, 1)) if row.days_late else None,
        "cycles_late": f"{row.cycles_late:.1f}" if row.cycles_late else None,
        "dag_url": row.dag_url,
        "portal_url": row.portal_url,
        "notes": list(row.notes),
        "first_reported_at": format_when(row.first_reported_at),
    }


def compose_digest(event: DigestEvent | str, digest: Digest, governance: Governance,
                   details: Mapping[str, Any] | None = None) -> Message:
    """The digest message; templates ``<event>.txt`` / ``<event>.html``."""
    event = DigestEvent(event)
    to, cc = digest_recipients(event, governance)
    details = dict(details or {})
    context = {
        "event": event,
        "cdo": governance.cdo,
        "overdue": [_row_view(r) for r in digest.overdue],
        "still_overdue": [_row_view(r) for r in digest.still_overdue],
        "disagreements": [_row_view(r) for r in digest.disagreements],
        "unscheduled": [_row_view(r) for r in digest.unscheduled],
        "monitored": digest.monitored,
        "generated_at": format_when(digest.generated_at),
        "airflow_url": details.get("airflow_url"),
        "realert": format_days(details.get("realert_days")),
    }
    env = environment()
    text_template = env.get_template(f"{event.value}.txt")
    subject_parts = text_template.blocks["subject"](text_template.new_context(context))
    subject = f"{SUBJECT_PREFIX} " + " ".join("".join(subject_parts).split())
    context["subject"] = subject
    return Message(subject=subject, to=to, cc=cc, text=text_template.render(context),
                   html=env.get_template(f"{event.value}.html").render(context), event=event.value)
