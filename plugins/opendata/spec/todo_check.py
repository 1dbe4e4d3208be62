"""``TODO:`` left in a dataset file: each one is an error naming it, at its own field.

`opendata new` drafts a dataset file and writes ``TODO: ...`` only where a person must write
(plain-English descriptions, a justification). Such a file must not run, even though it may be
valid for the schema (a TODO is non-empty text): lint names every TODO left, and the DAG loader
builds no DAG for the file until they are all replaced. The marker lives here, in the spec layer,
because the loader checks it; the scaffold package (above it) writes it through the same constant.
"""

from __future__ import annotations

from collections.abc import Iterator

from opendata.spec.errors import Loc, Problem

#: What starts a value a person still has to write.
TODO_PREFIX = "TODO:"

# The text of a TODO is quoted in its error up to this many characters.
_SHOWN_CHARS = 200


def is_todo(value: object) -> bool:
    """A string whose text (leading blanks ignored) starts with ``TODO:``."""
    return isinstance(value, str) and value.lstrip().startswith(TODO_PREFIX)


def todo_paths(data: object) -> Iterator[tuple[Loc, str]]:
    """(path, text) of every TODO value in a dataset file's plain data, in file order.

    Iterative: a deep document cannot exhaust the stack (the structure checks bound its size)."""
    stack: list[tuple[Loc, object]] = [((), data)]
    while stack:
        loc, value = stack.pop()
        if is_todo(value):
            yield loc, str(value).strip()
        elif isinstance(value, dict):
            # Reversed onto the stack so that they come off in the file's order.
            stack.extend((loc + (key if isinstance(key, (str, int)) else str(key),), child)
                         for key, child in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((loc + (i,), child) for i, child in reversed(list(enumerate(value))))


def todo_problems(data: object) -> list[Problem]:
    """One problem per TODO left: ``TODO left: <its text>``."""
    problems: list[Problem] = []
    for loc, text in todo_paths(data):
        shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."
        problems.append((loc, f"TODO left: {' '.join(shown.split())}", None))
    return problems


def under_todo(loc: Loc, todo_locs: set[Loc]) -> bool:
    """Whether ``loc`` is a TODO's path or lies under one (an error there is the TODO's doing)."""
    return any(loc[:n] in todo_locs for n in range(len(loc) + 1))
