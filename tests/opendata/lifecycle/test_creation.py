"""Create, adopt or wait: the decision that keeps a lost answer from making a second dataset (pure)."""

from __future__ import annotations

import datetime as dt

from opendata.lifecycle.creation import CreationAction, decide_creation

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
LAG = dt.timedelta(minutes=15)


def test_nothing_found_and_no_earlier_attempt_creates():
    decision = decide_creation([], intent_at=None, now=NOW, catalog_lag=LAG)
    assert decision.action is CreationAction.CREATE and decision.portal_id is None


def test_a_marked_asset_is_adopted_whatever_the_intent_says():
    for intent in (None, NOW - dt.timedelta(seconds=5), NOW - dt.timedelta(days=3)):
        decision = decide_creation(["abcd-1234"], intent_at=intent, now=NOW, catalog_lag=LAG)
        assert (decision.action, decision.portal_id, decision.strays) == (CreationAction.ADOPT, "abcd-1234", ())


def test_more_marked_assets_adopt_the_oldest_and_report_the_rest():
    decision = decide_creation(["old1-1111", "new2-2222", "new3-3333"], intent_at=None, now=NOW, catalog_lag=LAG)
    assert decision.portal_id == "old1-1111" and decision.strays == ("new2-2222", "new3-3333")
    assert "new2-2222, new3-3333" in decision.reason and "left alone" in decision.reason


def test_an_unknown_outcome_waits_for_the_catalog_then_creates():
    started = NOW - dt.timedelta(minutes=5)
    waiting = decide_creation([], intent_at=started, now=NOW, catalog_lag=LAG)
    assert waiting.action is CreationAction.WAIT and waiting.retry_after == started + LAG
    assert "11:55:00 UTC" in waiting.reason and "12:10:00" in waiting.reason
    # Exactly at the end of the lag it is safe again (the catalog had its time).
    assert decide_creation([], intent_at=started, now=started + LAG, catalog_lag=LAG).action is CreationAction.CREATE
    assert decide_creation([], intent_at=started, now=started + LAG - dt.timedelta(microseconds=1),
                           catalog_lag=LAG).action is CreationAction.WAIT


def test_what_became_of_a_held_revision():
    from opendata.lifecycle.held import HeldOutcome, held_outcome

    assert held_outcome(applied=True, open_=False, same_data=False) is HeldOutcome.APPLIED
    assert held_outcome(applied=False, open_=True, same_data=True) is HeldOutcome.WAITING
    assert held_outcome(applied=False, open_=True, same_data=False) is HeldOutcome.SUPERSEDED
    assert held_outcome(applied=False, open_=False, same_data=True) is HeldOutcome.GONE
