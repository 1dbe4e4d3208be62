"""The demo's pieces that need no running Airflow: logs kept across restarts, busy ports, the
settings it writes, and who may answer each Step 1."""

from __future__ import annotations

import json
import socket
import stat

import pytest

from opendata import demo
from tests.conftest import REPO_ROOT


def test_a_restart_appends_to_the_log_with_a_dated_separator(tmp_path):
    path = tmp_path / "logs" / "scheduler.log"
    with demo.open_log(path, "scheduler") as log:
        log.write(b"first start failed: Connection refused\n")
    with demo.open_log(path, "scheduler") as log:
        log.write(b"second start\n")
    text = path.read_text()
    assert "first start failed: Connection refused" in text and "second start" in text
    assert text.count("opendata demo (pid") == 2


def test_a_large_log_is_rotated_once_not_erased(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "LOG_ROTATE_BYTES", 100)
    path = tmp_path / "portal.log"
    path.write_bytes(b"evidence of the last failure\n" * 10)
    with demo.open_log(path, "portal"):
        pass
    assert (tmp_path / "portal.log.1").read_text().startswith("evidence of the last failure")
    assert "evidence" not in path.read_text()


def test_a_port_in_use_is_refused_with_the_variable_that_moves_it(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = demo.DemoConfig(root=REPO_ROOT, portal_port=port, airflow_port=1, source_api_port=1, mail_port=1,
                                 worker_log_port=1, trigger_log_port=1)
        with pytest.raises(demo.DemoError, match=f"port {port} is already in use .* OPENDATA_PORTAL_PORT=<port>"):
            demo._refuse_busy_ports(config)


def test_a_port_that_is_not_a_number_is_named(monkeypatch):
    monkeypatch.setenv("OPENDATA_MAIL_PORT", "25a")
    with pytest.raises(demo.DemoError, match=r"OPENDATA_MAIL_PORT='25a': give a port number"):
        demo._port("OPENDATA_MAIL_PORT", 8025)


def test_people_sign_in_under_their_governance_names_with_private_passwords(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_DEMO_DIR", str(tmp_path))
    monkeypatch.setenv("OPENDATA_AIRFLOW_PASSWORD", "people-secret")
    config = demo.load_config(REPO_ROOT)
    assert next(iter(config.people)) == "maria-alvarez"    # the CDO first: the demo's own API reader
    assert config.people["alicia-grant"] == "Alicia Grant"
    settings = demo.demo_settings(config)
    assert settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert "alicia-grant:admin" in settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")
    demo._write_settings(config)
    passwords = config.airflow_passwords_file
    assert json.loads(passwords.read_text())["alicia-grant"] == "people-secret"
    for path in (passwords, config.reviewer_password_file, config.env_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo._step1_approvers(config)["building-permits"] == ["alicia-grant"]


def test_the_start_up_wait_sees_every_dag_past_the_apis_page_cap():
    """Airflow's API caps a page at [api] maximum_page_limit (100) whatever `limit` asks: the wait
    for every DAG to be parsed pages through them (a 500-DAG deployment waited forever)."""
    import datetime as dt

    parsed = [{"dag_id": f"d{i:03}", "last_parsed_time": "2026-11-28T12:00:00Z"} for i in range(250)]
    asked: list[dict] = []

    class CappedApi:
        def get(self, path, **params):
            assert path in ("dags", "importErrors")
            asked.append(params)

            class Answer:
                @staticmethod
                def json():
                    if path == "importErrors":
                        return {"import_errors": [], "total_entries": 0}
                    offset = params.get("offset", 0)
                    return {"dags": parsed[offset:offset + min(params.get("limit", 100), 100)], "total_entries": 250}
            return Answer()

    since = dt.datetime(2026, 11, 28, 11, tzinfo=dt.UTC)
    assert demo._dags_parsed(CappedApi(), {"d000", "d249"}, since) is None
    assert demo._dags_parsed(CappedApi(), {"d249", "d250"}, since) == "not parsed yet: d250"
    assert [p.get("offset") for p in asked if "offset" in p][:3] == [0, 100, 200]
