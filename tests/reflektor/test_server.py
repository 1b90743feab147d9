"""Intake and admin: what is replayed, 202 at once, pause, resume, drain, metrics, health.

Integration tests run the real reflektor as a subprocess on port 0 against the fakes in
tests/reflektor/fakes.py.
"""

from __future__ import annotations

import gzip
import http.client
import time

from reflektor.server import forwardable_headers
from testkit.timing import TIME_SCALE, wait_until

from .client import event_body

HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding",
              "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate",
              "proxy-connection", "expect"}


# -- header filtering (pure) -----------------------------------------------------------
def test_hop_by_hop_headers_are_removed_and_the_rest_kept_in_order_with_repeats():
    headers = [
        ("Host", "reflektor:8100"), ("X-TM-Signature", "t=1,v1=ab"),
        ("Content-Length", "9"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"),
        ("Transfer-Encoding", "chunked"), ("TE", "trailers"), ("Keep-Alive", "timeout=5"),
        ("Upgrade", "websocket"), ("Proxy-Authorization", "Basic x"),
        ("X-Dup", "1"), ("Content-Type", "application/json"), ("x-dup", "2"),
    ]
    assert forwardable_headers(headers) == (
        ("X-TM-Signature", "t=1,v1=ab"), ("X-Dup", "1"),
        ("Content-Type", "application/json"), ("x-dup", "2"),
    )


def test_no_headers_is_fine():
    assert forwardable_headers([]) == ()


# -- intake ----------------------------------------------------------------------------
def test_headers_body_method_and_query_pass_through_unchanged(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok"))
    body = gzip.compress(b'{"seq": 1, "text": "caf\xc3\xa9"}')  # bytes, not re-encoded
    path = "/internal/rooms/bio-101/events?after=41&q=a%20b&q=%2F"
    sent = [
        ("X-TM-Signature", "t=1763900000,v1=" + "ab" * 32),
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
        ("X-Dup", "one"), ("X-Dup", "two"),
        ("User-Agent", "tm-publish/1"),
        ("Connection", "keep-alive, X-Hop"), ("X-Hop", "this hop only"),
    ]
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    connection.putrequest("PUT", path, skip_accept_encoding=True)
    for name, value in sent:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 202

    hit = wait_until(lambda: fake_targets.delivered("ok"), timeout=5)[0]
    assert (hit.method, hit.path, hit.body) == ("PUT", path, body)
    replayed = [(name, value) for name, value in hit.headers
                if name.lower() not in ("host", "content-length")]
    expected = [(name, value) for name, value in sent
                if name.lower() not in HOP_BY_HOP and name != "X-Hop"]
    assert replayed == expected  # nothing added, nothing lost, order and repeats kept
    assert dict(hit.headers)["Content-Length"] == str(len(body))


def test_any_method_and_path_are_taken_and_replayed(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok"))
    for method in ("POST", "DELETE", "PATCH", "GET"):
        status, answer = proxy.request(method, f"/anything/{method.lower()}")
        assert (status, answer) == (202, {"queued": 1})
    wait_until(lambda: len(fake_targets.delivered("ok")) == 4, timeout=5)
    assert [(hit.method, hit.path) for hit in fake_targets.delivered("ok")] == [
        ("POST", "/anything/post"), ("DELETE", "/anything/delete"),
        ("PATCH", "/anything/patch"), ("GET", "/anything/get"),
    ]


def test_intake_answers_at_once_while_targets_hang(reflektor, fake_targets, dead_url):
    proxy = reflektor(fake_targets.url("hang"), dead_url,
                      options=("--attempt-timeout", "30", "--drain-timeout", "0"))
    started = time.monotonic()
    for seq in range(20):
        assert proxy.post_event(seq) == 202
    # 20 posts with a hanging and a dead target: well under a second on any machine.
    assert time.monotonic() - started < 1.0 * TIME_SCALE
    metrics = wait_until(lambda: (m := proxy.metrics())["received"] == 20 and m, timeout=5)
    assert metrics["targets"][fake_targets.url("hang")]["depth"] == 20


def test_a_body_over_the_limit_is_refused_and_not_replayed(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok"), options=("--max-body", "1000"))
    status, _ = proxy.request("POST", "/big", b"x" * 2000)
    assert status == 413
    assert proxy.request("POST", "/small", b"x" * 1000)[0] == 202
    wait_until(lambda: fake_targets.delivered("ok"), timeout=5)
    assert [hit.path for hit in fake_targets.delivered("ok")] == ["/small"]
    assert proxy.metrics()["received"] == 1


# -- admin -----------------------------------------------------------------------------
def test_pause_holds_delivery_and_resume_releases_it_in_order(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok-a"), fake_targets.url("ok-b"))
    assert proxy.admin("POST", "/pause") == (
        200, {"paused": [fake_targets.url("ok-a"), fake_targets.url("ok-b")]})
    for seq in range(5):
        assert proxy.post_event(seq) == 202
    metrics = proxy.metrics()
    assert all(t["paused"] and t["depth"] == 5 for t in metrics["targets"].values())
    time.sleep(0.2 * TIME_SCALE)  # give a wrongly running sender time to show itself
    assert fake_targets.attempts("ok-a") == fake_targets.attempts("ok-b") == []

    # Resume one target: it flows, the other stays held.
    assert proxy.admin("POST", f"/resume?target={fake_targets.url('ok-a')}")[0] == 200
    wait_until(lambda: len(fake_targets.delivered("ok-a")) == 5, timeout=5)
    assert fake_targets.attempts("ok-b") == []
    assert proxy.target_metrics(fake_targets.url("ok-b"))["depth"] == 5

    assert proxy.admin("POST", "/resume")[0] == 200
    wait_until(lambda: len(fake_targets.delivered("ok-b")) == 5, timeout=5)
    for name in ("ok-a", "ok-b"):
        assert fake_targets.bodies(name) == [event_body(seq) for seq in range(5)]


def test_pausing_an_unknown_target_is_a_404(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok"))
    status, answer = proxy.admin("POST", "/pause?target=http://nowhere:1")
    assert status == 404 and answer["targets"] == [fake_targets.url("ok")]


def test_drain_resumes_and_waits_for_everything_queued(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("slow"), fake_targets.url("ok"))
    proxy.admin("POST", "/pause")
    for seq in range(10):
        proxy.post_event(seq)
    status, answer = proxy.admin("POST", f"/drain?timeout={5 * TIME_SCALE}")
    assert status == 200
    assert answer == {"drained": True, "depth": {fake_targets.url("slow"): 0,
                                                 fake_targets.url("ok"): 0}}
    # Answered only once the slow target had everything.
    assert fake_targets.bodies("slow") == [event_body(seq) for seq in range(10)]


def test_drain_that_runs_out_of_time_says_so(reflektor, fake_targets, dead_url):
    proxy = reflektor(dead_url, fake_targets.url("ok"))
    proxy.post_event(1)
    status, answer = proxy.admin("POST", "/drain?timeout=0.2")
    assert status == 504
    assert answer["drained"] is False and answer["depth"][dead_url] == 1
    assert proxy.admin("POST", "/drain?timeout=soon")[0] == 400
    assert proxy.admin("POST", "/drain?timeout=-1")[0] == 400


def test_metrics_and_health(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok"), fake_targets.url("404"))
    assert proxy.admin("GET", "/healthz") == (200, {"ok": True, "accepting": True})
    for seq in range(3):
        proxy.post_event(seq)
    wait_until(lambda: proxy.metrics()["depth"] == 0
               and len(fake_targets.delivered("404")) == 3, timeout=5)
    metrics = proxy.metrics()
    assert metrics["received"] == 3 and metrics["accepting"] is True
    ok = metrics["targets"][fake_targets.url("ok")]
    assert (ok["sent"], ok["retried"], ok["dropped_total"]) == (3, 0, 0)
    assert ok["statuses"] == {"200": 3}
    assert ok["latency"]["window"] == 3
    assert 0 < ok["latency"]["p50_ms"] <= ok["latency"]["p99_ms"] <= ok["latency"]["max_ms"]
    # 404 counts as done: a target may implement only part of the internal API.
    not_found = metrics["targets"][fake_targets.url("404")]
    assert (not_found["sent"], not_found["retried"], not_found["statuses"]) == (
        3, 0, {"404": 3})


def test_admin_is_not_on_the_intake_port(reflektor, fake_targets):
    proxy = reflektor(fake_targets.url("ok"))
    # On the intake port /metrics is just another request to replay.
    assert proxy.request("GET", "/metrics")[0] == 202
    wait_until(lambda: fake_targets.delivered("ok"), timeout=5)
    assert fake_targets.delivered("ok")[0].path == "/metrics"
    assert "admin 127.0.0.1:" in proxy.log()
