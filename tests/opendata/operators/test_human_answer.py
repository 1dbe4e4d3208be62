"""HumanAnswer: what the approval tasks read from a human-in-the-loop response, and whose name
the records carry."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.operators.base import ANONYMOUS_RESPONDER, HumanAnswer, governance_names, responder_name

AT = dt.datetime(2026, 11, 27, 18, tzinfo=dt.UTC)
PEOPLE = {"alicia-grant": "Alicia Grant", "helen-wu": "Helen Wu"}


def result(option: str, user: dict | None, params: dict | None) -> dict:
    return {"chosen_options": [option], "responded_by_user": user, "responded_at": AT, "params_input": params}


def test_an_approval_without_a_comment_has_none():
    answer = HumanAnswer.from_result(result("Approve", {"id": "alicia-grant", "name": "alicia-grant"}, {}),
                                     "Approve", PEOPLE)
    assert answer == HumanAnswer(approved=True, by="Alicia Grant", at=AT, comment=None)


@pytest.mark.parametrize("params", [None, {}, {"comment": None}, {"comment": ""}, {"comment": "  \n "}])
def test_an_empty_comment_is_no_comment(params):
    answer = HumanAnswer.from_result(result("Reject", {"id": "helen-wu", "name": "helen-wu"}, params), "Approve")
    assert (answer.approved, answer.comment, answer.reason) == (False, None, "no reason given")


def test_a_rejection_carries_the_comment_stripped():
    answer = HumanAnswer.from_result(result("Reject", {"id": "helen-wu", "name": "helen-wu"},
                                            {"comment": "  Document the status codes.\n"}), "Approve", PEOPLE)
    assert (answer.approved, answer.by, answer.comment) == (False, "Helen Wu", "Document the status codes.")


def test_the_shrink_guards_field_is_still_read():
    answer = HumanAnswer.from_result(result("Reject", {"id": "x", "name": "x"}, {"reason": "Rows are real"}),
                                     "Approve")
    assert answer.comment == "Rows are real"


@pytest.mark.parametrize("user,expected", [
    # SimpleAuthManager: id == name == the user name; a governance key becomes the person's name.
    ({"id": "alicia-grant", "name": "alicia-grant"}, "Alicia Grant"),
    # Someone Airflow knows but the governance file does not: their own name, as given.
    ({"id": "ops-admin", "name": "ops-admin"}, "ops-admin"),
    ({"id": "42", "name": "Dana Lee"}, "Dana Lee"),
    ({"id": "42", "name": ""}, "42"),
    # All-admins mode (no sign-in): said to be anonymous, never recorded as a person "Anonymous".
    ({"id": "Anonymous", "name": "Anonymous"}, ANONYMOUS_RESPONDER),
    (None, "an unidentified Airflow user (the response carried no user)"),
])
def test_who_answered(user, expected):
    assert responder_name(user, PEOPLE) == expected


def test_the_anonymous_responder_is_named_as_such():
    assert ANONYMOUS_RESPONDER == "an anonymous Airflow user (the Airflow deployment has no sign-in)"


def test_governance_names_map_each_key_to_the_person():
    from opendata.lifecycle.inputs import TaskInputs

    names = governance_names(TaskInputs("building-permits"))
    assert names["alicia-grant"] == "Alicia Grant" and names["helen-wu"] == "Helen Wu"


def test_the_approve_option_is_airflow_s():
    """What refresh compares the shrink guard's answer with is the option ApprovalOperator offers."""
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    from opendata.lifecycle.tasks import APPROVE_OPTION

    assert ApprovalOperator.APPROVE == APPROVE_OPTION
