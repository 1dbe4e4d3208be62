"""Introspecting a SQL table or query through an Airflow connection (built in the next commit)."""

from __future__ import annotations

from opendata.scaffold.profile import SourceProfile


def profile_sql(conn_id: str, table_or_query: str, sample_rows: int) -> SourceProfile:
    raise NotImplementedError("opendata new --sql: not built yet")
