"""Step 1 in real dataset DAG runs (``dag.test()``): the department's leadership answers the
human-in-the-loop form as Airflow's HITL API records an answer (its own route function, with the
signed-in user), the portal emulator, a real SMTP server and the sample sources.

A refusal is a decision: the run succeeds, the rest of it skips, the registry and the DAG's tag
say ``rejected`` with who, when and why, the coordinator and steward are e-mailed; scheduled runs
stop at ``plan``; ``{"resubmit": true}`` asks again, and approving is one click."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from opendata.dag_factory import build_dag
from opendata.operators.base import ANONYMOUS_RESPONDER
from opendata.registry import Stage
from opendata.registry.stage_snapshot import read_stages
from opendata.spec.loader import load_catalog

DATASET = "service-requests-311"   # Step 1 in Airflow, assigned to helen-wu (Sanitation leadership)
AFTER_STEP1 = ["push_private", "await_public_approval", "go_public", "shrink_approval", "refresh"]
BASE_URL = "http://airflow.example:8080"


@pytest.fixture(params=["lenient"])
def portal_mode(request) -> str:
    """Step 1 happens before the portal is involved: one emulator mode is enough."""
    return request.param


def run_date(days: int) -> dt.datetime:
    return dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(days=days)


class Responder(threading.Thread):
    """In the background, as ``user``: once the run's Step 1 task waits for input, read the form
    (kept in ``.form``) and answer it through the HITL API's route function."""

    def __init__(self, option: str, params: dict, user: str, timeout: float = 120):
        super().__init__(daemon=True)
        self.option, self.params, self.user, self.timeout = option, params, user, timeout
        self.form: dict | None = None
        self.failures: list[BaseException] = []
        self.start()

    def run(self):
        try:
            from airflow.api_fastapi.app import create_auth_manager
            from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
            from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
            from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
            from airflow.models.hitl import HITLDetail
            from airflow.models.taskinstance import TaskInstance
            from airflow.utils.session import create_session
            from airflow.utils.state import TaskInstanceState
            from sqlalchemy import select

            create_auth_manager()  # what the API server has; the route asks it who may answer
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                with create_session() as session:
                    ti = session.scalars(select(TaskInstance).where(
                        TaskInstance.dag_id == DATASET, TaskInstance.task_id == "department_approval",
                        TaskInstance.state == TaskInstanceState.AWAITING_INPUT)).first()
                    detail = session.scalars(select(HITLDetail).where(HITLDetail.ti_id == ti.id)).first() \
                        if ti is not None else None
                    if detail is not None:
                        self.form = {"body": detail.body, "params": detail.params,
                                     "assigned_users": detail.assigned_users}
                        update_hitl_detail(
                            dag_id=DATASET, dag_run_id=ti.run_id, task_id="department_approval",
                            update_hitl_detail_payload=UpdateHITLDetailPayload(
                                chosen_options=[self.option], params_input=self.params),
                            user=SimpleAuthManagerUser(username=self.user, role="admin"), session=session)
                        return
                time.sleep(0.5)
            raise TimeoutError("Step 1 never waited for input")
        except BaseException as exc:  # reported by the test
            self.failures.append(exc)
            import traceback

            traceback.print_exc()


def task_states(run) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) if ti.state else "none"
                for ti in run.get_task_instances(session=session)}


def xcom(run, task_id: str, key: str = "return_value"):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=DATASET, task_ids=task_id,
                                                 key=key)).first()
        return XComModel.deserialize_value(row) if row is not None else None


def dag_tags(world) -> list[str]:
    catalog = load_catalog(world.include)
    return build_dag(catalog.get(DATASET), read_stages().get(DATASET, "not-ready"), catalog.governance).tags


