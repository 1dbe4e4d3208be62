"""Small files the DAG factory reads at parse time, kept under the state folder.

DAG files must parse without network or database calls, yet a coordinator should see a
dataset's stage on the DAG list, and a dataset id must stay with the file its DAG was built
from. So:

* ``stages.json``: each dataset's publication stage, for the ``stage:`` tag. Tasks that change
  a stage rewrite it after the portal and the registry agree; the factory only reads it.
* ``dataset_files.json``: which file holds each dataset id (its path under datasets/). DAG
  parsing writes it, so when a second file claims an id, the file whose DAG already exists keeps
  it (opendata.spec.holders) at parse time and in every task.

Both are written atomically (write, then rename), so a parse never reads half a file. A missing
or unreadable file simply means "not ready" and "no record".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from opendata import settings
from opendata.fileio import write_atomically

log = logging.getLogger(__name__)

NOT_READY = "not-ready"


def snapshot_path() -> Path:
    return settings.state_dir() / "stages.json"


def dataset_files_path() -> Path:
    return settings.state_dir() / "dataset_files.json"


def read_stages(path: Path | None = None) -> dict[str, str]:
    return _read_mapping(path or snapshot_path())


def write_stage(dataset_id: str, stage: str, path: Path | None = None) -> None:
    target = path or snapshot_path()
    stages = read_stages(target)
    stages[dataset_id] = stage
    _write_mapping(target, stages)


def read_dataset_files(path: Path | None = None) -> dict[str, str]:
    """Dataset id -> the path under datasets/ of the file that holds it."""
    return _read_mapping(path or dataset_files_path())


def record_dataset_files(holders: Mapping[str, str], path: Path | None = None) -> None:
    """Keep ``holders`` as the record (only when it changed: most parses change nothing). A
    state folder that cannot be written leaves the record as it was; parsing goes on."""
    target = path or dataset_files_path()
    if read_dataset_files(target) == dict(holders):
        return
    try:
        _write_mapping(target, dict(holders))
    except OSError as exc:
        log.warning("Could not record which file holds each dataset id in %s: %s", target, exc)


def _read_mapping(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_mapping(target: Path, data: dict[str, str]) -> None:
    # A DAG parse never reads half a file.
    write_atomically(target, json.dumps(data, indent=1, sort_keys=True))
