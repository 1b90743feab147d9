"""Presence across nodes, the pure part (ekg_py/peers.py and the registry's use of it):
checking reports, adding up peers' counts, expiry, and the counts a node reports."""

from __future__ import annotations

import pytest

from ekg_py.peers import InvalidReport, PeerCounts, Report, parse_report
from ekg_py.rooms import Registry

from .test_rooms import FakeClock, connect


def report(node: str = "b", n: int = 1, rooms: dict | None = None, *, full: bool = True,
           ttl: float = 30.0) -> Report:
    return Report(node, n, full, ttl, rooms or {})


# -- checking reports ---------------------------------------------------------------
def test_a_good_report_is_taken_as_it_is():
    body = {"node": "a1b2", "n": 3, "full": False, "ttl": 30, "rooms": {"bio-101": 14},
            "later": "fields a newer node may add are ignored"}
    assert parse_report(body) == Report("a1b2", 3, False, 30.0, {"bio-101": 14})
    assert parse_report({**body, "instance": "x9"}).instance == "x9"


GOOD = {"node": "a", "n": 1, "full": True, "ttl": 30, "rooms": {}}


@pytest.mark.parametrize(("change", "says"), [
    ({"node": ""}, "node"), ({"node": "a b"}, "node"), ({"node": 7}, "node"),
    ({"node": "x" * 65}, "node"),
    ({"n": -1}, "n must"), ({"n": "1"}, "n must"), ({"n": True}, "n must"),
    ({"n": 1.5}, "n must"),
    ({"full": 1}, "full"), ({"full": None}, "full"),
    ({"ttl": 0}, "ttl"), ({"ttl": -3}, "ttl"), ({"ttl": 3601}, "ttl"), ({"ttl": "30"}, "ttl"),
    ({"ttl": True}, "ttl"),
    ({"rooms": []}, "rooms"), ({"rooms": None}, "rooms"),
    ({"rooms": {"<script>": 1}}, "room name"), ({"rooms": {"": 1}}, "room name"),
    ({"rooms": {"a": -1}}, "count"), ({"rooms": {"a": 1.0}}, "count"),
    ({"rooms": {"a": True}}, "count"), ({"rooms": {"a": 10**8}}, "count"),
    ({"rooms": {"a": "3"}}, "count"),
    ({"instance": 5}, "instance"), ({"instance": "a b"}, "instance"),
])
def test_a_bad_report_says_what_is_wrong(change, says):
    with pytest.raises(InvalidReport, match=says):
        parse_report({**GOOD, **change})


@pytest.mark.parametrize("body", [None, [], "report", 3])
def test_a_report_that_is_not_an_object_is_refused(body):
    with pytest.raises(InvalidReport, match="object"):
        parse_report(body)


# -- adding up ------------------------------------------------------------------------
def test_peers_counts_add_up_per_room():
    peers = PeerCounts(FakeClock())
    assert peers.apply(report("b", 1, {"r": 3, "s": 1})) == ({"r", "s"}, False)
    assert peers.apply(report("c", 1, {"r": 2})) == ({"r"}, False)
    assert (peers.total("r"), peers.total("s"), peers.total("t")) == (5, 1, 0)
    assert peers.peers() == 2


def test_a_change_report_updates_only_the_rooms_it_names():
    peers = PeerCounts(FakeClock())
    peers.apply(report("b", 1, {"r": 3, "s": 1}))
    changed, _ = peers.apply(report("b", 2, {"r": 4, "s": 1}, full=False))
    assert changed == {"r"}  # s was 1 already
    peers.apply(report("b", 3, {"s": 0}, full=False))
    assert (peers.total("r"), peers.total("s")) == (4, 0)


def test_a_full_report_replaces_what_the_peer_said_before():
    peers = PeerCounts(FakeClock())
    peers.apply(report("b", 1, {"r": 3, "s": 1}))
    changed, _ = peers.apply(report("b", 2, {"s": 1}))
    assert changed == {"r"}
    assert (peers.total("r"), peers.total("s")) == (0, 1)


