"""A DAG for the notifier tests: ``push`` notifies from task code (``notify()``), then
``refresh`` fails, with the refresh-failed notifier as its failure callback and as the DAG's.

It lives in its own DAG bundle (see test_notifier.py) because ``dag.test()`` only runs DAGs
that a bundle has parsed and serialized.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, task

from opendata.notify.events import NotificationEvent
from opendata.notify.notifier import OpenDataNotifier, notify

with DAG(dag_id="notify_failure_probe", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
         catchup=False, on_failure_callback=OpenDataNotifier(event=NotificationEvent.REFRESH_FAILED,
                                                             dataset_id="building-permits",
                                                             details={"notes": "DAG-level callback"})) as dag:

    @task
    def push():
        notify(NotificationEvent.STAGE1_READY_FOR_REVIEW, "building-permits",
               portal_url="http://portal.example/d/bp01-perm", validation_summary="4,000 rows, no errors")

    @task(retries=0, on_failure_callback=OpenDataNotifier(event=NotificationEvent.REFRESH_FAILED,
                                                          dataset_id="building-permits"))
    def refresh():
        raise RuntimeError("permits source unreachable: postgresql://etl:hunter22@db.example/permits")

    push() >> refresh()
