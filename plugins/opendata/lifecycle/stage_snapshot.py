"""A file mirror of each dataset's publication stage, for DAG tags.

DAG files must parse without network or database calls, yet a coordinator should see a
dataset's stage on the DAG list. Tasks that change a stage rewrite this small JSON file
(atomically) after the portal and the registry agree; the factory only reads it. A missing
or unreadable file simply means "not ready".
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from opendata import settings

NOT_READY = "not-ready"


def snapshot_path() -> Path:
    return settings.state_dir() / "stages.json"


def read_stages(path: Path | None = None) -> dict[str, str]:
    try:
        data = json.loads((path or snapshot_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_stage(dataset_id: str, stage: str, path: Path | None = None) -> None:
    target = path or snapshot_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    stages = read_stages(target)
    stages[dataset_id] = stage
    # Write-then-rename so a DAG parse never reads half a file.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".stages-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(stages, handle, indent=1, sort_keys=True)
    os.replace(tmp, target)
