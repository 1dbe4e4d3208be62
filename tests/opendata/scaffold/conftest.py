"""Fixtures of the `opendata new` tests: a private include folder with the repository's governance."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_INCLUDE = Path(__file__).resolve().parents[3] / "include"


@pytest.fixture
def include_dir(tmp_path) -> Path:
    """An include folder with a copy of include/governance.yaml and no dataset file yet."""
    target = tmp_path / "include"
    (target / "datasets").mkdir(parents=True)
    shutil.copy(REPO_INCLUDE / "governance.yaml", target / "governance.yaml")
    return target
