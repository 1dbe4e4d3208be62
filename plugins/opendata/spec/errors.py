"""Errors in config files, reported the way an engineer can fix them at once:
``file:line: field.path: what is wrong (did you mean 'x'?)``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Where in a file: the keys and list positions from its root, e.g. ``("columns", 3, "type")``.
Loc = tuple[str | int, ...]
#: A check's finding before it becomes a :class:`SpecError`: where, what is wrong, the hint.
Problem = tuple[Loc, str, str | None]

# Errors reported per file: the first fifty say what to fix; thousands (a file of garbage) would
# only cost time to locate and hint, and bury the first one.
MAX_ERRORS_PER_FILE = 50
# "Did you mean" compares against at most this many candidates (difflib is quadratic-ish: a file
# naming 5,000 unknown columns against 5,000 real ones would take minutes).
MAX_HINT_CANDIDATES = 2_000


def format_loc(loc: Loc) -> str:
    """``("columns", 3, "type")`` -> ``columns[3].type``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(file)"


def did_you_mean(value: object, candidates: list[str] | set[str]) -> str | None:
    """The closest candidate to a misspelt key or value, if any is close enough."""
    if not isinstance(value, str) or not candidates:
        return None
    lowered = {c.lower(): c for c in candidates}
    if value.lower() in lowered and lowered[value.lower()] != value:
        return lowered[value.lower()]
    if len(lowered) > MAX_HINT_CANDIDATES or len(value) > 200:
        return None
    matches = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[matches[0]] if matches else None


@dataclass(frozen=True)
class SpecError:
    file: Path
    loc: Loc
    message: str
    hint: str | None = None
    line: int | None = None

    @property
    def field(self) -> str:
        return format_loc(self.loc)

    def __str__(self) -> str:
        where = f"{_shown(self.file)}:{self.line}" if self.line else _shown(self.file)
        text = f"{where}: {_shown(self.field)}: {self.message}"
        if self.hint:
            text += f" (did you mean '{self.hint}'?)"
        return text


def _shown(value: Path | str) -> str:
    """A path or field as text, control characters escaped: a file or key named with a newline
    must not be able to forge a line of the report."""
    text = str(value)
    return repr(text) if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text) else text


class SpecFileError(Exception):
    """Raised when config files are invalid; carries every error found, not just the first."""

    def __init__(self, errors: list[SpecError]):
        self.errors = errors
        super().__init__("\n".join(str(error) for error in errors))


_QUOTED = re.compile(r"'([^']*)'")


def expected_values(pydantic_ctx: Mapping[str, object] | None) -> list[str]:
    """Allowed values named in a pydantic enum/literal error context."""
    if not pydantic_ctx or "expected" not in pydantic_ctx:
        return []
    return _QUOTED.findall(str(pydantic_ctx["expected"]))
