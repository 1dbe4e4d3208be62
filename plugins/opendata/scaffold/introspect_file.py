"""Introspecting a CSV or Excel file (built in the next commit)."""

from __future__ import annotations

from pathlib import Path

from opendata.scaffold.profile import SourceProfile


def profile_file(path: Path, sample_rows: int, *, include_dir: Path | None = None, sheet: str | int | None = None,
                 delimiter: str | None = None, encoding: str | None = None) -> SourceProfile:
    raise NotImplementedError("opendata new --file: not built yet")
