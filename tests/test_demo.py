"""`make run`'s main job, started for real and used the way a newcomer does: "Ready." means a
task can run (no first attempt may fail on a component still starting), Step 1 waits for its
person, every `opendata` command works from a second terminal, and the passwords are findable."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.demo_support import signed_in, stop_demo, wait_for_scheduler_loops


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plain_environment(**extra: str) -> dict[str, str]:
    """A terminal's environment: none of the test session's Airflow or opendata settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENDATA_", "PORTAL_EMULATOR"))}
    env.update(extra)
    return env


class RunningDemo:
    def __init__(self, folder: Path):
        self.dir = folder
        self.ports = {name: free_port() for name in ("AIRFLOW", "PORTAL", "SOURCE_API", "MAIL", "WORKER_LOG",
                                                     "TRIGGER_LOG")}
        self.env = plain_environment(OPENDATA_DEMO_DIR=str(folder),
                                     **{f"OPENDATA_{name}_PORT": str(port) for name, port in self.ports.items()})
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        # Not a terminal: the banner must still say where the passwords are.
        self.process = subprocess.Popen([sys.executable, "-m", "opendata", "demo"], env=self.env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append((time.monotonic() - self.started, line))

    @property
    def output(self) -> str:
        return "".join(line for _, line in self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> float:
        """Seconds from the start until a line matching ``pattern`` was printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if re.search(pattern, line):
                    return at
            assert self.process.poll() is None, f"the demo exited:\n{self.output}"
            time.sleep(0.5)
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.output}")

    def wait_for_scheduler_loops(self, loops: int) -> None:
        wait_for_scheduler_loops(f"http://127.0.0.1:{self.ports['AIRFLOW']}", loops)

    def password(self, user: str) -> str:
        return json.loads((self.dir / "airflow-passwords.json").read_text())[user]

    def registry(self, dataset_id: str) -> dict:
        with sqlite3.connect(self.dir / "state" / "registry.sqlite") as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM opendata_dataset_state WHERE dataset_id = ?", (dataset_id,)).fetchone()
        return dict(row) if row else {}

    def api(self, path: str, **params):
        base = f"http://127.0.0.1:{self.ports['AIRFLOW']}"
        session = signed_in(base, "maria-alvarez", self.password("maria-alvarez"))
        answer = session.get(f"{base}/api/v2/{path}", params=params, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> int:
        return stop_demo(self.process, 120)


def approve_in_the_ui(link: str, user: str, password: str, screenshot: Path) -> None:
    """A person in a browser (Playwright driving the machine's Chromium): the demo's link leads
    to Airflow's sign-in, then to the Step 1 form; Approve is enabled with nothing typed."""
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        # Playwright cannot download its own browser here; the form is then answered the way the
        # UI answers it (no field filled in), and the run says what was not checked.
        print("\nno Chromium on this machine (apt-get install chromium): Step 1 answered through the API")
        answer = _ui_like_api_answer(link, user, password)
        assert answer.status_code == 200, answer.text
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(link)
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.keyboard.press("Enter")
            page.wait_for_url("**/required_actions*", timeout=60_000)
            approve = page.get_by_role("button", name="Approve")
            approve.wait_for(timeout=60_000)
            assert page.get_by_text("Warnings (").count() == 1   # the warnings themselves, on the form
            assert approve.is_enabled(), "Approve must not wait for text in a rejection box"
            with page.expect_response(lambda r: "hitlDetails" in r.url and r.request.method == "PATCH") as sent:
                approve.click()
            assert sent.value.status == 200, sent.value.text()
        except Exception:
            page.screenshot(path=str(screenshot))
            raise
        finally:
            browser.close()


def _ui_like_api_answer(link: str, user: str, password: str) -> requests.Response:
    base, _, rest = link.partition("/dags/")
    dag_id, _, rest = rest.partition("/runs/")
    run_id, _, _ = rest.partition("/tasks/")
    return signed_in(base, user, password).patch(
        f"{base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/department_approval/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {}}, timeout=10)


def second_terminal(*args: str, folder: Path) -> subprocess.CompletedProcess:
    """An `opendata` command from a plain terminal that only knows where the demo folder is (the
    project's .local/ is found by default; the test's demo lives elsewhere)."""
    return subprocess.run([sys.executable, "-m", "opendata", *args], env=plain_environment(OPENDATA_DEMO_DIR=str(
        folder)), capture_output=True, text=True, timeout=120, cwd="/")


@pytest.mark.slow
def test_ready_means_a_task_can_run_and_step1_waits_for_its_person(tmp_path):
    demo = RunningDemo(tmp_path / "local")
    try:
        ready = demo.wait_for_line(r"^Ready\.", timeout=600)
        assert "(dataset DAGs: building-permits, restaurant-inspections, service-requests-311)" in demo.output
        # Airflow's components were started in order, each answering before the next.
        order = [demo.output.index(text) for text in ("Airflow API server answers", "DAG processor running",
                                                      "triggerer running", "scheduler running", "Ready.")]
        assert order == sorted(order)
        step1 = demo.wait_for_line(r"Waiting for a person: Step 1 of building-permits \(sign in as alicia-grant\)",
                                   timeout=300)
        print(f"\nmake run -> Ready.: {ready:.0f} s; -> Step 1 of building-permits awaiting input: {step1:.0f} s")

        # No first attempt failed or was retried: every task so far ran once, none failed.
        instances = demo.api("dags/~/dagRuns/~/taskInstances", limit=200)["task_instances"]
        assert instances
        bad = [(ti["dag_id"], ti["task_id"], ti["state"], ti["try_number"]) for ti in instances
               if ti["state"] in ("failed", "up_for_retry", "upstream_failed") or ti["try_number"] > 1]
        assert bad == [], demo.output
        assert "attempt" not in demo.output   # the watcher reports any failed attempt

        # Step 1 in the UI: alicia-grant signs in and approves with one click, typing nothing.
        # (Not before the scheduler has looped twice since the form appeared: Airflow 3.3.2 retries
        # a HITL task answered before the scheduler processed its deferral; people are slower.)
        demo.wait_for_scheduler_loops(2)
        link = re.search(r"Waiting for a person: Step 1 of building-permits \(sign in as alicia-grant\): (\S+)",
                         demo.output).group(1)
        approve_in_the_ui(link, "alicia-grant", demo.password("alicia-grant"), demo.dir / "step1.png")
        deadline = time.monotonic() + 120
        while demo.registry("building-permits").get("stage") != "stage-1" and time.monotonic() < deadline:
            time.sleep(1)
        state = demo.registry("building-permits")
        assert (state.get("stage"), state.get("department_approved_by")) == ("stage-1", "Alicia Grant"), state
        print(f"-> Step 1 approved in the UI, Stage 1 done: {time.monotonic() - demo.started:.0f} s")
        # An approval given on paper (recorded in the dataset file by key) is recorded by name too.
        assert demo.registry("restaurant-inspections").get("department_approved_by") == "Rachel Levy"

        # The passwords: files only the user can read, named by the banner even off a terminal.
        for name in ("airflow-passwords.json", "reviewer-password", "demo.env"):
            assert stat.S_IMODE((demo.dir / name).stat().st_mode) == 0o600, name
            assert str(demo.dir / name) in demo.output or name == "demo.env" and "demo.env" in demo.output
        reviewer_password = (demo.dir / "reviewer-password").read_text().strip()
        assert reviewer_password not in demo.output
        assert reviewer_password not in "".join(p.read_text(errors="replace") for p in (demo.dir / "logs").glob("*"))
        # ...and the review page's sign-in answer says where the reviewer's password is.
        review = requests.get(f"http://127.0.0.1:{demo.ports['PORTAL']}/review", timeout=10)
        assert review.status_code == 401 and str(demo.dir / "reviewer-password") in review.text

        # A second terminal: every command works against the running demo, nothing exported.
        status = second_terminal("freshness", "status", folder=demo.dir)
        assert status.returncode == 0, status.stderr
        assert "public dataset(s)" in status.stdout
        assert f"using the demo's settings from {demo.dir / 'demo.env'}" in status.stderr
        lint = second_terminal("lint", folder=demo.dir)
        assert lint.returncode == 0, lint.stderr
        history = second_terminal("history", "list", "building-permits", folder=demo.dir)
        assert history.returncode == 0 and "4,000 rows" in history.stdout, history.stdout + history.stderr
        standalone = subprocess.run([sys.executable, "-m", "opendata.freshness", "comments", "list"], cwd="/",
                                    env=plain_environment(OPENDATA_DEMO_DIR=str(demo.dir)), capture_output=True,
                                    text=True, timeout=120)
        assert standalone.returncode == 0, standalone.stderr
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert "Stopping Airflow" in demo.output
    # Everything it started has stopped again.
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []
    # The logs survive a restart: appended with a separator per start, not rewritten.
    log = (demo.dir / "logs" / "scheduler.log").read_text()
    assert log.count("opendata demo (pid") == 1


def test_outside_a_deployment_commands_say_what_is_missing(tmp_path):
    """No demo settings, no registry: a refusal naming what to set, not "0 public datasets"."""
    env = plain_environment(OPENDATA_DEMO_DIR=str(tmp_path / "no-demo"), HOME=str(tmp_path / "home"))
    for command in (["-m", "opendata", "freshness", "status"], ["-m", "opendata.freshness", "status"],
                    ["-m", "opendata", "history", "list", "building-permits"]):
        result = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True, timeout=120,
                                cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "no publication registry here: OPENDATA_REGISTRY_URL is not set" in result.stderr
        assert "for the local demo: start it in this project (make run)" in result.stderr
        assert "public dataset" not in result.stdout