def test_a_refusal_is_a_decision_then_runs_stop_then_resubmission_asks_again(world):
    world.monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    responder = Responder("Reject", {"comment": "Document the request status codes."}, "helen-wu")
    run = world.dag(DATASET).test(logical_date=run_date(0))
    responder.join(5)
    assert responder.failures == []

    # The form: one optional comment field (null allowed, so Approve needs no typing), the
    # warnings by name and a link to the report in the Airflow UI.
    form = responder.form
    assert list(form["params"]) == ["comment"]
    assert form["params"]["comment"]["schema"]["type"] == ["null", "string"]
    assert form["params"]["comment"]["value"] is None
    assert [u["id"] for u in form["assigned_users"]] == ["helen-wu"]
    assert "Warnings (5):" in form["body"]
    assert "- not_null(address): 7 of 5,000 rows outside the rule" in form["body"]
    assert (f"[the validate task in Airflow]({BASE_URL}/dags/{DATASET}/runs/"
            f"{run.run_id.replace(':', '%3A').replace('+', '%2B')}/tasks/validate)") in form["body"]

    # A decision, not a crash: the run succeeds, nothing after Step 1 ran.
    assert run.state == "success"
    states = task_states(run)
    assert states["department_approval"] == "success"
    assert [states[task] for task in AFTER_STEP1] == ["skipped"] * len(AFTER_STEP1)
    assert states["finish"] == "success"
    assert world.portal_id(DATASET) is None
    why = xcom(run, "department_approval", "step1_rejection")
    assert why.startswith("Step 1 rejected by Helen Wu on ") and why.endswith(": Document the request status codes.")

    # Registry, stage history and the DAG's tag: rejected, by the person's real name, with the reason.
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.department_rejected_by, state.department_rejection_reason) == (
        Stage.REJECTED, "Helen Wu", "Document the request status codes.")
    assert [c.stage_to for c in world.registry().history(DATASET) if c.stage_from != c.stage_to][-1] is \
        Stage.REJECTED
    assert "stage:rejected" in dag_tags(world)

    # The coordinator and steward are told why; no failure e-mail.
    (refused,) = world.mail("was not approved by the department")
    text = refused.get_body(("plain",)).get_content()
    assert "Helen Wu did not approve" in text and "Document the request status codes." in text
    assert '{"resubmit": true}' in text
    assert [m for m in world.mailbox.messages() if "failed" in m["Subject"]] == []

    # The next scheduled run neither asks again nor publishes: every task skips, with the reason.
    again = world.dag(DATASET).test(logical_date=run_date(1))
    assert again.state == "success"
    states = task_states(again)
    assert states["plan"] == "success" and states["department_approval"] == "skipped"
    assert [states[task] for task in ["extract", "validate", *AFTER_STEP1]] == ["skipped"] * 7
    plan = xcom(again, "plan")
    assert plan["path"] == "rejected" and plan["stage"] == "rejected"
    assert plan["reason"].startswith("Step 1 rejected by Helen Wu on ")
    assert plan["reason"].endswith(': Document the request status codes.; trigger the DAG with {"resubmit": true} '
                                   "after fixing")
    assert "stage:rejected" in dag_tags(world)
    assert len(world.mail("was not approved by the department")) == 1

    # Fixed and resubmitted: leadership is asked again, approves in one click (no comment), and
    # the dataset goes to Stage 1 (approved there too, so the run ends).
    responder = Responder("Approve", {}, "helen-wu")
    reviewer = world.review_when_pending(DATASET, "approved")
    resubmitted = world.dag(DATASET).test(logical_date=run_date(2), run_conf={"resubmit": True})
    responder.join(5)
    reviewer.join(5)
    assert responder.failures == [] and reviewer.failures == []
    assert resubmitted.state == "success"
    state = world.registry().get_state(DATASET)
    assert (state.department_approved_by, state.department_rejected_by) == ("Helen Wu", None)
    assert state.stage is Stage.STAGE_2
    changes = [c.stage_to for c in world.registry().history(DATASET) if c.stage_from != c.stage_to]
    assert changes == [Stage.REJECTED, Stage.NOT_READY, Stage.STAGE_1, Stage.STAGE_2]


def test_a_refusal_without_a_reason_stands_and_says_so(world):
    # All-admins Airflow (no sign-in): the answer comes from "Anonymous", who is not a person.
    world.monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    responder = Responder("Reject", {"comment": None}, "Anonymous")
    run = world.dag(DATASET).test(logical_date=run_date(0))
    responder.join(5)
    assert responder.failures == []
    assert run.state == "success"
    state = world.registry().get_state(DATASET)
    assert (state.stage, state.department_rejected_by, state.department_rejection_reason) == (
        Stage.REJECTED, ANONYMOUS_RESPONDER, "no reason was given in the form")
    (refused,) = world.mail("was not approved by the department")
    text = refused.get_body(("plain",)).get_content()
    assert f"{ANONYMOUS_RESPONDER} did not approve" in text
    assert "No reason was given in the form." in text
    assert "Anonymous did" not in text
