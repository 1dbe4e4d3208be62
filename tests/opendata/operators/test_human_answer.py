"""HumanAnswer: what the approval tasks read from a human-in-the-loop response."""

from __future__ import annotations

import datetime as dt

from opendata.operators.base import HumanAnswer

AT = dt.datetime(2026, 11, 27, 18, tzinfo=dt.UTC)


def result(option: str, user: dict | None, params: dict | None) -> dict:
    return {"chosen_options": [option], "responded_by_user": user, "responded_at": AT, "params_input": params}


def test_an_approval_names_who_answered():
    answer = HumanAnswer.from_result(result("Approve", {"id": "alicia-grant", "name": "Alicia Grant"}, {}), "Approve")
    assert answer == HumanAnswer(approved=True, by="Alicia Grant", at=AT, reason="no reason given")


def test_a_rejection_carries_the_reason_and_falls_back_to_the_user_id():
    answer = HumanAnswer.from_result(result("Reject", {"id": "alicia-grant", "name": ""}, {"reason": "Fix units"}),
                                     "Approve")
    assert (answer.approved, answer.by, answer.reason) == (False, "alicia-grant", "Fix units")


def test_an_answer_without_user_or_form_is_still_readable():
    answer = HumanAnswer.from_result(result("Reject", None, None), "Approve")
    assert (answer.approved, answer.by, answer.reason) == (False, "unknown", "no reason given")
