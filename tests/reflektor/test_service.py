"""The process lifecycle: SIGTERM drains and exits 0, kill -9 loses only memory, start-up.

reflektor keeps its queues in memory only. What a kill -9 loses is covered elsewhere:
tm's outbox relay re-sends events no reflektor took, and clients catch up by seq from
tm's history API when they see a gap. These tests pin down exactly what is lost.
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import threading
import time

import pytest

from testkit.services import PYTHON, ROOT
from testkit.timing import TIME_SCALE, wait_until

from .client import event_body


def test_sigterm_mid_burst_stops_intake_drains_and_exits_0(reflektor, fake_targets):
    # "gated" holds every delivery until the test opens the gate, so the drain is
    # certainly still running while the test checks that intake has stopped.
    proxy = reflektor(fake_targets.url("gated"), fake_targets.url("ok"),
                      options=("--drain-timeout", str(20 * TIME_SCALE),
                               "--attempt-timeout", str(30 * TIME_SCALE)))
    keep_alive = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    keep_alive.request("POST", "/before", b"")
    assert keep_alive.getresponse().read() == b'{"queued": 2}'

    accepted: list[int] = []
    refused: list[str] = []
    twenty_in = threading.Event()

    def burst() -> None:
        # Bounded in count and time; stops at the first refusal. (A count of a few
        # hundred could all be accepted before the signal lands, leaving nothing refused.)
        deadline = time.monotonic() + 10 * TIME_SCALE
        for seq in range(50_000):
            if time.monotonic() > deadline:
                return
            try:
                # A connection accepted just as the listener closed may get no answer
                # until reflektor exits; tm's publish gives up on it within 0.25 s and
                # tries a neighbour, and so does this client, after one unit.
                status = proxy.post_event(seq, timeout=TIME_SCALE)
            except OSError as error:
                refused.append(type(error).__name__)
                return
            if status != 202:
                refused.append(str(status))
                return
            accepted.append(seq)
            if len(accepted) == 20:
                twenty_in.set()

    poster = threading.Thread(target=burst)
    poster.start()
    try:
        assert twenty_in.wait(5 * TIME_SCALE)
        proxy.service.signal(signal.SIGTERM)
        wait_until(lambda: refused, timeout=5, message="intake still accepting")
    finally:
        poster.join(10 * TIME_SCALE)
    # The request racing the signal is refused one way or another: 503 when its
    # connection was accepted just before the listener closed, a reset when it sat in
    # the listen backlog...
    assert refused[0] in ("ConnectionRefusedError", "503", "ConnectionResetError",
                          "TimeoutError"), refused
    # ...and from then on new connections are refused while the drain goes on...
    with pytest.raises(ConnectionRefusedError):
        proxy.post_event(10_000)
    assert proxy.service.process.poll() is None
    assert proxy.admin("GET", "/healthz")[0] == 503
    # ...and a connection that was already open is told 503.
    keep_alive.request("POST", "/after", b"")
    response = keep_alive.getresponse()
    assert (response.status, response.getheader("Connection")) == (503, "close")
    response.read()
    keep_alive.close()

    fake_targets.open_gate()
    assert proxy.service.wait(timeout=25) == 0
    wait_until(lambda: "reflektor stopped" in proxy.log(), timeout=5)
    assert "drained=True undelivered=0" in proxy.log()
    expected = [b""] + [event_body(seq) for seq in accepted]
    assert fake_targets.bodies("gated") == expected
    assert fake_targets.bodies("ok") == expected


def test_sigterm_gives_up_after_the_drain_timeout_and_still_exits_0(
        reflektor, fake_targets, dead_url):
    proxy = reflektor(dead_url, fake_targets.url("ok"),
                      options=("--drain-timeout", "0.5", "--retry-max", "0.05"))
    for seq in range(5):
        proxy.post_event(seq)
    wait_until(lambda: len(fake_targets.delivered("ok")) == 5, timeout=5)
    proxy.service.signal(signal.SIGTERM)
    assert proxy.service.wait(timeout=5) == 0
    wait_until(lambda: "reflektor stopped" in proxy.log(), timeout=5)
    assert "drained=False undelivered=5 received=5" in proxy.log()


def test_a_second_signal_cuts_the_drain_short(reflektor, dead_url):
    proxy = reflektor(dead_url, options=("--drain-timeout", "60", "--retry-max", "0.05"))
    proxy.post_event(1)
    proxy.service.signal(signal.SIGINT)
    wait_until(lambda: "SIGINT: stop accepting" in proxy.log(), timeout=5)
    proxy.service.signal(signal.SIGTERM)
    assert proxy.service.wait(timeout=5) == 0
    wait_until(lambda: "reflektor stopped" in proxy.log(), timeout=5)
    assert "without finishing the drain" in proxy.log()
    assert "drained=False undelivered=1" in proxy.log()


def test_kill_9_mid_burst_loses_only_what_was_in_memory(reflektor, fake_targets):
    target = fake_targets.url("slow")
    burst = 100  # SLOW_SECONDS each: seconds of backlog, so the kill lands mid-burst
    proxy = reflektor(target)
    for seq in range(burst):
        assert proxy.post_event(seq) == 202
    wait_until(lambda: len(fake_targets.delivered("slow")) >= 5, timeout=5)
    proxy.service.kill()
    assert proxy.service.process.returncode == -signal.SIGKILL

    # A new reflektor starts empty: nothing is replayed, the next event simply flows.
    fresh = reflektor(target)
    assert fresh.metrics()["targets"][target]["depth"] == 0
    fresh.post_event(1000)
    wait_until(lambda: event_body(1000) in fake_targets.bodies("slow"), timeout=5)
    bodies = fake_targets.bodies("slow")
    before_kill = [body for body in bodies if body != event_body(1000)]
    assert len(bodies) == len(before_kill) + 1
    # What got through is an in-order prefix of the burst, without repeats; the rest
    # (queued in the killed process's memory) is lost.
    assert before_kill == [event_body(seq) for seq in range(len(before_kill))]
    assert 5 <= len(before_kill) < burst


def test_a_port_in_use_stops_start_up_with_status_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [PYTHON, "-m", "reflektor", "--port", str(port), "--admin-port", "0",
             "--target", "http://127.0.0.1:1"],
            cwd=ROOT, capture_output=True, text=True, timeout=20 * TIME_SCALE, check=False)
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert "Traceback" not in result.stderr
