"""Notifications of the publication workflow: e-mail (SMTP provider) and optionally Slack.

    events    NotificationEvent, Role, RECIPIENTS (the one recipient table)
    compose   compose(event, spec, governance, details) -> Message (pure)
    digest    compose_digest(event, digest, governance, details) -> Message (pure; many datasets)
    send      send(message, smtp_conn_id=..., slack_conn_id=...)
    notifier  OpenDataNotifier (an Airflow BaseNotifier) and notify(...) for task code
    mailbox   a local mail catcher for the demo and tests (opendata mailbox)

Names are imported lazily, so ``import opendata.notify`` stays cheap.
"""

from __future__ import annotations

from opendata._lazy import lazy_exports

_EXPORTS = {
    "NotificationEvent": "opendata.notify.events",
    "Role": "opendata.notify.events",
    "RECIPIENTS": "opendata.notify.events",
    "DigestEvent": "opendata.notify.events",
    "DIGEST_RECIPIENTS": "opendata.notify.events",
    "DigestRow": "opendata.notify.digest",
    "Digest": "opendata.notify.digest",
    "compose_digest": "opendata.notify.digest",
    "Message": "opendata.notify.compose",
    "Attachment": "opendata.notify.compose",
    "compose": "opendata.notify.compose",
    "send": "opendata.notify.send",
    "NotificationError": "opendata.notify.send",
    "OpenDataNotifier": "opendata.notify.notifier",
    "notify": "opendata.notify.notifier",
    "start_mailbox": "opendata.notify.mailbox",
    "local_smtp_connection": "opendata.notify.mailbox",
}

__all__ = sorted(_EXPORTS)

# Lazy, so that DAG files can import small modules of this package at parse time without
# pulling in the heavy ones.
__getattr__ = lazy_exports(__name__, _EXPORTS)
