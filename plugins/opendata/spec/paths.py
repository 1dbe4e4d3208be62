"""Where a dataset file may point: one place that decides, used by lint and at run time.

A dataset file is written by a department and reviewed as data, not as code, so the paths in
it are confined: ``source.path`` to the include folder or a data root the deployment names
(``OPENDATA_DATA_ROOTS``), ``source.query_file`` to include/sql. Paths are resolved with
symbolic links followed, so a link inside include/ cannot lead out of it.

Nothing is ever expanded: no environment variables (``${AIRFLOW_CONN_...}`` would put a
secret in a traceback and the registry), no ``~``. Messages show the path as the file wrote
it, which is the file's own text, never an expanded or resolved value.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from opendata import settings

# Far beyond any real path; a longer one is a mistake or an attempt to provoke odd errors.
MAX_PATH_CHARS = 1024


class UnsafePath(ValueError):
    """A path in a dataset file that points where dataset files may not read."""


def path_problem(text: str) -> str | None:
    """What is wrong with a path as written, before it is looked up (None: nothing)."""
    if "\x00" in text:
        return "contains a NUL character"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        return "contains a control character"
    if len(text) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    if "$" in text:
        return ("environment variables are never expanded in dataset files: '$' is not allowed in a path; "
                "write the path itself")
    if text.startswith("~"):
        return "'~' (a home folder) is never expanded in dataset files; write the path itself"
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        return "'..' is not allowed in a path: name the file from the include folder or a data root"
    return None


class Confinement:
    """The folders a deployment lets dataset files read, resolved once (a catalog load checks
    thousands of paths against the same folders)."""

    def __init__(self, include: Path, roots: Sequence[Path] = ()):
        self.include = include
        self.sql_dir = include / "sql"
        self.has_roots = bool(roots)
        self._include = _real(include)
        self._roots = [_real(root) for root in roots]
        self._sql = _real(self.sql_dir)

    def source_path(self, text: str) -> Path:
        """``source.path``: relative to the include folder; absolute only inside it or a data root."""
        return _confine(text, self.include, [self._include, *self._roots], allow_absolute=True,
                        where="the include folder and the data roots" if self.has_roots else "the include folder",
                        hint="data roots are named by the deployment in OPENDATA_DATA_ROOTS")

    def query_file(self, text: str) -> Path:
        """``source.query_file``: a file under include/sql, named relative to it."""
        return _confine(text, self.sql_dir, [self._sql], allow_absolute=False, where="include/sql",
                        hint="put the query in include/sql and name it from there")


def resolve_include_path(path: str) -> Path:
    """A source file named in a dataset file, confined to the include folder or a data root.

    Relative paths are read from the include folder. Nothing is expanded (no environment
    variables, no ``~``): a path is the file's own text. Raises ``UnsafePath`` otherwise.
    """
    return Confinement(settings.include_dir(), settings.data_roots()).source_path(path)


def resolve_query_file(name: str) -> Path:
    """A query file named in a dataset file, confined to include/sql (raises ``UnsafePath``)."""
    return Confinement(settings.include_dir()).query_file(name)


def is_within(path: Path, folder: Path) -> bool:
    """Both already resolved."""
    return path == folder or folder in path.parents


def _real(folder: Path) -> Path:
    try:
        return Path(os.path.realpath(folder))
    except (OSError, RuntimeError, ValueError):
        return folder


def _confine(text: str, base: Path, folders: Sequence[Path], *, allow_absolute: bool, where: str,
             hint: str) -> Path:
    """``folders``: already resolved."""
    problem = path_problem(text)
    if problem is not None:
        raise UnsafePath(f"{text!r}: {problem}")
    candidate = Path(text)
    if candidate.is_absolute() and not allow_absolute:
        raise UnsafePath(f"{text!r}: an absolute path is not allowed here; {hint}")
    try:
        target = Path(os.path.realpath(base / candidate))  # an absolute candidate replaces base
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop, a name too long
        raise UnsafePath(f"{text!r}: cannot be resolved ({type(exc).__name__})") from None
    if not any(is_within(target, folder) for folder in folders):
        how = "leads through a symbolic link to a file outside" if not candidate.is_absolute() else "is outside"
        raise UnsafePath(f"{text!r} {how} {where}, where dataset files may read ({hint})")
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return target  # missing: the reader says so when it runs (data roots may exist on workers only)
    if not stat.S_ISREG(mode):
        raise UnsafePath(f"{text!r} is not a regular file (a folder, device or pipe cannot be a source)")
    return target
