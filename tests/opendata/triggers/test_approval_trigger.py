"""When the approval trigger fires (pure), that it serializes for the triggerer, and that it reads the
portal through the hook's async method (against the portal emulator, over real HTTP)."""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

import opendata.triggers.approval
from opendata.portal.errors import SocrataConfigError
from opendata.portal.hook import SocrataHook
from opendata.portal.models import ApprovalState, ColumnSpec
from opendata.sensors.approval import next_reminder
from opendata.triggers.approval import PublicApprovalTrigger, due_event
from portal_emulator import testing

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


def test_a_trigger_serialized_before_the_hook_change_still_loads():
    """The keyword names and values the triggerer stored for deferred tasks are unchanged."""
    stored = {"portal_id": "abcd-1234", "conn_id": "socrata_default", "poll_seconds": 60.0,
              "give_up_at": "2026-12-27T12:00:00+00:00", "remind_at": "2026-11-30T12:00:00+00:00"}
    trigger = PublicApprovalTrigger(**stored)
    assert trigger.serialize() == ("opendata.triggers.approval.PublicApprovalTrigger", stored)


# -- the trigger asks the hook; the hook talks to the portal (the emulator, over real HTTP) ----------

TRIGGER_SOURCE = Path(opendata.triggers.approval.__file__)
PUBLISHER = ("pub-trig", "Pw-Trigger-4rT!")
ACCOUNTS = {"publisher": PUBLISHER, "reviewer": ("cdo", "Pw-Cdo-9x"), "admin": ("admin", "Pw-Admin-2q")}


def test_the_trigger_does_no_http_of_its_own():
    """No httpx, no connection parsing, no async fetch helper: only the hook's async method."""
    imported = set()
    for node in ast.walk(ast.parse(TRIGGER_SOURCE.read_text())):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not imported & {"opendata.portal.aio", "fetch_approval_status", "get_json", "opendata.portal.config",
                           "SocrataConnectionConfig", "httpx", "requests", "BaseHook"}
    assert {"opendata.portal.hook", "SocrataHook"} <= imported
    assert "aget_approval_status" in TRIGGER_SOURCE.read_text()


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with testing.run_emulator(tmp_path_factory.mktemp("portal"), accounts=ACCOUNTS) as emulator:
        yield emulator


def conn(url: str, login: str, password: str) -> str:
    extra = {"connect_timeout": 2, "read_timeout": 20, "max_retries": 1, "backoff_base": 0.01}
    return json.dumps({"conn_type": "socrata", "host": url, "login": login, "password": password, "extra": extra})


@pytest.fixture
def hook(emu, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", conn(emu.url, *PUBLISHER))
    with SocrataHook() as h:
        yield h


@pytest.fixture
def polls(monkeypatch):
    """Every call of the real SocrataHook.aget_approval_status (still doing its real work)."""
    calls: list[tuple[str, str]] = []
    real = SocrataHook.aget_approval_status

    async def counted(self, dataset_id, audience="public"):
        calls.append((self.socrata_conn_id, dataset_id))
        return await real(self, dataset_id, audience)

    monkeypatch.setattr(SocrataHook, "aget_approval_status", counted)
    return calls


def submitted_dataset(hook: SocrataHook, name: str) -> str:
    dataset_id = hook.create_dataset(name, [ColumnSpec("permit_id", "Permit ID", "text")], row_identifier="permit_id")
    hook.upsert(dataset_id, [{"permit_id": "P1"}])
    hook.publish(dataset_id)
    assert hook.submit_for_public_approval(dataset_id).status.state is ApprovalState.PENDING
    return dataset_id


def trigger_for(dataset_id: str, *, conn_id: str = "socrata_default", poll_seconds: float = 60,
                remind_at: dt.datetime | None = None) -> PublicApprovalTrigger:
    give_up_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    return PublicApprovalTrigger(portal_id=dataset_id, conn_id=conn_id, poll_seconds=poll_seconds,
                                 give_up_at=give_up_at.isoformat(),
                                 remind_at=remind_at.isoformat() if remind_at else None)


async def first_event(trigger: PublicApprovalTrigger, timeout: float = 60) -> dict:
    events = trigger.run()
    try:
        event = await asyncio.wait_for(anext(events), timeout)
    finally:
        await events.aclose()
    return event.payload


def test_an_approved_review_fires_through_the_hooks_async_method(emu, hook, polls):
    dataset_id = submitted_dataset(hook, "Trigger: approved")
    emu.review(dataset_id, "approved")
    payload = asyncio.run(first_event(trigger_for(dataset_id)))
    status = hook.get_approval_status(dataset_id)
    assert payload == {"status": "approved", "reviewed_at": status.reviewed_at.isoformat(),
                       "reviewed_automatically": False}
    assert polls == [("socrata_default", dataset_id)]


def test_the_trigger_polls_until_the_reviewer_decides(emu, hook, polls):
    dataset_id = submitted_dataset(hook, "Trigger: waits, then rejected")

    async def scenario() -> dict:
        waiting = asyncio.ensure_future(first_event(trigger_for(dataset_id, poll_seconds=0.2)))
        while len(polls) < 2:  # pending at least twice: the trigger keeps polling through the hook
            assert not waiting.done()
            await asyncio.sleep(0.05)
        await asyncio.to_thread(emu.review, dataset_id, "rejected", "no data dictionary")
        return await waiting

    payload = asyncio.run(scenario())
    assert payload["status"] == "rejected" and payload["reviewed_at"] is not None
    assert len(polls) >= 3 and {conn_id for conn_id, _ in polls} == {"socrata_default"}


def test_a_due_reminder_fires_while_pending(hook, polls):
    dataset_id = submitted_dataset(hook, "Trigger: reminder")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    payload = asyncio.run(first_event(trigger_for(dataset_id, remind_at=past)))
    assert payload["status"] == "remind" and len(polls) == 1


def test_a_missing_dataset_or_refused_credentials_end_the_wait_with_an_error(emu, hook, polls, monkeypatch):
    payload = asyncio.run(first_event(trigger_for("zzzz-9999")))
    assert payload["status"] == "error" and "zzzz-9999" in payload["message"]
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_WRONG", conn(emu.url, PUBLISHER[0], "not-the-password"))
    dataset_id = submitted_dataset(hook, "Trigger: wrong password")
    payload = asyncio.run(first_event(trigger_for(dataset_id, conn_id="socrata_wrong")))
    assert payload["status"] == "error" and "not-the-password" not in payload["message"]
    assert polls[-1] == ("socrata_wrong", dataset_id)


def test_an_unusable_connection_fails_the_trigger_at_once(monkeypatch, polls):
    """As before the hook change: a connection that cannot be used is raised, not waited out."""
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_PLAIN", conn("http://portal.example.org", "key", "secret"))
    with pytest.raises(SocrataConfigError):
        asyncio.run(first_event(trigger_for("abcd-1234", conn_id="socrata_plain")))
    assert polls == [("socrata_plain", "abcd-1234")]
