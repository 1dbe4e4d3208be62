"""The program's two catalog DAGs; parsing needs no network, database or dataset file.

    opendata_data_json          after each publication (the ``opendata.published-inventory``
                                Asset every go-public and refresh task updates): data.json
    opendata_quarterly_report   on the first day of each quarter (7 am, city time): the quarter
                                that ended, as HTML and CSV, e-mailed to the CDO and coordinators

Both can be triggered by hand; the quarterly one takes ``{"quarter": "2026-q3", "email": false}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from opendata import settings as deployment_settings

DATA_JSON_DAG_ID = "opendata_data_json"
QUARTERLY_DAG_ID = "opendata_quarterly_report"
_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

_DEFAULT_ARGS = {"owner": "opendata", "retries": 2, "retry_delay": dt.timedelta(minutes=2),
                 "retry_exponential_backoff": True, "execution_timeout": dt.timedelta(minutes=30)}

DATA_JSON_DOC = """\
### The published inventory as DCAT-US 1.1 `data.json`

Runs after every publication and refresh (any dataset's go-public or refresh task updates the
`opendata.published-inventory` Asset). Lists the public datasets with their portal links and
the department's metadata; a published dataset whose file stops loading keeps its last entry.
Written to `OPENDATA_DATA_JSON_PATH`, served by the Open Data view at `/opendata/data.json`.
"""

QUARTERLY_DOC = """\
### The Open Data Working Group's quarterly report

Per department: datasets published, in review, rejected and planned; median days from Step 1 to
public; the share of refreshes on time; overdue now; public comments answered within 48
business hours. Kept as HTML and CSV under `OPENDATA_REPORTS_DIR` and e-mailed to the Chief
Data Officer and every department's coordinators. Scheduled for the quarter that just ended;
trigger with `{"quarter": "2026-q3"}` for another one, `{"email": false}` to only write the files.
"""


def build_data_json_dag(dag_id: str = DATA_JSON_DAG_ID, *, socrata_conn_id: str = "socrata_default") -> Any:
    from airflow.sdk import DAG, task

    from opendata.lifecycle.assets import PUBLISHED_INVENTORY

    with DAG(dag_id=dag_id, schedule=[PUBLISHED_INVENTORY], start_date=_START, catchup=False,
             # One writer at a time; a publication during a run queues one more run, not many.
             max_active_runs=1, default_args=_DEFAULT_ARGS, tags=["opendata", "catalog"],
             doc_md=DATA_JSON_DOC) as dag:

        @task(task_id="write_data_json")
        def write_data_json_task() -> dict[str, Any]:
            from opendata.catalog.program import publish_data_json

            written = publish_data_json(socrata_conn_id=socrata_conn_id)
            return {"path": str(written.path), "listed": list(written.listed),
                    "carried_over": list(written.carried_over), "missing": list(written.missing)}

        write_data_json_task()
    return dag


def build_quarterly_report_dag(dag_id: str = QUARTERLY_DAG_ID, *, smtp_conn_id: str = "smtp_default",
                               schedule: str | None = None) -> Any:
    from airflow.sdk import DAG, task
    from airflow.timetables.trigger import CronTriggerTimetable

    from opendata.freshness.policy import CITY_TIMEZONE

    with DAG(dag_id=dag_id,
             schedule=CronTriggerTimetable(schedule or deployment_settings.quarterly_report_schedule(),
                                           timezone=CITY_TIMEZONE),
             start_date=_START, catchup=False, max_active_runs=1, default_args=_DEFAULT_ARGS,
             tags=["opendata", "catalog"], doc_md=QUARTERLY_DOC) as dag:

        @task(task_id="quarterly_report")
        def quarterly_report_task(dag_run: Any = None, logical_date: Any = None) -> dict[str, Any]:
            from opendata import storage
            from opendata.catalog.program import email_quarterly_report, write_quarterly_report
            from opendata.catalog.quarterly import parse_quarter, previous_quarter
            from opendata.lifecycle.context import read_governance, valid_governance

            conf = dict(getattr(dag_run, "conf", None) or {})
            when = logical_date or dt.datetime.now(dt.UTC)
            quarter = parse_quarter(str(conf["quarter"])) if conf.get("quarter") else previous_quarter(when)
            files = write_quarterly_report(quarter)
            sent: tuple[str, ...] = ()
            if conf.get("email", True):
                sent = email_quarterly_report(files, valid_governance(*read_governance()), smtp_conn_id=smtp_conn_id)
            return {"quarter": quarter.label, "html": storage.recorded(files.html), "csv": storage.recorded(files.csv),
                    "emailed_to": list(sent), "complete": files.report.complete}

        quarterly_report_task()
    return dag
