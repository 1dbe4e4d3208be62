"""compose_digest(): the CDO's overdue digest, pure, and delivered through a real SMTP server."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.notify.compose import RecipientError
from opendata.notify.digest import Digest, DigestRow, compose_digest, digest_recipients
from opendata.notify.events import DIGEST_RECIPIENTS, DigestEvent, Recipients, Role
from opendata.notify.send import send

from .conftest import MARIA

UPDATED = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def row(dataset_id: str, **kw) -> DigestRow:
    values = {"name": dataset_id.replace("-", " ").title(), "department": "Department of Building and Safety",
              "steward": "Luis Herrera <luis.herrera@ladbs.lacity.example>", "frequency": "daily",
              "last_update": UPDATED, "days_late": 5.25, "cycles_late": 5.25,
              "dag_url": f"http://airflow.example/dags/{dataset_id}", **kw}
    return DigestRow(dataset_id, **values)


DIGEST = Digest(
    overdue=(row("building-permits", notes=("No successful pipeline run since 2026-10-31.",)),
             row("never-updated", last_update=None, days_late=None, cycles_late=None, dag_url=None)),
    still_overdue=(row("old-permits", first_reported_at=UPDATED, days_late=40.0, cycles_late=40.0),),
    disagreements=(row("stale-content", days_late=0.0, cycles_late=0.0,
                       notes=("The newest issue_date in the data is 2026-09-01.",)),),
    unscheduled=(row("permit-archive", frequency="historical", days_late=None, cycles_late=None),),
    monitored=203,
    generated_at=dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC),
)


def test_one_message_to_the_cdo_listing_every_section(governance):
    message = compose_digest(DigestEvent.OVERDUE_DIGEST, DIGEST, governance, {"realert_days": 7})
    assert message.subject == "[Open Data] Freshness: 3 overdue datasets (2 to report)"
    assert (message.to, message.cc) == ((MARIA,), ())
    assert message.event == "overdue_digest" and message.dataset_id == ""
    text = message.text
    overdue = text.split("Overdue (2):")[1].split("Still overdue")[0]
    assert [line.split(":")[0][2:] for line in overdue.splitlines() if line.startswith("- ")] == [
        "building-permits", "never-updated"]
    for expected in ("Department of Building and Safety", "Luis Herrera <luis.herrera@ladbs.lacity.example>",
                     "Promised:         daily", "Last update:      2026-11-01 08:00 (UTC)",
                     "Late by:          5.2 days (5.2 cycles)", "DAG:              http://airflow.example/dags/",
                     "Last update:      never", "Note:             No successful pipeline run since 2026-10-31.",
                     "Still overdue, reported before (1):", "First reported:   2026-11-01 08:00 (UTC)",
                     "Not overdue, but the monitor's checks disagree (1):",
                     "- permit-archive: Permit Archive (historical, last update 2026-11-01 08:00 (UTC))",
                     "(203 public datasets checked)", "or after 7 days"):
        assert expected in text, expected
    html = message.html
    assert '<a href="http://airflow.example/dags/building-permits">Building Permits</a>' in html
    assert "Listed, never alerted: irregular or historical (1)" in html
    assert "None" not in text and "None" not in html


def test_a_digest_with_only_new_overdue_datasets_leaves_the_other_sections_out(governance):
    message = compose_digest("overdue_digest", Digest(overdue=(row("building-permits"),), monitored=1), governance)
    assert message.subject == "[Open Data] Freshness: 1 overdue dataset"
    for absent in ("Still overdue", "disagree", "never alerted"):
        assert absent not in message.text and absent not in message.html


def test_names_are_escaped_and_only_http_links_are_links(governance):
    evil = row("x-data", name="<script>alert(1)</script>", dag_url="javascript:alert(1)")
    message = compose_digest("overdue_digest", Digest(overdue=(evil,)), governance)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert 'href="javascript' not in message.html


def test_digests_go_to_roles_that_do_not_depend_on_a_dataset(governance, monkeypatch):
    assert DIGEST_RECIPIENTS[DigestEvent.OVERDUE_DIGEST].to == (Role.CDO,)
    monkeypatch.setitem(DIGEST_RECIPIENTS, DigestEvent.OVERDUE_DIGEST, Recipients(to=(Role.STEWARD,)))
    with pytest.raises(RecipientError, match="depends on a dataset"):
        digest_recipients(DigestEvent.OVERDUE_DIGEST, governance)


def test_delivered_once_by_email_and_to_slack(governance, mailbox, monkeypatch, slack):
    monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", slack.url)
    send(compose_digest("overdue_digest", DIGEST, governance))
    (mail,) = mailbox.messages()
    assert mail["X-OpenData-Event"] == "overdue_digest" and mail["To"] == MARIA
    assert "building-permits" in mail.get_body(("plain",)).get_content()
    (post,) = slack.posts
    assert post["json"]["text"].startswith("*[Open Data] Freshness: 3 overdue datasets (2 to report)*")
