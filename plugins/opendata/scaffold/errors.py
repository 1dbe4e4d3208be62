"""The one error `opendata new` reports: a sentence naming what is wrong and what to do.

The command prints it on one line and exits 2, without a traceback: a missing table, an unknown
connection or a file that exists are the author's to fix, not the program's failures.
"""

from __future__ import annotations


class ScaffoldError(Exception):
    """Something the person running `opendata new` can fix; ``str()`` is the whole message."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message + (f" (did you mean '{hint}'?)" if hint else ""))
