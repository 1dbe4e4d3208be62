"""The public comment watch against the portal emulator and a real SMTP server: a rise notifies
the coordinator and the CDO, 48 business hours without an answer bring a reminder, and marking
the comments answered (command line or run configuration) stops the reminders."""

from __future__ import annotations

import datetime as dt

from opendata.freshness.calendar import add_business_time
from opendata.freshness.cli import main as freshness_cli
from opendata.freshness.monitor import MonitorSettings, answered_from_conf, watch_comments
from opendata.samples.portal_world import PortalDataset

SETTINGS = MonitorSettings(comment_sweep_runs=1, slack_conn_id=None)  # read every dataset every run
COORDINATOR = "samuel.okafor@lasan.lacity.example"
CDO = "cdo@opendata.lacity.example"


def test_rise_notice_reminder_and_answered(monitor_world, capsys):
    start = dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.UTC)  # Friday 15:00 in Los Angeles
    datasets = [PortalDataset(f"monitor-test-{i:03d}", "sanitation", "daily", start - dt.timedelta(hours=3))
                for i in range(4)]
    monitor_world.publish(datasets)
    first, second = datasets[0], datasets[1]
    emu = monitor_world.emu
    emu.set_comments(first.portal_id, 2)  # comments from before the watch: not news

    capsys.readouterr()
    assert freshness_cli(["status"]) == 0  # reads like the DAG (at the real time), sends nothing
    out = capsys.readouterr().out
    assert out.endswith("4 public dataset(s): 4 overdue\n") and f"overdue      {first.dataset_id}" in out
    assert monitor_world.mailbox.messages() == []

    baseline = watch_comments(SETTINGS, now=start)
    assert (baseline.public, baseline.read, baseline.baselines, baseline.notified) == (4, 4, 4, [])
    assert monitor_world.mailbox.messages() == []

    emu.set_comments(first.portal_id, 3)
    rise = watch_comments(SETTINGS, now=start + dt.timedelta(minutes=30))
    assert rise.notified == [first.dataset_id]
    (notice,) = monitor_world.mail("comment_received")
    assert {COORDINATOR, CDO} <= set(notice["X-RcptTo"].replace(" ", "").split(","))
    body = notice.get_body(("plain",)).get_content()
    assert "1 new public comment on Monitor Test 000" in body
    assert f"{emu.url}/d/{first.portal_id}" in body
    assert "answer by 2026-11-24 15:30 (UTC-08:00) (48 business hours)" in body
    assert f"python -m opendata.freshness comments answered {first.dataset_id}" in body

    monday = start + dt.timedelta(days=3)
    assert watch_comments(SETTINGS, now=monday).notified == []
    assert len(monitor_world.mailbox.messages()) == 1

    due = add_business_time(start + dt.timedelta(minutes=30), dt.timedelta(hours=48), "America/Los_Angeles")
    late = watch_comments(SETTINGS, now=due)
    assert late.reminded == [first.dataset_id]
    (reminder,) = monitor_world.mail("comment_reminder")
    assert "have waited 48 business hours" in reminder.get_body(("plain",)).get_content()

    capsys.readouterr()
    assert freshness_cli(["comments", "list"]) == 0
    assert (f"{first.dataset_id:<40}    3 comment(s), waiting since 2026-11-20 15:30 PST, "
            f"answer by 2026-11-24 15:30 PST") in capsys.readouterr().out
    assert freshness_cli(["comments", "answered", first.dataset_id, "--by", "samuel-okafor"]) == 0
    assert f"{first.dataset_id}: 3 comment(s) marked answered by samuel-okafor\n" in capsys.readouterr().out
    assert freshness_cli(["comments", "answered", "not-watched-yet"]) == 1

    # The run configuration is the other way to mark comments answered.
    emu.set_comments(second.portal_id, 1)
    assert watch_comments(SETTINGS, now=due + dt.timedelta(hours=1)).notified == [second.dataset_id]
    ids, by = answered_from_conf({"comments_answered": [second.dataset_id], "answered_by": "samuel-okafor"})
    marked = watch_comments(SETTINGS, now=due + dt.timedelta(hours=2), answered=ids, answered_by=by)
    assert marked.answered == [second.dataset_id]
    week_later = watch_comments(SETTINGS, now=due + dt.timedelta(days=7))
    assert week_later.notified == [] and week_later.reminded == []
    assert len(monitor_world.mail("comment_reminder")) == 1
