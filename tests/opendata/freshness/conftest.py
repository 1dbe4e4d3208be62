"""Fixtures for the monitor's tests: the world of :mod:`opendata.samples.portal_world` wired
to a running portal emulator, a real SMTP server and a Slack webhook stand-in."""

from __future__ import annotations

import json
import shutil

import pytest

from opendata.notify.mailbox import start_mailbox
from opendata.samples.portal_world import MonitorWorld
from portal_emulator.testing import run_emulator
from tests.conftest import REPO_ROOT
from tests.opendata.notify.conftest import SlackReceiver


@pytest.fixture
def monitor_world(tmp_path, monkeypatch) -> MonitorWorld:
    include = tmp_path / "include"
    (include / "datasets").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "include" / "governance.yaml", include / "governance.yaml")
    registry_url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    # Explicit, so that no task asks Airflow for a registry connection.
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", registry_url)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example")
    # dag.test() parses the whole DAG folder before each run: give it the monitor's file alone,
    # not one dataset DAG per synthetic file.
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO_ROOT / "dags" / "freshness_monitor.py", dags)
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    slack = SlackReceiver()
    with run_emulator(tmp_path / "portal", extra_args=["--no-approvals"]) as emu, \
            start_mailbox(tmp_path / "mail") as mailbox:
        user, password = emu.auth("publisher")
        monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
            "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
            "extra": {"app_token": "test-app-token", "max_retries": 2, "backoff_base": 0.1}}))
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", mailbox.connection())
        monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", slack.url)
        try:
            yield MonitorWorld(include, emu, mailbox, slack, registry_url)
        finally:
            slack.stop()
