from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_INCLUDE = Path(__file__).resolve().parents[3] / "include"
GOOD_FILE = "datasets/sanitation/service-requests-311.yaml"


@pytest.fixture
def include_copy(tmp_path) -> Path:
    """A private copy of the repository's include folder, safe to break."""
    target = tmp_path / "include"
    shutil.copytree(REPO_INCLUDE, target, ignore=shutil.ignore_patterns("sample_sources"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
