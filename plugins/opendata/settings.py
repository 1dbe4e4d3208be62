"""Where the project finds its files, from the environment with embedded defaults.

Nothing here is secret: secrets live in Airflow connections or the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

# plugins/opendata/settings.py -> the repository (or /opt/airflow in the container image).
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def include_dir() -> Path:
    """The folder holding datasets/, governance.yaml and sql/."""
    return Path(os.environ.get("OPENDATA_INCLUDE_DIR", _PROJECT_ROOT / "include"))


def datasets_dir() -> Path:
    return include_dir() / "datasets"


def governance_file() -> Path:
    return include_dir() / "governance.yaml"


def state_dir() -> Path:
    """Local working state: staged extracts, reports, the default registry database."""
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "opendata"
    return Path(os.environ.get("OPENDATA_STATE_DIR", default))


def staging_dir() -> Path:
    return Path(os.environ.get("OPENDATA_STAGING_DIR", state_dir() / "staging"))


def resolve_include_path(path: str) -> Path:
    """A path from a dataset file: absolute as given, relative to the include folder."""
    candidate = Path(os.path.expandvars(path)).expanduser()
    return candidate if candidate.is_absolute() else include_dir() / candidate
