"""Counters and latency for one target, and their JSON shape for GET /metrics.

Pure Python like reflektor/queue.py: the sender calls the `record_*` methods, the admin
endpoint calls `snapshot`. Latency is enqueue-to-delivered (time spent queued plus every
attempt), over a window of the most recent deliveries, so a bad hour an hour ago does
not hide today's numbers.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LATENCY_WINDOW = 1024

# Why an item left without being delivered; every reason is always reported (as 0).
# rejected: a 4xx other than 404 (and 408/429); overflow: pushed out of a full queue;
# expired: given up after the retry limit; shutdown: still queued when the process
# stopped; error: a bug in reflektor itself (logged with its traceback).
DROP_REASONS = ("rejected", "overflow", "expired", "shutdown", "error")


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = min(len(sorted_values), max(1, math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass
class TargetStats:
    sent: int = 0  # done: 2xx or 404
    retried: int = 0  # failed attempts followed by another attempt
    dropped: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # every attempt: "202", "error"
    last_error: str | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    def record_attempt(self, status: int | None, error: str | None = None) -> None:
        self.statuses["error" if status is None else str(status)] += 1
        if error is not None:
            self.last_error = error
        elif status is not None and status >= 400:
            self.last_error = f"HTTP {status}"

    def record_sent(self, latency: float) -> None:
        self.sent += 1
        self.latencies.append(latency)

    def record_retry(self) -> None:
        self.retried += 1

    def record_dropped(self, reason: str, count: int = 1) -> None:
        if reason not in DROP_REASONS:
            raise ValueError(f"unknown drop reason {reason!r}")
        self.dropped[reason] += count

    def latency_summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 3)

        return {
            "window": len(ordered),
            "p50_ms": ms(percentile(ordered, 0.50)),
            "p90_ms": ms(percentile(ordered, 0.90)),
            "p99_ms": ms(percentile(ordered, 0.99)),
            "max_ms": ms(ordered[-1] if ordered else None),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retried": self.retried,
            "dropped": {reason: self.dropped[reason] for reason in DROP_REASONS},
            "dropped_total": sum(self.dropped.values()),
            "statuses": dict(sorted(self.statuses.items())),
            "last_error": self.last_error,
            "latency": self.latency_summary(),
        }
