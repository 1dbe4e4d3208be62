"""Shared test set-up: an isolated Airflow home per test session.

Airflow reads its configuration when it is first imported, so the environment is set here,
at collection time, before any test module imports ``airflow``. Each pytest process gets
its own AIRFLOW_HOME and its own metadata database, so parallel runs never collide.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="opendata-tests-"))
_AIRFLOW_HOME = _SESSION_DIR / "airflow"
_AIRFLOW_HOME.mkdir()

os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "OPENDATA_INCLUDE_DIR": str(REPO_ROOT / "include"),
        "OPENDATA_STATE_DIR": str(_SESSION_DIR / "state"),
    }
)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
