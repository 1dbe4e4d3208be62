"""The monitor DAG under real Airflow (``dag.test()``) against the portal emulator holding 200
public datasets of mixed ages, with a real SMTP server: one digest listing exactly the overdue
ones, then nothing on the next run."""

from __future__ import annotations

import datetime as dt
import re

from opendata.freshness.alert_store import AlertStore
from opendata.freshness.dag import build_monitor_dag
from opendata.samples.portal_world import mixed_portal


def listed(digest_text: str, section: str) -> list[str]:
    body = digest_text.split(section, 1)[1]
    body = re.split(r"\n\n(?:Still overdue|Not overdue|Listed, never alerted|The steward)", body, maxsplit=1)[0]
    return re.findall(r"^- ([a-z0-9-]+): ", body, flags=re.MULTILINE)


def test_one_digest_of_exactly_the_overdue_datasets_then_nothing(airflow_db, monitor_world):
    now = dt.datetime.now(dt.UTC)
    datasets, overdue, due = mixed_portal(now)
    monitor_world.publish(datasets)
    assert len(datasets) == 200 and len(overdue) == 71 and len(due) == 38
    public = sum(d.stage.is_public for d in datasets)
    dag = build_monitor_dag()
    emu = monitor_world.emu
    emu.reset_stats()

    first = dag.test(logical_date=now.replace(minute=0, second=0, microsecond=0))
    assert first.state == "success"
    stats = emu.stats()

    (digest,) = monitor_world.mail("overdue_digest")
    assert [a.strip() for a in digest["To"].split(",")] == ["Maria Alvarez <cdo@opendata.lacity.example>"]
    text = digest.get_body(("plain",)).get_content()
    assert sorted(listed(text, f"Overdue ({len(overdue)}):")) == sorted(overdue)
    assert "Still overdue" not in text
    for dataset_id in overdue:
        assert f"http://airflow.example/dags/{dataset_id}" in text
    unscheduled = listed(text, "Listed, never alerted (irregular or historical, ")
    assert len(unscheduled) == sum(d.stage.is_public and d.frequency in ("irregular", "historical")
                                   for d in datasets)
    # Departments: one reminder per dataset that is due or overdue, to its steward and coordinators.
    reminders = monitor_world.mail("freshness_due")
    assert sorted(m["X-OpenData-Dataset"] for m in reminders) == sorted(overdue | due)
    sample = next(m for m in reminders if m["X-OpenData-Dataset"] == sorted(due)[0])
    assert "steward" in sample["To"] and "lacity.example" in sample["To"]
    # Slack gets the digest only.
    assert len(monitor_world.slack.posts) == 1
    assert monitor_world.slack.posts[0]["json"]["text"].startswith(f"*{digest['Subject']}*")

    # Portal: one catalog request for every public dataset's dataUpdatedAt, plus the comment
    # watch's slice of view reads (every dataset once a day at hourly runs).
    requests = {key: n for key, n in stats["requests"].items() if "/__emulator/" not in key}
    assert requests == {"GET /api/catalog/v1": 1, "GET /api/views/{dataset_id}.{ext}": -(-public // 24)}
    print(f"\nmonitor run 1: {len(datasets)} datasets ({public} public), {len(overdue)} overdue, {len(due)} due; "
          f"portal requests {sum(requests.values())} {requests}")

    mails, posts = len(monitor_world.mailbox.messages()), len(monitor_world.slack.posts)
    emu.reset_stats()
    second = dag.test(logical_date=now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1))
    assert second.state == "success"
    assert len(monitor_world.mailbox.messages()) == mails and len(monitor_world.slack.posts) == posts
    assert emu.stats()["requests"]["GET /api/catalog/v1"] == 1

    # A coordinator marks a dataset's public comments answered through the run configuration.
    watched = sorted(AlertStore(monitor_world.registry()).comment_states())[0]
    third = dag.test(logical_date=now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=2),
                     run_conf={"comments_answered": [watched], "answered_by": "samuel-okafor"})
    assert third.state == "success"
    assert AlertStore(monitor_world.registry()).comment_states()[watched].answered_by == "samuel-okafor"
    assert len(monitor_world.mailbox.messages()) == mails
