"""The registry's one failure type: it cannot be reached or used.

A driver's error says "connection refused" and nothing about which database or why the task
needed it. :class:`RegistryUnavailable` says which dataset, that it is the publication
registry, where it is configured (the URL with its password masked) and the driver's reason,
on one line: the run log's ``error`` column and the failure e-mail keep only the first line.
The driver's exception is not chained: the message already carries its reason, and nothing
that might quote the password reaches a task log.
"""

from __future__ import annotations

import sqlalchemy as sa

from opendata.registry.location import RegistryLocation, scrub

# Longer driver messages are cut: the first sentence says what failed.
_MAX_REASON = 400


class RegistryUnavailable(RuntimeError):
    """The publication registry cannot be reached or used (down, wrong URL, unwritable file)."""

    def __init__(self, message: str, *, dataset_id: str | None = None):
        super().__init__(message)
        self.dataset_id = dataset_id


def is_unavailability(exc: BaseException) -> bool:
    """A failure of the registry's database itself (connection refused or lost, timeout, file
    not openable), as opposed to a bug in a query, which is raised as it is."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, OSError))


def reason_of(exc: BaseException, location: RegistryLocation) -> str:
    """The driver's own words, on one line, without the registry's secrets."""
    original = getattr(exc, "orig", None) or exc  # a DBAPIError's str() adds the SQL and parameters
    text = " ".join(str(original).split()) or type(original).__name__
    if len(text) > _MAX_REASON:
        text = text[:_MAX_REASON].rstrip() + "…"
    if text == "unable to open database file":  # SQLite's words for a missing or read-only folder
        text += " (its folder must exist and be writable)"
    return scrub(text, location.url)


def unavailable(exc: BaseException, location: RegistryLocation, *, dataset_id: str | None = None,
                doing: str = "is unavailable") -> RegistryUnavailable:
    """The error to raise instead of ``exc`` (raise it outside the ``except`` block, so that the
    driver's exception is not attached as its context)."""
    prefix = f"{dataset_id}: " if dataset_id else ""
    return RegistryUnavailable(
        f"{prefix}the publication registry {doing} ({location.describe()}): {reason_of(exc, location)}",
        dataset_id=dataset_id)
