"""The dataset-file check of a SQL source's query (``opendata lint``): one read statement.

The same check runs again before every extraction (``sql.py``); here it names the dataset
file's field, and the query's line, so the author can fix it before anything runs.
"""

from __future__ import annotations

from pathlib import Path

from opendata.spec.dataset import SqlSource
from opendata.spec.errors import Loc, Problem
from opendata.spec.sql_guard import find_problem


def query_problems(source: SqlSource, include_dir: Path) -> list[Problem]:
    """``(field, message, hint)`` when the source's query is not exactly one read statement.

    A query file that is missing or outside ``include/sql`` is reported by the loader's own
    checks; it is not read here.
    """
    field: Loc
    named: str | None
    if source.query is not None:
        field, text, named = ("source", "query"), source.query, "the query"
    else:
        sql_dir = (include_dir / "sql").resolve()
        path = (sql_dir / (source.query_file or "")).resolve()
        if not path.is_relative_to(sql_dir) or not path.is_file():
            return []
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return [(("source", "query_file"), f"cannot read {path.name}: {exc}", None)]
        field, named = ("source", "query_file"), source.query_file
    problem = find_problem(text)
    if problem is None:
        return []
    return [(field, f"{named} is not one read statement: {problem}", None)]
