"""Sampled rows -> column profiles: names, types, counts and a bounded copy of the values (pure).

Each introspection (SQL, file, HTTP) reads its rows and hands them here with what the source
says of each column; what is kept of the values is bounded, whatever the source holds: a cell of
megabytes is cut to its first ``MAX_SAMPLE_CHARS`` characters (the privacy scan and the type
guess need no more), so a wide, dirty table costs a bounded amount of memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opendata.scaffold.names import field_names
from opendata.scaffold.profile import ColumnProfile
from opendata.scaffold.typemap import TypeGuess

MAX_SAMPLE_CHARS = 1000


def is_missing(value: Any) -> bool:
    """No value: None, NaN, or blank text (a CSV's empty cell is missing, not a value)."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_SAMPLE_CHARS:
        return value[:MAX_SAMPLE_CHARS]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return value


def _distinct_key(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def profile_columns(names: Sequence[str], rows: Sequence[Sequence[Any]], *,
                    guess: Callable[[str, Sequence[Any], int], TypeGuess],
                    source_types: Mapping[str, str] | None = None,
                    nullable: Mapping[str, bool | None] | None = None,
                    comments: Mapping[str, str | None] | None = None,
                    primary_key: Sequence[str] = ()) -> tuple[ColumnProfile, ...]:
    """The profiles of ``names`` from ``rows`` (one value per name, in order).
    ``guess(field, non-null values, index)`` decides each column's type."""
    fields = field_names(names)
    profiles: list[ColumnProfile] = []
    for i, (name, field) in enumerate(zip(names, fields, strict=True)):
        present = [bounded(row[i]) for row in rows if i < len(row) and not is_missing(row[i])]
        type_guess = guess(field, present, i)
        comment = (comments or {}).get(name)
        profiles.append(ColumnProfile(
            name=name, field_name=field,
            source_type=(source_types or {}).get(name) or _python_types(present),
            socrata_type=type_guess.socrata_type, kind=type_guess.kind, type_note=type_guess.note,
            nullable=(nullable or {}).get(name), comment=comment.strip() if comment and comment.strip() else None,
            is_primary_key=name in primary_key, samples=tuple(present),
            null_count=len(rows) - len(present), distinct_count=len({_distinct_key(v) for v in present})))
    return tuple(profiles)


def _python_types(values: Sequence[Any]) -> str:
    kinds = sorted({type(v).__name__ for v in values})
    return "/".join(kinds) if kinds else "empty"
