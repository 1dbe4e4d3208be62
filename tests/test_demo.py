"""`make run`'s main job, started for real: emulator, sample sources and Airflow standalone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_demo_comes_up_with_every_dataset_dag_and_no_import_errors(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENDATA_STATE"))}
    env.update({
        "OPENDATA_DEMO_DIR": str(tmp_path / "local"),
        "OPENDATA_AIRFLOW_PORT": str(free_port()),
        "OPENDATA_PORTAL_PORT": str(free_port()),
        "OPENDATA_SOURCE_API_PORT": str(free_port()),
    })
    result = subprocess.run([sys.executable, "-m", "opendata", "demo", "--check"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("(dataset DAGs: building-permits, restaurant-inspections, service-requests-311)"
            in result.stdout)
    assert "Stopping Airflow" in result.stdout
    # Everything it started has stopped again.
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []
