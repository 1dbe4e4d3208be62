"""Retry policy for portal requests: which outcomes are retried and how long to wait.

Pure and deterministic given a random source, so the schedule is unit-testable.

Retried outcomes (every method, POST and PUT included, because SODA upserts keyed by a row
identifier and replaces are idempotent):

* HTTP 429 (throttled), 500, 502, 503, 504;
* HTTP 202 (SODA: "Request Processing ... retry your request, and when it's complete, you'll
  get a 200");
* connect and read timeouts, refused or reset connections, truncated bodies.

Delay before retry ``n`` (``n`` = 0 for the first retry) is *equal-jitter* exponential
backoff: ``cap = min(backoff_max, backoff_base * 2**n)`` and the delay is drawn uniformly from
``[cap / 2, cap]``. Half of the delay guarantees the back-off actually grows; the random half
keeps parallel workers from retrying in lock-step. When the response carries ``Retry-After``
(seconds or an HTTP date) the delay is at least that long (capped by ``retry_after_max``), plus
up to 10 % jitter.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({202, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry one request.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param backoff_base: seconds; the cap of the first retry delay, doubled on each retry.
    :param backoff_max: seconds; the largest cap of one delay.
    :param retry_after_max: seconds; ``Retry-After`` values above this are clamped.
    :param retry_statuses: HTTP statuses that are retried.
    """

    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise ValueError("backoff values must be >= 0")

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def should_retry_status(self, status: int) -> bool:
        return status in self.retry_statuses

    def backoff_cap(self, retry_number: int) -> float:
        """Upper bound of the delay before retry ``retry_number`` (0-based)."""
        if self.backoff_base <= 0:
            return 0.0
        exp = min(retry_number, 62)  # avoid float overflow on absurd counts
        return min(self.backoff_max, self.backoff_base * (2.0**exp))

    def compute_delay(
        self,
        retry_number: int,
        *,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to sleep before retry ``retry_number`` (0-based)."""
        rand = (rng or random).random()
        if retry_after is not None and retry_after >= 0:
            wait = min(retry_after, self.retry_after_max)
            return wait + 0.1 * wait * rand
        cap = self.backoff_cap(retry_number)
        return cap / 2 + (cap / 2) * rand

    def schedule_bounds(self) -> list[tuple[float, float]]:
        """``(min, max)`` delay of each retry, for docs and tests."""
        return [(self.backoff_cap(n) / 2, self.backoff_cap(n)) for n in range(self.max_retries)]


def parse_retry_after(headers: Mapping[str, str] | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``."""
    if not headers:
        return None
    value = headers.get("Retry-After")
    if value is None:
        for key, val in headers.items():
            if key.lower() == "retry-after":
                value = val
                break
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
