"""The monitor DAG: hourly by default, two independent tasks that only fetch and notify.

    check_freshness   the portal's dataUpdatedAt for every public dataset (a few catalog
                      requests), reminders to departments, one digest to the CDO
    watch_comments    numberOfComments for a slice of the public datasets, notices and
                      48-business-hour reminders to the coordinator and the CDO

Trigger it with the run configuration ``{"comments_answered": ["<dataset-id>"],
"answered_by": "<name>"}`` to mark a dataset's public comments answered.

Parsing builds the DAG from the environment alone: no network, no database, no dataset file,
and none of the heavy libraries (the tasks import what they need when they run).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from opendata import settings as deployment_settings

MONITOR_DAG_ID = "opendata_freshness_monitor"
DEFAULT_SCHEDULE = "@hourly"

DOC = """\
### Open data freshness monitor

Judges every public dataset (registry stage `stage-2` or `refreshing`, with a portal id) by the
portal's **dataUpdatedAt** against the promise in its file (`update_frequency`, `freshness:`).

* **due**: the steward and coordinators get a reminder;
* **overdue**: listed in one digest to the Chief Data Officer (and Slack, with an
  `opendata_slack` connection);
* irregular and historical datasets are listed, never alerted.

A dataset is reported again only when its status changes or after
`OPENDATA_FRESHNESS_REALERT_HOURS` (168). Public comments: a rise of `numberOfComments`
notifies the coordinator and the CDO; unanswered after 48 business hours, they are reminded.
The count is read per view, `OPENDATA_COMMENT_READS_MAX` (14) views a run, the longest unread
first, so a rise is noticed within ceil(public datasets / 14) runs (72 for 1,000).
Mark comments answered with `python -m opendata.freshness comments answered <dataset-id>` or by
triggering this DAG with `{"comments_answered": ["<dataset-id>"], "answered_by": "<name>"}`.
"""


def build_monitor_dag(dag_id: str = MONITOR_DAG_ID, *, schedule: str | None = None,
                      settings: dict[str, Any] | None = None,
                      start_date: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) -> Any:
    """The monitor DAG. ``settings``: :class:`MonitorSettings` fields fixed at parse time
    (tests); otherwise the tasks read the environment when they run."""
    from airflow.sdk import DAG, task

    default_args = {
        "owner": "opendata",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": dt.timedelta(minutes=30),
    }
    with DAG(
        dag_id=dag_id,
        schedule=schedule or deployment_settings.freshness_schedule() or DEFAULT_SCHEDULE,
        start_date=start_date,
        catchup=False,
        # One pass at a time: the alert state is read and written by each pass.
        max_active_runs=1,
        default_args=default_args,
        tags=["opendata", "monitor"],
        doc_md=DOC,
    ) as dag:

        @task(task_id="check_freshness")
        def check_freshness_task(fixed: dict[str, Any] | None = None) -> dict[str, Any]:
            from opendata.freshness.monitor import MonitorSettings, check_freshness

            chosen = MonitorSettings.from_dict(fixed) if fixed else MonitorSettings.from_env()
            return check_freshness(chosen).as_dict()

        @task(task_id="watch_comments")
        def watch_comments_task(fixed: dict[str, Any] | None = None, dag_run: Any = None) -> dict[str, Any]:
            from opendata.freshness.monitor import MonitorSettings, answered_from_conf, watch_comments

            chosen = MonitorSettings.from_dict(fixed) if fixed else MonitorSettings.from_env()
            answered, by = answered_from_conf(getattr(dag_run, "conf", None))
            return watch_comments(chosen, answered=answered, answered_by=by).as_dict()

        check_freshness_task(settings)
        watch_comments_task(settings)
    return dag
