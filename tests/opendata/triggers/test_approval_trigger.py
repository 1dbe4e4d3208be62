"""When the approval trigger fires (pure) and that it serializes for the triggerer."""

from __future__ import annotations

import datetime as dt

from opendata.portal.models import ApprovalState
from opendata.sensors.approval import next_reminder
from opendata.triggers.approval import PublicApprovalTrigger, due_event

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=30)


def test_decided_reviews_fire_at_once():
    assert due_event(ApprovalState.APPROVED, NOW, None, LATER) == "approved"
    assert due_event(ApprovalState.REJECTED, NOW, None, LATER) == "rejected"


def test_pending_fires_reminder_then_timeout():
    assert due_event(ApprovalState.PENDING, NOW, NOW + dt.timedelta(days=3), LATER) is None
    assert due_event(ApprovalState.PENDING, NOW, NOW, LATER) == "remind"
    assert due_event(ApprovalState.PENDING, LATER, NOW, LATER) == "timeout"


def test_next_reminder_is_a_whole_number_of_periods_after_submission():
    submitted = NOW - dt.timedelta(days=7, hours=1)
    assert next_reminder(submitted, NOW, dt.timedelta(days=3)) == submitted + dt.timedelta(days=9)
    assert next_reminder(NOW, NOW, dt.timedelta(days=3)) == NOW + dt.timedelta(days=3)


def test_trigger_serializes_to_its_classpath():
    trigger = PublicApprovalTrigger(portal_id="abcd-1234", conn_id="socrata_default", poll_seconds=60,
                                    give_up_at=LATER.isoformat(), remind_at=None)
    path, kwargs = trigger.serialize()
    assert path == "opendata.triggers.approval.PublicApprovalTrigger"
    assert PublicApprovalTrigger(**kwargs).serialize() == (path, kwargs)
