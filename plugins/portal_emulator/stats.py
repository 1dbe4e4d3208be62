"""Request, byte, row and fault counters for benchmarks and tests (``GET /__emulator/stats``).

Counters are process memory on purpose: they describe this run's traffic, not portal state.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

ROW_KEYS = ("requests", "received", "created", "updated", "deleted", "errors")
# DSMAPI revisions per dataset: lifecycle events, upload volume and rows staged by parsing.
REVISION_KEYS = (
    "opened",
    "discarded",
    "sources",
    "bytes_uploaded",
    "chunks",
    "rows_staged",
    "row_errors",
    "applied",
    "failed",
)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.since = time.time()
            self.requests: Counter[str] = Counter()
            self.statuses: Counter[str] = Counter()
            self.body_bytes: Counter[str] = Counter()
            self.rows: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self.faults: Counter[str] = Counter()
            self.faults_after = 0
            self.app_tokens: Counter[str] = Counter()
            self.revisions: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def revision(self, dataset_id: str, **counts: int) -> None:
        with self._lock:
            c = self.revisions[dataset_id]
            for key, n in counts.items():
                c[key] += n

    def request(self, template: str, status: int, body_bytes: int) -> None:
        with self._lock:
            self.requests[template] += 1
            self.statuses[str(status)] += 1
            self.body_bytes[template] += body_bytes

    def fault(self, kind: str, phase: str) -> None:
        with self._lock:
            self.faults[kind] += 1
            if phase == "after":
                self.faults_after += 1

    def rows_written(self, dataset_id: str, received: int, report: dict[str, int]) -> None:
        with self._lock:
            c = self.rows[dataset_id]
            c["requests"] += 1
            c["received"] += received
            c["created"] += report.get("Rows Created", 0)
            c["updated"] += report.get("Rows Updated", 0)
            c["deleted"] += report.get("Rows Deleted", 0)
            c["errors"] += report.get("Errors", 0)

    def app_token(self, token: str) -> None:
        with self._lock:
            self.app_tokens[token] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "since": self.since,
                "requests": dict(self.requests),
                "requests_total": sum(self.requests.values()),
                "statuses": dict(self.statuses),
                "request_body_bytes": dict(self.body_bytes),
                "request_body_bytes_total": sum(self.body_bytes.values()),
                "rows": {ds: {k: c.get(k, 0) for k in ROW_KEYS} for ds, c in self.rows.items()},
                "faults": {
                    "total": sum(self.faults.values()),
                    "by_kind": dict(self.faults),
                    "after_apply": self.faults_after,
                },
                "app_tokens": dict(self.app_tokens),
                "revisions": {ds: {k: c.get(k, 0) for k in REVISION_KEYS} for ds, c in self.revisions.items()},
            }
