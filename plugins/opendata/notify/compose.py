"""Build a notification from an event, a dataset and the governance file. Pure: no I/O
beyond reading the bundled templates, no Airflow, no network.

``details`` carries what only the caller knows. Every key is optional; a missing or empty one
is left out of the message:

====================  =====================================================================
``portal_url``        the dataset's page on the portal (http/https; other schemes are shown,
                      never linked)
``portal_id``         the portal's four-by-four id
``report_path``       where the Data Submission Checklist report was written
``report_url``        a link to that report in the Airflow UI (preferred over ``report_path``,
                      which is a worker's file and is shown only when there is no link)
``validation_summary``  a short, possibly multi-line summary of the data checks
``warnings``          the validation warnings, one text each (the first few; see ``warnings_total``)
``warnings_total``    how many warnings there are in all
``report_attached``   the checklist report is attached to the message (its file name)
``reason_missing``    DEPARTMENT_REJECTED: the person rejected without giving a reason
``run_kind``          REFRESH_FAILED: ``refresh`` or ``publication`` (what the run was doing;
                      unknown: "a run")
``reviewer``          who approved or rejected (a name, or what the portal tells of them)
``notes``             notes: a person's own words where the pipeline has them, else where to
                      read them (the portal's API does not return a reviewer's notes)
``reviewed_at``       when (datetime, date or text)
``days_pending``      how long the Stage 1 review has waited (number of days);
                      default for REVIEW_REMINDER: the dataset's ``review_reminder_days``
``not_before``        when the dataset goes public (datetime or text); default: the dataset's
                      ``publication.not_before``
``airflow_url``       a link to the Airflow run, task or its log
``run_id``            the Airflow run id
``task_id``           the Airflow task id
``error``             the error (only its first lines are kept)
``rows``              counts, e.g. ``{"upserted": 1200, "deleted": 3}``
``shrink_problem``    SHRINK_APPROVAL_REQUESTED: what the refresh would do beyond the file's limit
``freshness_state``   FRESHNESS_DUE: ``due`` or ``overdue``
``last_update``       FRESHNESS_DUE: the portal's last data update (datetime, or text: "never")
``days_late``         FRESHNESS_DUE: days past one promised cycle (number)
``due_at``            FRESHNESS_DUE: when the data became (or becomes) due
``overdue_at``        FRESHNESS_DUE: when it is (or was) overdue and in the CDO's digest
``findings``          FRESHNESS_DUE: the monitor's cross-check findings (list of text)
``comment_count``     COMMENT_*: the dataset's number of public comments
``new_comments``      COMMENT_RECEIVED: how many are new since the last reading
``waiting_since``     COMMENT_*: when the monitor first saw an unanswered comment
``answer_by``         COMMENT_RECEIVED: when the 48 business hours are up
``hours_waited``      COMMENT_REMINDER: business hours waited so far (number)
``mark_answered``     COMMENT_*: how to mark the comments answered (a command)
====================  =====================================================================

Unknown keys are ignored. Nothing here reads connections, so a message can never carry a
credential unless a caller puts one in ``details``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import getaddresses
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from opendata.notify.events import RECIPIENTS, NotificationEvent, Role
from opendata.spec.base import Contact
from opendata.spec.dataset import DatasetSpec
from opendata.spec.governance import Governance

SUBJECT_PREFIX = "[Open Data]"
TEMPLATES_DIR = Path(__file__).parent / "templates"

#: The keys templates understand (see the module docstring).
DETAIL_KEYS = (
    "portal_url", "portal_id", "report_path", "report_url", "validation_summary", "reviewer", "notes",
    "reviewed_at", "days_pending", "not_before", "airflow_url", "run_id", "task_id", "error", "rows",
    "warnings", "warnings_total", "report_attached", "reason_missing", "run_kind",
    "shrink_problem", "freshness_state", "last_update", "days_late", "due_at", "overdue_at", "findings",
    "comment_count", "new_comments", "waiting_since", "answer_by", "hours_waited", "mark_answered",
)

#: Only this much of an error reaches a message; the log link has the rest.
ERROR_MAX_LINES = 15
ERROR_MAX_CHARS = 2000

_ROLE_LABELS = {
    Role.CDO: "the Chief Data Officer",
    Role.POLICY_TEAM: "the Mayor's Office policy team",
    Role.COMMUNICATIONS: "the Mayor's Office communications team",
    Role.LEADERSHIP: "department leadership",
    Role.COORDINATORS: "the department's open data coordinators",
    Role.STEWARD: "the dataset's data steward",
}


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (e.g. the Data Submission Checklist report as HTML)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Message:
    """One notification, ready to send. Addresses are ``"Name <email>"``."""

    subject: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    text: str
    html: str
    event: str = ""
    dataset_id: str = ""
    attachments: tuple[Attachment, ...] = ()

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        """The bare addresses of To and Cc, for the SMTP envelope."""
        return tuple(addr for _, addr in getaddresses([*self.to, *self.cc]) if addr)


class RecipientError(ValueError):
    """The governance file cannot name who should receive a notification."""


# --- recipients ---------------------------------------------------------------------------


def _people(governance: Governance, keys: Iterable[str], what: str) -> list[Contact]:
    found: list[Contact] = []
    for key in keys:
        if key not in governance.people:
            raise RecipientError(f"{what}: {key!r} is not a person in the governance file")
        found.append(governance.people[key])
    return found


def role_contacts(role: Role, spec: DatasetSpec, governance: Governance) -> list[Contact]:
    """The people a role means for this dataset, in a stable order."""
    department = governance.departments.get(spec.department)
    if role is Role.CDO:
        return _people(governance, [governance.chief_data_officer], "chief_data_officer")
    if role is Role.POLICY_TEAM:
        return _people(governance, governance.policy_team, "policy_team")
    if role is Role.COMMUNICATIONS:
        return _people(governance, governance.communications, "communications")
    if role is Role.LEADERSHIP:
        return _people(governance, department.leadership if department else [], f"{spec.department} leadership")
    if role is Role.COORDINATORS:
        keys = [spec.coordinator, *(department.coordinators if department else [])]
        return _people(governance, dict.fromkeys(keys), f"{spec.id} coordinator")
    if role is Role.STEWARD:
        return [spec.steward]
    raise ValueError(f"unknown role {role!r}")


def format_address(contact: Contact) -> str:
    """``Name <email>``, quoting the name when it needs it (a comma, for instance)."""
    return str(Address(display_name=contact.name, addr_spec=contact.email))


def resolve_recipients(event: NotificationEvent, spec: DatasetSpec,
                       governance: Governance) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(To, Cc) for an event: one copy per e-mail address, To winning over Cc."""
    row = RECIPIENTS[NotificationEvent(event)]
    seen: set[str] = set()

    def collect(roles: Iterable[Role]) -> tuple[str, ...]:
        out = []
        for role in roles:
            for contact in role_contacts(role, spec, governance):
                key = contact.email.lower()
                if key not in seen:
                    seen.add(key)
                    out.append(format_address(contact))
        return tuple(out)

    to = collect(row.to)
    cc = collect(row.cc)
    if not to:
        raise RecipientError(f"no recipients for {event} of {spec.id}: check the governance file")
    return to, cc


