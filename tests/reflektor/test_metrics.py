"""Per-target counters, the latency window and their JSON shape."""

from __future__ import annotations

import pytest

from reflektor.metrics import DROP_REASONS, LATENCY_WINDOW, TargetStats, percentile


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.5) is None


def test_snapshot_counts_everything_and_reports_every_drop_reason():
    stats = TargetStats()
    stats.record_attempt(500)
    stats.record_retry()
    stats.record_attempt(None, "timeout")
    stats.record_retry()
    stats.record_attempt(202)
    stats.record_sent(0.25)
    stats.record_attempt(400)
    stats.record_dropped("rejected")
    stats.record_dropped("overflow", 3)
    snapshot = stats.snapshot()
    assert snapshot["sent"] == 1 and snapshot["retried"] == 2
    assert snapshot["dropped"] == {"rejected": 1, "overflow": 3, "expired": 0,
                                   "shutdown": 0, "error": 0}
    assert set(snapshot["dropped"]) == set(DROP_REASONS)
    assert snapshot["dropped_total"] == 4
    assert snapshot["statuses"] == {"202": 1, "400": 1, "500": 1, "error": 1}
    assert snapshot["last_error"] == "HTTP 400"
    assert snapshot["latency"]["p50_ms"] == 250.0 and snapshot["latency"]["window"] == 1


def test_latency_covers_a_window_of_recent_deliveries():
    stats = TargetStats()
    for _ in range(LATENCY_WINDOW):
        stats.record_sent(10.0)  # an old bad spell...
    for _ in range(LATENCY_WINDOW):
        stats.record_sent(0.001)  # ...pushed out by the recent good one
    latency = stats.snapshot()["latency"]
    assert latency["window"] == LATENCY_WINDOW
    assert latency["p99_ms"] == latency["max_ms"] == 1.0
    assert stats.sent == 2 * LATENCY_WINDOW


def test_empty_latency_is_null_not_zero():
    assert TargetStats().snapshot()["latency"]["p50_ms"] is None


def test_unknown_drop_reasons_are_a_bug():
    with pytest.raises(ValueError):
        TargetStats().record_dropped("bored")