def test_a_replayed_or_overtaken_report_is_ignored():
    peers = PeerCounts(FakeClock())
    peers.apply(report("b", 5, {"r": 3}))
    assert peers.apply(report("b", 5, {"r": 9})) is None  # replayed
    assert peers.apply(report("b", 4, {"r": 1})) is None  # overtaken
    assert peers.total("r") == 3


def test_a_node_known_only_from_change_reports_is_asked_for_a_full_one():
    peers = PeerCounts(FakeClock())
    assert peers.apply(report("b", 7, {"r": 2}, full=False)) == ({"r"}, True)
    assert peers.apply(report("b", 8, {"r": 2}, full=False)) == (set(), True)
    assert peers.apply(report("b", 9, {"r": 2})) == (set(), False)


def test_a_node_that_stops_reporting_stops_counting_after_its_ttl():
    clock = FakeClock()
    peers = PeerCounts(clock)
    peers.apply(report("b", 1, {"r": 3}, ttl=30))
    peers.apply(report("c", 1, {"r": 2}, ttl=60))
    clock.advance(29.9)
    assert peers.expire() == set()
    clock.advance(0.1)
    assert peers.expire() == {"r"}
    assert (peers.total("r"), peers.peers()) == (2, 1)
    clock.advance(30)
    assert peers.expire() == {"r"}
    assert (peers.total("r"), peers.peers()) == (0, 0)


# -- the registry ---------------------------------------------------------------------
def test_presence_counts_this_nodes_connections_and_its_peers():
    clock = FakeClock()
    registry = Registry(presence_interval=1.0, clock=clock)
    registry.take_peer_report(report("b", 1, {"r": 3}))
    watcher = connect(registry, "r")
    assert watcher.presence() == [4]
    assert (registry.count("r"), registry.local_count("r")) == (4, 1)


def test_a_peers_change_reaches_this_nodes_clients_throttled():
    clock = FakeClock()
    registry = Registry(presence_interval=1.0, clock=clock)
    watcher = connect(registry, "r")
    assert watcher.presence() == [1]
    assert registry.take_peer_report(report("b", 1, {"r": 2})) == (True, False)
    assert watcher.presence() == [1]  # within the interval: held back
    registry.take_peer_report(report("b", 2, {"r": 5}, full=False))
    clock.advance(1.0)
    registry.tick()
    assert watcher.presence() == [1, 6]  # one message, with the count as it is then
    assert registry.take_peer_report(report("b", 2, {"r": 9})) == (False, False)


def test_a_silent_peers_count_leaves_this_nodes_clients_count():
    clock = FakeClock()
    registry = Registry(presence_interval=1.0, clock=clock)
    registry.take_peer_report(report("b", 1, {"r": 2}, ttl=30))
    watcher = connect(registry, "r")
    assert watcher.presence() == [3]
    clock.advance(30)
    registry.tick()
    assert watcher.presence() == [3, 1]
    assert registry.stats()["peers_reporting"] == 0


def test_peers_rooms_with_nobody_here_hold_no_room():
    registry = Registry(clock=FakeClock())
    registry.take_peer_report(report("b", 1, {f"r{i}": 1 for i in range(100)}))
    assert registry.stats()["rooms"] == 0
    assert registry.count("r7") == 1


def test_a_node_reports_the_rooms_whose_own_count_changed_zero_included():
    registry = Registry(presence_interval=1.0, clock=FakeClock(), share_presence=True)
    a = connect(registry, "r")
    connect(registry, "r")
    connect(registry, "s")
    registry.take_peer_report(report("b", 1, {"r": 10, "t": 4}))  # not its own: not reported
    assert registry.take_presence_changes() == {"r": 2, "s": 1}
    assert registry.take_presence_changes() == {}
    registry.disconnect(a.conn)
    assert registry.take_presence_changes() == {"r": 1}
    assert registry.presence_counts() == {"r": 1, "s": 1}
    registry.disconnect(next(iter(registry.room("s").connections)))
    assert registry.take_presence_changes() == {"s": 0}
    assert registry.presence_counts() == {"r": 1}


def test_a_node_without_peers_keeps_no_changes_to_report():
    registry = Registry(clock=FakeClock())
    for i in range(50):
        sink = connect(registry, f"r{i}")
        registry.disconnect(sink.conn)
    assert registry.take_presence_changes() == {}