# --- formatting helpers (plain Python so both templates agree) ------------------------------


def format_when(value: Any) -> str | None:
    """A datetime as ``2026-12-01 09:00 (UTC-08:00)``; dates and text as given."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return f"{value:%Y-%m-%d %H:%M}"
        offset = value.strftime("%z")
        zone = "UTC" if offset in ("+0000", "-0000") else f"UTC{offset[:3]}:{offset[3:]}"
        return f"{value:%Y-%m-%d %H:%M} ({zone})"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def format_days(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    shown = f"{number:.1f}".rstrip("0").rstrip(".")
    return f"{shown} day" if shown == "1" else f"{shown} days"


def error_excerpt(error: Any) -> str | None:
    """The first lines of an error, bounded in lines and characters."""
    if error is None:
        return None
    text = str(error).strip()
    if not text:
        return None
    lines = text.splitlines()
    kept = "\n".join(lines[:ERROR_MAX_LINES])
    cut = len(lines) > ERROR_MAX_LINES
    if len(kept) > ERROR_MAX_CHARS:
        kept, cut = kept[:ERROR_MAX_CHARS].rstrip(), True
    return kept + ("\n[... see the log for the rest]" if cut else "")


def safe_link(url: Any) -> str | None:
    """``url`` if it is an http(s) or mailto link, else None (it is then shown, not linked)."""
    if not url:
        return None
    url = str(url).strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https", "mailto") else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    url: str | None = None


# Facts shown as they are, when the event has them: (label, the view's key), in display order.
_REVIEW_FACTS = (("Reviewer", "reviewer"), ("Reviewed at", "reviewed_at"), ("Waiting for", "days_pending"),
                 ("Public from", "not_before"))
_WAIT_FACTS = (("Public comments", "comment_count"), ("Waiting since", "waiting_since"), ("Answer by", "answer_by"),
               ("Airflow run", "run_id"), ("Airflow task", "task_id"))


def _facts(view: Mapping[str, Any], spec: DatasetSpec, department_name: str) -> list[Fact]:
    facts = [Fact("Dataset", f"{spec.name} ({spec.id})"), Fact("Department", department_name)]
    if view["portal_url"]:
        facts.append(Fact("Portal page", view["portal_url"], safe_link(view["portal_url"])))
    if view["portal_id"]:
        facts.append(Fact("Portal id", view["portal_id"]))
    if view["report_url"] or view["report_path"]:
        # A link people can open (the Airflow UI) wins over a path on a worker nobody else reads.
        link = safe_link(view["report_url"])
        facts.append(Fact("Checklist report", link or view["report_path"] or view["report_url"], link))
    if view["report_attached"]:
        facts.append(Fact("Attached", view["report_attached"]))
    facts.extend(Fact(label, view[key]) for label, key in _REVIEW_FACTS if view[key])
    if view["freshness_state"]:
        facts.append(Fact("Promised updates", spec.update_frequency.value))
        facts.append(Fact("Last update", view["last_update"] or "never"))
    if view["days_late"]:
        facts.append(Fact("Late by", view["days_late"]))
    if view["due_at"]:
        facts.append(Fact("Due since" if view["freshness_state"] else "Due", view["due_at"]))
    if view["overdue_at"] and view["freshness_state"] != "overdue":
        facts.append(Fact("Overdue from", view["overdue_at"]))
    facts.extend(Fact(label, view[key]) for label, key in _WAIT_FACTS if view[key])
    if view["airflow_url"]:
        facts.append(Fact("In Airflow", view["airflow_url"], safe_link(view["airflow_url"])))
    for name, count in view["rows"]:
        facts.append(Fact(f"Rows {name}", count))
    return facts


def _rows(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, Mapping):
        return []
    out = []
    for name, count in value.items():
        shown = f"{count:,}" if isinstance(count, int) and not isinstance(count, bool) else str(count)
        out.append((str(name).replace("_", " "), shown))
    return out


def _count(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    return f"{value:,}" if isinstance(value, int) else str(value)


def _more(total: Any, shown: Any) -> int:
    """How many warnings the message does not name (0 when it names them all)."""
    try:
        return max(int(total or 0) - len(shown or ()), 0)
    except (TypeError, ValueError):
        return 0


def _hours(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return f"{float(value):.0f} business hours"
    except (TypeError, ValueError):
        return str(value)


# Details shown as text, and details that are times (formatted in the city's time zone).
_TEXT_DETAILS = ("portal_url", "portal_id", "report_path", "report_url", "validation_summary", "report_attached",
                 "run_kind", "reviewer", "notes", "airflow_url", "run_id", "task_id", "shrink_problem",
                 "freshness_state", "mark_answered")
_TIME_DETAILS = ("reviewed_at", "last_update", "due_at", "overdue_at", "waiting_since", "answer_by")


def _view(event: NotificationEvent, spec: DatasetSpec, details: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized details: every documented key present, formatted, None when absent."""
    get = details.get
    days = get("days_pending")
    if days in (None, "") and event is NotificationEvent.REVIEW_REMINDER:
        days = spec.publication.review_reminder_days
    not_before = get("not_before")
    if not_before in (None, "") and event in (NotificationEvent.SCHEDULED_GO_LIVE, NotificationEvent.WENT_LIVE):
        not_before = spec.publication.not_before
    view: dict[str, Any] = {key: _text(get(key)) for key in _TEXT_DETAILS}
    view.update({key: format_when(get(key)) for key in _TIME_DETAILS})
    view.update({
        "warnings": [text for text in (_text(w) for w in get("warnings") or ()) if text],
        "warnings_more": _more(get("warnings_total"), get("warnings")),
        "reason_missing": bool(get("reason_missing")),
        "days_pending": format_days(days),
        "not_before": format_when(not_before),
        "error": error_excerpt(get("error")),
        "rows": _rows(get("rows")),
        "days_late": format_days(get("days_late")),
        "findings": [text for text in (_text(f) for f in get("findings") or ()) if text],
        "comment_count": _count(get("comment_count")),
        "new_comments": _count(get("new_comments")),
        "hours_waited": _hours(get("hours_waited")),
    })
    return view


