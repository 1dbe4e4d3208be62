"""OpenDataNotifier: called from task code, as a callable notifier, and as a real Airflow
failure callback in a ``dag.test()`` run; every e-mail goes through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from opendata.notify.events import NotificationEvent
from opendata.notify.notifier import OpenDataNotifier, context_details, notify, scrub

from .conftest import ALICIA, JORGE, LUIS, MARIA

E = NotificationEvent
PROBE_DAGS = Path(__file__).parent / "dags"


def _ti(task_id="refresh", run_id="scheduled__2026-11-27T00:00:00+00:00", try_number=2):
    return SimpleNamespace(dag_id="building-permits", run_id=run_id, task_id=task_id, map_index=-1,
                           try_number=try_number)


def test_notify_with_a_minimal_context(mailbox, monkeypatch, permits_spec, governance):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080/")
    context = {"run_id": "scheduled__2026-11-27T00:00:00+00:00", "task_instance": _ti(),
               "exception": ValueError("source returned no rows\nsecond line")}
    OpenDataNotifier(event=E.REFRESH_FAILED, spec=permits_spec, governance=governance).notify(context)
    [mail] = mailbox.messages()
    # No run kind given (this is not a dataset DAG's failure handler): the subject does not guess.
    assert mail["Subject"] == "[Open Data] Run failed: Building Permits"
    assert [str(a) for a in mail["To"].addresses] == [JORGE, LUIS]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "ValueError: source returned no rows\n  second line" in text
    assert "failed in task refresh (run scheduled__2026-11-27T00:00:00+00:00)" in text
    log_url = ("http://airflow.example:8080/dags/building-permits/runs/scheduled__2026-11-27T00%3A00%3A00%2B00%3A00"
               "/tasks/refresh?try_number=2")
    assert f"The log: {log_url}" in text
    assert f'href="{log_url}"' in mail.get_body(preferencelist=("html",)).get_content()


def test_no_log_link_without_a_base_url(mailbox, permits_spec, governance):
    OpenDataNotifier(E.REFRESH_FAILED, permits_spec, governance).notify({"task_instance": _ti()})
    text = mailbox.messages()[0].get_body(preferencelist=("plain",)).get_content()
    assert "The log:" not in text and "In Airflow" not in text
    assert "Airflow task:      refresh" in text


def test_explicit_details_win_over_the_context(mailbox, permits_spec, governance):
    notifier = OpenDataNotifier(E.STAGE1_READY_FOR_REVIEW, permits_spec, governance,
                                details={"portal_url": "http://portal.example/d/bp01-perm", "task_id": "push"})
    notifier.notify({"task_instance": _ti(task_id="other")})
    [mail] = mailbox.messages()
    assert [str(a) for a in mail["To"].addresses] == [MARIA]
    assert [str(a) for a in mail["Cc"].addresses] == [JORGE]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "http://portal.example/d/bp01-perm" in text and "Airflow task:      push" in text


def test_callable_renders_templated_details_without_changing_the_instance(mailbox, permits_spec, governance):
    notifier = OpenDataNotifier(E.DEPARTMENT_APPROVAL_REQUESTED, permits_spec, governance,
                                details={"portal_id": "{{ params.fourfour }}"})
    notifier({"params": {"fourfour": "bp01-perm"}, "run_id": "manual__1"})
    notifier({"params": {"fourfour": "zz99-zzzz"}, "run_id": "manual__2"})
    first, second = mailbox.messages()
    assert [str(a) for a in first["To"].addresses] == [ALICIA]
    assert "Portal id:         bp01-perm" in first.get_body(preferencelist=("plain",)).get_content()
    assert "Portal id:         zz99-zzzz" in second.get_body(preferencelist=("plain",)).get_content()
    assert notifier.details == {"portal_id": "{{ params.fourfour }}"}


def test_helper_for_task_code_does_not_template_people_s_text(mailbox, permits_spec, governance):
    notify(E.REJECTED, permits_spec, governance, reviewer="Maria Alvarez", notes="Use {{ braces }} <literally>",
           reviewed_at=dt.datetime(2026, 11, 20, 10, 5, tzinfo=dt.UTC))
    [mail] = mailbox.messages()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Use {{ braces }} <literally>" in text
    assert "2026-11-20 10:05 (UTC)" in text
    assert [str(a) for a in mail["Cc"].addresses] == [MARIA]


def test_helper_posts_to_slack_too(mailbox, monkeypatch, slack, permits_spec, governance):
    monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", json.dumps({"conn_type": "http", "host": slack.url}))
    notify(E.WENT_LIVE, permits_spec, governance, context={}, portal_url="http://portal.example/d/bp01-perm")
    assert len(mailbox.messages()) == 1
    assert slack.posts[0]["json"]["text"].startswith("*[Open Data] Building Permits is now public*")


def test_errors_are_scrubbed_of_url_credentials():
    details = context_details(E.REFRESH_FAILED, {"exception": RuntimeError(
        "could not connect: postgresql://etl:hunter22@db.example:5432/permits")})
    assert "hunter22" not in details["error"]
    assert "postgresql://***@db.example:5432/permits" in details["error"]
    assert scrub("https://user:pw@host/x") == "https://***@host/x"


def test_dag_level_failure_context_gives_the_reason():
    details = context_details(E.REFRESH_FAILED, {"run_id": "r1", "reason": "task_failure"})
    assert details == {"run_id": "r1", "error": "The DAG run failed (task_failure)."}


def test_a_notifier_given_no_dataset_fails_clearly_and_reads_nothing(mailbox, monkeypatch):
    """The notifier never reads the dataset or governance file itself: it is handed them."""
    # Where every dataset and governance file is opened (YamlDocument.read).
    monkeypatch.setattr("opendata.spec.validate.read_config_text",
                        lambda *a, **k: pytest.fail("the notifier read a file"))
    with pytest.raises(ValueError, match="no dataset spec and governance"):
        OpenDataNotifier(E.REFRESH_FAILED).notify({})
    assert mailbox.messages() == []


@pytest.mark.postgres
def test_failure_callback_in_a_real_dag_run(airflow_db, mailbox, monkeypatch):
    # dag.test() runs only DAGs a bundle has serialized: the probe DAG gets its own bundle,
    # beside the repository's dags folder.
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {"name": "notify-tests", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(PROBE_DAGS)}},
    ]))
    spec = importlib.util.spec_from_file_location("notify_failure_probe", PROBE_DAGS / "notify_failure_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    run = module.dag.test()

    assert run.state == "failed"
    # notify() from task code picks up the running task's context; dag.test() runs the task's
    # on_failure_callback in the task run (with the exception in the context) and then the
    # DAG's on_failure_callback (context: the failed task and the reason).
    push_mail, task_mail, dag_mail = mailbox.messages()
    assert push_mail["Subject"] == "[Open Data] Stage 1: Building Permits is ready for your review"
    push_text = push_mail.get_body(preferencelist=("plain",)).get_content()
    assert "Airflow task:      push" in push_text and f"Airflow run:       {run.run_id}" in push_text
    assert "4,000 rows, no errors" in push_text
    for mail in (task_mail, dag_mail):
        assert mail["Subject"] == "[Open Data] Run failed: Building Permits"
        assert [str(a) for a in mail["To"].addresses] == [JORGE, LUIS]
        assert "hunter22" not in mail.as_string()
    text = task_mail.get_body(preferencelist=("plain",)).get_content()
    assert "RuntimeError: permits source unreachable: postgresql://***@db.example/permits" in text
    assert f"failed in task refresh (run {run.run_id})" in text
    dag_text = dag_mail.get_body(preferencelist=("plain",)).get_content()
    assert "DAG-level callback" in dag_text
    assert "The DAG run failed (task_failure)." in dag_text
    assert f"failed in task refresh (run {run.run_id})" in dag_text


def test_as_a_hitl_operator_notifier_links_to_the_required_action(mailbox, monkeypatch, permits_spec, governance):
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080")
    approval = ApprovalOperator(task_id="department_approval", subject="Approve Building Permits?",
                                notifiers=[OpenDataNotifier(E.DEPARTMENT_APPROVAL_REQUESTED, permits_spec, governance)])
    context = {"task": approval, "task_instance": _ti(task_id="department_approval", run_id="manual__1"),
               "run_id": "manual__1"}
    for notifier in approval.notifiers:  # what HITLOperator.execute does before it waits
        notifier(context)
    [mail] = mailbox.messages()
    assert [str(a) for a in mail["To"].addresses] == [ALICIA]
    assert [str(a) for a in mail["Cc"].addresses] == [JORGE]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert ("Approve or reject it in Airflow: http://airflow.example:8080/dags/building-permits/runs/manual__1"
            "/tasks/department_approval/required_actions?map_index=-1") in text
