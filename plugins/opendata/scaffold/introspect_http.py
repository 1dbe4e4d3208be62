"""Introspecting a JSON API (built in the next commit)."""

from __future__ import annotations

from opendata.scaffold.profile import SourceProfile


def profile_http(url: str, records_path: str | None, sample_rows: int, *, conn_id: str | None = None) -> SourceProfile:
    raise NotImplementedError("opendata new --http: not built yet")
