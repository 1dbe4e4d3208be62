"""The ``TODO:`` marker `opendata new` leaves where a person must write.

The marker is the spec layer's (opendata.spec.todo_check), which lint and the DAG loader check:
a drafted file cannot run until every TODO is replaced, so one constant serves both sides.
"""

from __future__ import annotations

from opendata.spec.todo_check import TODO_PREFIX, is_todo

__all__ = ["TODO_PREFIX", "is_todo", "todo"]


def todo(what: str) -> str:
    """``TODO: <what>``, e.g. ``todo("describe in plain English what a row of this dataset is")``."""
    return f"{TODO_PREFIX} {' '.join(what.split())}"
