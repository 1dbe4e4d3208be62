"""Files other processes read while they are replaced: written to a temporary file in the same
folder, then renamed over the old one, so a reader (a DAG parse, the API server, a harvester)
sees the old file or the new one, never half of one.

This module imports nothing of the project: every package may use it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: str | bytes, *, public: bool = False, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8), creating its folder.

    ``public``: readable by everyone (0644; otherwise the temporary file's 0600 stays, for
    caches and state); ``durable``: flushed to disk before the rename (a published document
    that must survive a crash right after the write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if public:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
