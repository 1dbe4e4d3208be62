"""What every source reader shares."""

from __future__ import annotations


class ExtractError(RuntimeError):
    """A source could not be read; the message names the cause in the engineer's terms."""
