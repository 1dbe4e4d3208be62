"""A DAG for the notifier tests: ``push`` notifies from task code (``notify()``, with the files
it read), then ``refresh`` fails, with the dataset DAGs' refresh-failed notifier (which reads
the files by dataset id when invoked) as its failure callback and as the DAG's.

It lives in its own DAG bundle (see test_notifier.py) because ``dag.test()`` only runs DAGs
that a bundle has parsed and serialized.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, task

from opendata.notify.events import NotificationEvent
from opendata.notify.notifier import notify
from opendata.operators.notifier import DatasetNotifier

with DAG(dag_id="notify_failure_probe", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
         catchup=False, on_failure_callback=DatasetNotifier(NotificationEvent.REFRESH_FAILED, "building-permits",
                                                            details={"notes": "DAG-level callback"})) as dag:

    @task
    def push():
        from opendata.lifecycle.inputs import TaskInputs

        inputs = TaskInputs("building-permits")
        notify(NotificationEvent.STAGE1_READY_FOR_REVIEW, inputs.spec, inputs.governance,
               portal_url="http://portal.example/d/bp01-perm", validation_summary="4,000 rows, no errors")

    @task(retries=0, on_failure_callback=DatasetNotifier(NotificationEvent.REFRESH_FAILED, "building-permits"))
    def refresh():
        raise RuntimeError("permits source unreachable: postgresql://etl:hunter22@db.example/permits")

    push() >> refresh()
