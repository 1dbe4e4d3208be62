"""The publication end-to-end scenario, driven the way people use a deployment: Step 1 answered
through Airflow's human-in-the-loop API (one dataset approved, another refused), Stage 1 (private on
the portal, the CDO e-mailed), the CDO's review on the portal emulator in its strict mode (the
portal as recorded), Stage 2, a refresh of changed rows, then the shrink guard approved.

One scenario, two deployments: ``tests/test_publication_e2e.py`` runs it on ``opendata demo`` (one
machine, LocalExecutor), ``tests/test_distributed_e2e.py`` on the distributed run (Celery workers
that share no disk, S3 staging). A deployment hands the scenario a :class:`Deployment`.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import quote

import requests

from tests.demo_support import signed_in, wait_for_scheduler_loops

DATASET = "building-permits"
# A dataset whose Step 1 the department refuses.
REFUSED = "service-requests-311"
SOURCE_ROWS = 4000


def wait_for(what: str, check, timeout: float = 240, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Deployment:
    """What the scenario needs to know of a running deployment."""

    airflow_url: str
    portal_url: str
    local: Path                 # the deployment's folder: mail/, sources/, demo.env
    registry_url: str
    reviewer_password: str      # the CDO on the portal's review page
    admin_password: str         # the emulator's counters
    airflow_password: str       # every person of governance.yaml on Airflow
    env: dict[str, str]         # an environment without the deployment's settings (for commands)
    sessions: dict[str, requests.Session] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.airflow_url}/api/v2"

    def as_user(self, user: str = "maria-alvarez") -> requests.Session:
        """Airflow's API signed in as a person (the CDO unless said otherwise)."""
        if user not in self.sessions:
            self.sessions[user] = signed_in(self.airflow_url, user, self.airflow_password)
        return self.sessions[user]

    def get(self, path: str, **params):
        response = self.as_user().get(self.api + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_for_scheduler_loops(self, loops: int) -> None:
        wait_for_scheduler_loops(self.airflow_url, loops)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        response = self.as_user().post(f"{self.api}/dags/{dag_id}/dagRuns", timeout=10,
                                       json={"logical_date": None, **({"conf": conf} if conf else {})})
        assert response.status_code == 200, response.text
        return response.json()["dag_run_id"]

    def task_state(self, run_id: str, task_id: str) -> str | None:
        return self.get(f"/dags/{DATASET}/dagRuns/{run_id}/taskInstances/{task_id}").get("state")

    def started(self, run_id: str, dag_id: str = DATASET) -> set[str]:
        """The run's tasks an executor started (a task the plan skipped has try number 0)."""
        tis = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"] for ti in tis if ti["try_number"] > 0}

    def run_state(self, run_id: str) -> str:
        return self.get(f"/dags/{DATASET}/dagRuns/{run_id}")["state"]

    def all_mail(self) -> list:
        return [BytesParser(policy=policy.default).parsebytes(path.read_bytes())
                for path in sorted((self.local / "mail").glob("*.eml"))]

    def mail(self, subject_part: str) -> list:
        return [m for m in self.all_mail() if subject_part in m["Subject"] and "Building Permits" in m["Subject"]]

    def state(self, dataset_id: str):
        """The registry's record of ``dataset_id`` (None before the registry knows it)."""
        from opendata.registry import Registry

        registry = Registry(self.registry_url)
        try:
            return registry.get_state(dataset_id)
        finally:
            registry.close()

    def portal_id(self) -> str | None:
        state = self.state(DATASET)
        return state.portal_id if state else None

    def change_source(self, statement: str) -> None:
        """Change the building-permits source database (a SQLite file the extract reads)."""
        with sqlite3.connect(self.local / "sources" / "permits.sqlite") as conn:
            conn.execute(statement)

    def published_rows(self, portal_id: str) -> list[dict]:
        """Every row the public sees, read anonymously (published, public, approved)."""
        return requests.get(f"{self.portal_url}/resource/{portal_id}.json", params={"$limit": 50000},
                            timeout=30).json()

    def source_ids(self) -> list[str]:
        with sqlite3.connect(self.local / "sources" / "permits.sqlite") as conn:
            return [str(row[0]) for row in conn.execute("SELECT permit_nbr FROM building_permits")]

    def assert_published_exactly_the_source(self, portal_id: str) -> None:
        """The public dataset holds every source row once: as many rows as the source, each
        row identifier once, the same identifiers."""
        published = [str(row["permit_nbr"]) for row in self.published_rows(portal_id)]
        source = self.source_ids()
        assert len(published) == len(source), (len(published), len(source))
        assert len(set(published)) == len(published), "a row was published twice"
        assert set(published) == set(source)

    def reset_portal_stats(self) -> None:
        requests.post(f"{self.portal_url}/__emulator/stats/reset", auth=("admin", self.admin_password),
                      timeout=10).raise_for_status()

    def portal_stats(self) -> dict:
        return requests.get(f"{self.portal_url}/__emulator/stats", auth=("admin", self.admin_password),
                            timeout=10).json()["rows"]


@dataclass
class Runs:
    """The runs of :data:`DATASET` the scenario made."""

    first: str
    refresh: str
    shrink: str
    portal_id: str


def publication_scenario(demo: Deployment) -> Runs:
    run_id = wait_for("the first scheduled run", lambda: (demo.get(f"/dags/{DATASET}/dagRuns")["dag_runs"] or
                                                          [None])[0], timeout=120)["dag_run_id"]

    # Step 1: the department's leadership approves through Airflow's human-in-the-loop API.
    wait_for("the Step 1 approval task to wait for input",
             lambda: demo.task_state(run_id, "department_approval") == "awaiting_input")
    refused_run = wait_for("the other dataset's first run", lambda: (demo.get(f"/dags/{REFUSED}/dagRuns")[
        "dag_runs"] or [None])[0])["dag_run_id"]
    refused_task = f"/dags/{REFUSED}/dagRuns/{refused_run}/taskInstances/department_approval"
    wait_for("the other Step 1 to wait", lambda: demo.get(refused_task).get("state") == "awaiting_input")
    # Airflow 3.3.2 race: a response that lands before the scheduler has processed the parked
    # task's executor event makes the scheduler retry the task (and ask again). People take
    # longer than a scheduler loop to answer; the test waits for two of its heartbeats (a fixed
    # sleep was too short when a loaded machine slowed the scheduler's loop).
    demo.wait_for_scheduler_loops(2)
    details = demo.get(f"/dags/{DATASET}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    (request,) = [d for d in details if d["task_instance"]["task_id"] == "department_approval"]
    assert request["subject"] == "Step 1: approve Building Permits for publication"
    assert [u["id"] for u in request["assigned_users"]] == ["alicia-grant"]
    # Only the assigned person may answer: another department's leadership is refused.
    refused = demo.as_user("helen-wu").patch(
        f"{demo.api}/dags/{DATASET}/dagRuns/{run_id}/taskInstances/department_approval/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {}}, timeout=10)
    assert refused.status_code == 403, refused.text
    # The form: one optional comment (approve in one click), the warnings named, the report linked.
    assert list(request["params"]) == ["comment"]
    validated = demo.get(f"/dags/{DATASET}/dagRuns/{run_id}/taskInstances/validate/xcomEntries/return_value",
                         deserialize=True)["value"]
    if validated.get("warnings_total"):
        assert f"Warnings ({validated['warnings_total']}):" in request["body"]
        assert all(text.split("`")[0][:30] in request["body"] for text in validated["warnings"][:3])
    assert f"/dags/{DATASET}/runs/{quote(run_id, safe='')}/tasks/validate" in request["body"], request["body"]
    response = demo.as_user("alicia-grant").patch(
        f"{demo.api}/dags/{DATASET}/dagRuns/{run_id}/taskInstances/department_approval/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {}}, timeout=10)
    assert response.status_code == 200, response.text

    # Step 1 refused for another dataset: its coordinator and steward are told why, and its runs
    # stop at `plan` until the coordinator resubmits.
    response = demo.as_user("helen-wu").patch(f"{demo.api}{refused_task}/-1/hitlDetails", timeout=10, json={
        "chosen_options": ["Reject"], "params_input": {"comment": "Document the request status codes."}})
    assert response.status_code == 200, response.text

    # Stage 1: private on the portal, the CDO e-mailed, the approval sensor deferred to the triggerer.
    wait_for("the approval sensor to defer", lambda: demo.task_state(run_id, "await_public_approval") == "deferred")
    portal_id = demo.portal_id()
    assert portal_id
    assert requests.get(f"{demo.portal_url}/resource/{portal_id}.json", timeout=10).status_code == 403
    (stage1,) = wait_for("the CDO's e-mail", lambda: demo.mail("Stage 1"), timeout=30)
    assert "cdo@opendata.lacity.example" in stage1["To"]
    # The report attached (a file the CDO can open), the warnings named, linked in Airflow.
    (report,) = [part for part in stage1.iter_attachments()]
    assert report.get_filename() == "data-submission-checklist.html"
    assert "Data Submission Checklist" in report.get_content()
    text = stage1.get_body(preferencelist=("plain",)).get_content()
    assert f"/dags/{DATASET}/runs/{quote(run_id, safe='')}/tasks/validate" in text and "staging" not in text

    # A refusal is a decision, not a crash: the run ends green, the rest of it skips, the stage
    # is rejected with the reason, and the person is named as governance.yaml names them.
    wait_for("the refused run to end", lambda: demo.get(f"/dags/{REFUSED}/dagRuns/{refused_run}")["state"]
             in ("success", "failed"), timeout=60)
    assert demo.get(f"/dags/{REFUSED}/dagRuns/{refused_run}")["state"] == "success"
    assert demo.get(refused_task)["state"] == "success"
    push = demo.get(f"/dags/{REFUSED}/dagRuns/{refused_run}/taskInstances/push_private")
    assert push["state"] == "skipped"
    (refused,) = wait_for("the refusal e-mail", lambda: [
        m for m in demo.all_mail() if "was not approved by the department" in m["Subject"]], timeout=30)
    refusal = refused.get_body(preferencelist=("plain",)).get_content()
    assert "MyLA311" in refused["Subject"] and "Document the request status codes." in refusal
    assert "Helen Wu" in refusal and "Anonymous" not in refusal and '{"resubmit": true}' in refusal
    assert not [m for m in demo.all_mail() if "failed" in m["Subject"]]  # told once, by the right e-mail
    rejected = demo.state(REFUSED)
    assert (rejected.stage.value, rejected.department_rejected_by) == ("rejected", "Helen Wu")
    wait_for("the DAG's tag to show the decision", lambda: "stage:rejected" in [
        tag["name"] for tag in demo.get(f"/dags/{REFUSED}")["tags"]], timeout=120)
    again_id = demo.trigger(REFUSED)
    wait_for("the next run to stop at plan", lambda: demo.get(f"/dags/{REFUSED}/dagRuns/{again_id}")["state"]
             in ("success", "failed"), timeout=60)
    assert demo.get(f"/dags/{REFUSED}/dagRuns/{again_id}")["state"] == "success"
    assert demo.get(f"/dags/{REFUSED}/dagRuns/{again_id}/taskInstances/department_approval")["state"] == \
        "skipped"
    # The plan skipped the rest at once: only it and finish (which records the run) started.
    assert demo.started(again_id, REFUSED) == {"plan", "finish"}

    # Stage 2: the CDO approves on the portal (the emulator's review command, as on the review page).
    review = subprocess.run(
        [sys.executable, "-m", "portal_emulator", "review", "--url", demo.portal_url, "--user", "cdo",
         "approve", portal_id, "--notes", "Approved for publication"],
        env={**demo.env, "PORTAL_EMULATOR_PASSWORD": demo.reviewer_password}, capture_output=True, text=True,
        timeout=60)
    assert review.returncode == 0, review.stdout + review.stderr
    wait_for("the run to succeed", lambda: demo.run_state(run_id) in ("success", "failed"), timeout=180)
    assert demo.run_state(run_id) == "success"
    # Read anonymously (published, public, approved): every source row, once.
    assert len(demo.published_rows(portal_id)) == SOURCE_ROWS
    demo.assert_published_exactly_the_source(portal_id)
    view = requests.get(f"{demo.portal_url}/api/views/{portal_id}.json", timeout=10).json()
    assert view["publicationStage"] == "published"
    (public,) = wait_for("the department's e-mail", lambda: demo.mail("public"), timeout=30)
    for address in ["jorge.ramos@", "luis.herrera@", "alicia.grant@", "daniel.kim@", "priya.shah@"]:
        assert address in f"{public['To']}, {public['Cc']}"
    # A second terminal sees the deployment with nothing exported (the settings file it wrote).
    terminal = {k: v for k, v in demo.env.items() if not k.startswith(("OPENDATA_", "PORTAL_EMULATOR"))}
    terminal["OPENDATA_DEMO_DIR"] = str(demo.local)
    status = subprocess.run([sys.executable, "-m", "opendata", "freshness", "status", "--all"], env=terminal,
                            capture_output=True, text=True, timeout=120, cwd="/")
    assert status.returncode == 0, status.stderr
    assert DATASET in status.stdout and "1 public dataset(s)" in status.stdout
    history = subprocess.run([sys.executable, "-m", "opendata", "history", "list", DATASET], env=terminal,
                             capture_output=True, text=True, timeout=120, cwd="/")
    assert history.returncode == 0 and "4,000 rows" in history.stdout, history.stdout + history.stderr
    events = demo.get("/assets/events", limit=50)["asset_events"]
    # By the asset's name, which stays when its URI scheme changes (x-opendata://, lifecycle/assets.py).
    published = [e for e in events if e["name"] == f"opendata.{DATASET}"]
    assert [e["extra"]["event"] for e in published] == ["published"], events

    # The next run refreshes only the rows that changed in the source database.
    demo.change_source("UPDATE building_permits SET status = 'Permit Finaled' WHERE permit_nbr IN "
                       "(SELECT permit_nbr FROM building_permits WHERE status != 'Permit Finaled' "
                       "ORDER BY permit_nbr LIMIT 6)")
    demo.reset_portal_stats()
    refresh_id = demo.trigger(DATASET)
    wait_for("the refresh run", lambda: demo.run_state(refresh_id) in ("success", "failed"), timeout=180)
    assert demo.run_state(refresh_id) == "success"
    assert demo.task_state(refresh_id, "refresh") == "success"
    assert demo.task_state(refresh_id, "department_approval") == "skipped"
    # Step 1 to Stage 2 were skipped by the plan, never started by the executor.
    assert demo.started(refresh_id) == {"plan", "extract", "validate", "shrink_approval", "refresh", "finish"}
    counted = demo.portal_stats()[portal_id]
    assert (counted["created"], counted["updated"], counted["deleted"]) == (0, 6, 0)

    # The source loses 8% of its permits: more than the 5% the file allows. The refresh stops
    # before touching the portal and asks for approval, naming the counts.
    demo.change_source("DELETE FROM building_permits WHERE permit_nbr IN "
                       "(SELECT permit_nbr FROM building_permits ORDER BY permit_nbr DESC LIMIT 320)")
    demo.reset_portal_stats()
    shrink_id = demo.trigger(DATASET)
    wait_for("the shrink guard to ask", lambda: demo.task_state(shrink_id, "shrink_approval") == "awaiting_input")
    demo.wait_for_scheduler_loops(2)   # see the Airflow 3.3.2 race above
    details = demo.get(f"/dags/{DATASET}/dagRuns/{shrink_id}/hitlDetails")["hitl_details"]
    (request,) = [d for d in details if d["task_instance"]["task_id"] == "shrink_approval"]
    assert "delete 320 of 4,000 published rows (8.0%)" in request["body"]
    # Leadership and the coordinators are e-mailed the counts and the task's Required Actions link.
    (asked,) = wait_for("the approvers' e-mail", lambda: demo.mail("would delete published rows"), timeout=30)
    body = asked.get_body(preferencelist=("plain",)).get_content()
    assert "delete 320 of 4,000 published rows (8.0%)" in body and "Rows to delete:" in body
    assert f"/dags/{DATASET}/runs/{shrink_id}/tasks/shrink_approval/required_actions" in body
    assert demo.portal_stats().get(portal_id, {}).get("received", 0) == 0
    response = demo.as_user("jorge-ramos").patch(
        f"{demo.api}/dags/{DATASET}/dagRuns/{shrink_id}/taskInstances/shrink_approval/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {"reason": ""}}, timeout=10)
    assert response.status_code == 200, response.text
    wait_for("the approved refresh", lambda: demo.run_state(shrink_id) in ("success", "failed"), timeout=180)
    assert demo.run_state(shrink_id) == "success"
    counted = demo.portal_stats()[portal_id]
    assert (counted["created"], counted["updated"], counted["deleted"]) == (0, 0, 320)
    assert len(demo.published_rows(portal_id)) == SOURCE_ROWS - 320
    demo.assert_published_exactly_the_source(portal_id)
    return Runs(first=run_id, refresh=refresh_id, shrink=shrink_id, portal_id=portal_id)