# --- templates ----------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    """Text templates are ``<event>.txt``, HTML ones ``<event>.html`` (autoescaped)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(safe_link=safe_link, when=format_when, days=format_days)
    return env


def _audience(event: NotificationEvent) -> str:
    row = RECIPIENTS[event]
    labels = list(dict.fromkeys(_ROLE_LABELS[role] for role in (*row.to, *row.cc)))
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def compose(event: NotificationEvent | str, spec: DatasetSpec, governance: Governance,
            details: Mapping[str, Any] | None = None) -> Message:
    """The message for ``event`` about ``spec``; recipients from ``governance``."""
    event = NotificationEvent(event)
    to, cc = resolve_recipients(event, spec, governance)
    view = _view(event, spec, details or {})
    department = governance.departments.get(spec.department)
    department_name = department.name if department else spec.department
    coordinator = governance.people.get(spec.coordinator)
    context = {
        "event": event,
        "spec": spec,
        "name": spec.name,
        "department": department_name,
        "steward": spec.steward,
        "coordinator": coordinator,
        "cdo": governance.cdo,
        "d": view,
        "facts": _facts(view, spec, department_name),
        "audience": _audience(event),
    }
    env = environment()
    text_template = env.get_template(f"{event.value}.txt")
    subject_parts = text_template.blocks["subject"](text_template.new_context(context))
    subject = f"{SUBJECT_PREFIX} " + " ".join("".join(subject_parts).split())
    context["subject"] = subject
    text = text_template.render(context)
    html = env.get_template(f"{event.value}.html").render(context)
    return Message(subject=subject, to=to, cc=cc, text=text, html=html, event=event.value, dataset_id=spec.id)
