"""Delivery against real fake targets: order, retries, 404/400, slow and dead targets,
giving up, overflow. reflektor runs as a subprocess on port 0."""

from __future__ import annotations

import time

from testkit.timing import wait_until

from .client import FAST_RETRIES, event_body
from .fakes import SLOW_SECONDS, FakeTargets

N = 30


def test_every_request_reaches_each_target_exactly_once_in_order(reflektor, fake_targets):
    names = ("ok", "crash", "reset", "404")
    proxy = reflektor(*(fake_targets.url(name) for name in names))
    for seq in range(N):
        assert proxy.post_event(seq) == 202
    expected = [event_body(seq) for seq in range(N)]
    for name in names:
        wait_until(lambda name=name: len(fake_targets.delivered(name)) >= N, timeout=10,
                   message=f"{name} got {len(fake_targets.delivered(name))} of {N}")
    wait_until(lambda: proxy.metrics()["depth"] == 0, timeout=5)
    for name in names:
        assert fake_targets.bodies(name) == expected, name

    metrics = proxy.metrics()["targets"]
    ok = metrics[fake_targets.url("ok")]
    assert (ok["sent"], ok["retried"], ok["dropped_total"]) == (N, 0, 0)
    # crash: every item answered 500 once, retried, then delivered.
    crash = metrics[fake_targets.url("crash")]
    assert (crash["sent"], crash["retried"], crash["statuses"]) == (
        N, N, {"200": N, "500": N})
    assert len(fake_targets.attempts("crash")) == 2 * N
    # reset: every item's first connection dropped mid-request, retried, delivered.
    reset = metrics[fake_targets.url("reset")]
    assert (reset["sent"], reset["retried"], reset["statuses"]) == (
        N, N, {"200": N, "error": N})
    assert "ServerDisconnected" in reset["last_error"]
    not_found = metrics[fake_targets.url("404")]
    assert (not_found["sent"], not_found["retried"]) == (N, 0)


def test_a_slow_stuck_or_dead_target_does_not_delay_the_others(
        reflektor, fake_targets, dead_url):
    proxy = reflektor(fake_targets.url("slow"), fake_targets.url("gated"), dead_url,
                      fake_targets.url("ok"), options=(*FAST_RETRIES, "--attempt-timeout", "30"))
    started = time.monotonic()
    for seq in range(N):
        proxy.post_event(seq)
    wait_until(lambda: len(fake_targets.delivered("ok")) == N, timeout=5)
    took = time.monotonic() - started
    assert fake_targets.bodies("ok") == [event_body(seq) for seq in range(N)]
    # Had "ok" waited behind "slow" it could not have finished before slow could have.
    assert took < N * SLOW_SECONDS
    # "gated" has not answered once and "dead" refuses every connection: both hold all.
    assert fake_targets.delivered("gated") == []
    assert proxy.target_metrics(fake_targets.url("gated"))["depth"] == N
    dead = proxy.target_metrics(dead_url)
    assert dead["depth"] == N and dead["sent"] == 0 and dead["in_flight"]
    wait_until(lambda: proxy.target_metrics(dead_url)["retried"] >= 3, timeout=5)
    assert "Connect" in proxy.target_metrics(dead_url)["last_error"]
    # The slow and the stuck ones get there in the end, in order.
    fake_targets.open_gate()
    for name in ("slow", "gated"):
        wait_until(lambda name=name: len(fake_targets.delivered(name)) == N, timeout=10)
        assert fake_targets.bodies(name) == [event_body(seq) for seq in range(N)]


def test_a_rejected_request_is_dropped_and_counted_not_retried(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("400"), fake_targets.url("ok"))
    for seq in range(5):
        proxy.post_event(seq)
    wait_until(lambda: proxy.target_metrics(fake_targets.url("400"))["dropped"]["rejected"]
               == 5, timeout=5)
    rejected = proxy.target_metrics(fake_targets.url("400"))
    assert (rejected["sent"], rejected["retried"], rejected["depth"]) == (0, 0, 0)
    assert rejected["statuses"] == {"400": 5} and rejected["last_error"] == "HTTP 400"
    assert len(fake_targets.attempts("400")) == 5
    wait_until(lambda: len(fake_targets.delivered("ok")) == 5, timeout=5)
    wait_until(lambda: "answered 400" in proxy.log(), timeout=5)


def test_a_timed_out_attempt_is_retried(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("hang"), options=(
        "--attempt-timeout", "0.2", "--retry-base", "0.01", "--retry-max", "0.02"))
    for seq in range(3):
        proxy.post_event(seq)
    wait_until(lambda: len(fake_targets.delivered("hang")) == 3, timeout=10)
    assert fake_targets.bodies("hang") == [event_body(seq) for seq in range(3)]
    metrics = proxy.target_metrics(fake_targets.url("hang"))
    assert metrics["retried"] == 3 and metrics["statuses"]["error"] == 3
    assert metrics["last_error"] == "timeout"
    # At-least-once: the timed-out attempts reached the target too (receivers dedupe).
    assert len(fake_targets.attempts("hang")) == 6


def test_a_target_that_comes_back_gets_the_backlog_in_order(reflektor, dead_url):
    port = int(dead_url.rsplit(":", 1)[1])
    proxy = reflektor(dead_url + "/ok")
    for seq in range(10):
        proxy.post_event(seq)
    wait_until(lambda: proxy.target_metrics(dead_url + "/ok")["retried"] >= 2, timeout=5)
    late = FakeTargets(port=port).start()
    try:
        wait_until(lambda: len(late.delivered("ok")) == 10, timeout=10)
        assert late.bodies("ok") == [event_body(seq) for seq in range(10)]
        assert proxy.target_metrics(dead_url + "/ok")["sent"] == 10
    finally:
        late.stop()


def test_items_are_given_up_after_the_limit(reflektor, fake_targets, dead_url):
    proxy = reflektor(dead_url, fake_targets.url("ok"), options=(
        "--give-up-after", "0.3", "--retry-base", "0.02", "--retry-max", "0.05"))
    for seq in range(3):
        proxy.post_event(seq)
    wait_until(lambda: proxy.target_metrics(dead_url)["dropped"]["expired"] == 3, timeout=5)
    dead = proxy.target_metrics(dead_url)
    assert dead["depth"] == 0 and dead["sent"] == 0
    wait_until(lambda: "gave up on POST /internal/rooms/bio-101/events" in proxy.log(),
               timeout=5)
    # Nothing is stuck: a new item gets its own attempts and its own time limit.
    proxy.post_event(3)
    wait_until(lambda: proxy.target_metrics(dead_url)["dropped"]["expired"] == 4, timeout=5)
    wait_until(lambda: len(fake_targets.delivered("ok")) == 4, timeout=5)


def test_a_full_queue_drops_the_oldest_and_counts_them(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok"), options=("--queue-cap", "5"))
    proxy.admin("POST", "/pause")
    for seq in range(12):
        proxy.post_event(seq)
    metrics = proxy.target_metrics(fake_targets.url("ok"))
    assert metrics["depth"] == 5 and metrics["dropped"]["overflow"] == 7
    proxy.admin("POST", "/resume")
    wait_until(lambda: len(fake_targets.delivered("ok")) == 5, timeout=5)
    assert fake_targets.bodies("ok") == [event_body(seq) for seq in range(7, 12)]
    wait_until(lambda: "queue full, dropped the oldest" in proxy.log(), timeout=5)
