"""The README's run command, driven the way people use it: the scheduler, the triggerer and the
API server started by `opendata demo` (one machine, LocalExecutor), then the publication scenario
of ``tests/publication_scenario.py`` (Step 1 in Airflow, Stage 1, the review, Stage 2, a refresh,
the shrink guard); ``tests/test_distributed_e2e.py`` runs the same scenario on Celery workers."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.demo_support import stop_demo
from tests.publication_scenario import Deployment, publication_scenario, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    """`opendata demo` in a subprocess, as `make run` starts it."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "local"
        self.ports = {name: free_port() for name in ("airflow", "portal", "source", "mail", "worker_log",
                                                     "trigger_log")}
        self.reviewer_password = secrets.token_urlsafe(12)
        self.admin_password = secrets.token_urlsafe(12)
        # Airflow sign-in: the people of governance.yaml, by key (one password in the demo).
        self.airflow_password = secrets.token_urlsafe(12)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENDATA_"))}
        env.update({
            "OPENDATA_DEMO_DIR": str(self.dir),
            "OPENDATA_AIRFLOW_PORT": str(self.ports["airflow"]),
            "OPENDATA_PORTAL_PORT": str(self.ports["portal"]),
            "OPENDATA_SOURCE_API_PORT": str(self.ports["source"]),
            "OPENDATA_MAIL_PORT": str(self.ports["mail"]),
            "OPENDATA_WORKER_LOG_PORT": str(self.ports["worker_log"]),
            "OPENDATA_TRIGGER_LOG_PORT": str(self.ports["trigger_log"]),
            "OPENDATA_REVIEWER_PASSWORD": self.reviewer_password,
            "OPENDATA_PORTAL_ADMIN_PASSWORD": self.admin_password,
            "OPENDATA_AIRFLOW_PASSWORD": self.airflow_password,
            # The portal as recorded: drafts hidden until published, reviews without names or
            # notes, guessed column types. Lost answers are tested elsewhere: here rows are counted.
            "PORTAL_EMULATOR_STRICT": "1",
            "PORTAL_EMULATOR_LOST_ANSWER_RATE": "0",
        })
        self.env = env
        self.output: list[str] = []
        self.process = subprocess.Popen([sys.executable, "-m", "opendata", "demo"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)

    def deployment(self) -> Deployment:
        return Deployment(
            airflow_url=f"http://127.0.0.1:{self.ports['airflow']}", portal_url=f"http://127.0.0.1:{self.ports['portal']}",
            local=self.dir, registry_url=f"sqlite:///{self.dir / 'state' / 'registry.sqlite'}",
            reviewer_password=self.reviewer_password, admin_password=self.admin_password,
            airflow_password=self.airflow_password, env=self.env)

    def stop(self):
        stop_demo(self.process, 90)


@pytest.fixture
def demo(tmp_path):
    running = Demo(tmp_path)
    try:
        wait_for("the demo to be ready", lambda: any("Ready." in line for line in running.output)
                 or running.process.poll() is not None, timeout=300)
        assert running.process.poll() is None, "".join(running.output)
        yield running.deployment()
    finally:
        running.stop()


@pytest.mark.slow
def test_step1_in_airflow_stage2_on_the_portal_then_refreshes_and_the_shrink_guard(demo):
    publication_scenario(demo)
