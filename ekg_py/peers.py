"""Presence across nodes: what the other push nodes say of their connections.

Several nodes serve one room when they run behind a load balancer, so each holds only
some of its connections, and a count of its own would tell a teacher "14 here" with 28
students in the room. So each node reports its per-room counts to its peers (`--peer`)
on the signed internal API, `POST /internal/presence`, and adds theirs to its own:

    {"node": "push-2-8200", "instance": "9f2c41d07a5e", "n": 1795417200123456,
     "full": false, "ttl": 30,
     "rooms": {"bio-101": 14, "chem-2": 0}}

- `node`: the reporter's id, by default its host name and port, so a node restarted
  after a crash is the same reporter and its first full report replaces its old counts;
- `instance`: random per process, so that a node that gets its own report (its own URL
  in its peer list) can tell it from another node's under the same id (two hosts of the
  same name, say), which it refuses with 409 `duplicate_node_id`;
- `n`: rises with every report (the reporter's clock in microseconds, or one more than
  its last), so a replayed or overtaken report is ignored, and a restarted node's
  reports go on above its old ones;
- `full`: `rooms` lists every room the reporter has connections in (the others are 0);
  otherwise it lists only the rooms whose counts changed since its last report;
- `ttl`: seconds the counts hold without a new report from that node: a node that
  stops reporting (killed, cut off) stops counting after that.

A node reports at most once per presence interval, when something changed, and a full
report every FULL_EVERY intervals whatever happened; a peer that did not take the
last report, or says it does not know the reporter, gets a full one next.

This module is the pure part (no I/O, injectable clock): checking a report, and the
counts the peers reported. `server.py` sends and receives the reports.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from contract.names import is_room_name

# Room names as the browser paths take them (server.py), and node ids.
NODE_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_COUNT = 10_000_000
MAX_TTL = 3600.0
FULL_EVERY = 10  # a full report every this many presence intervals
TTL_FULL_REPORTS = 3  # counts hold for this many full-report periods


class InvalidReport(ValueError):
    pass


@dataclass(frozen=True)
class Report:
    node: str
    n: int
    full: bool
    ttl: float
    rooms: dict[str, int]
    instance: str = ""  # random per process: tells a node's own reports from another's

    def body(self) -> dict[str, Any]:
        return {"node": self.node, "instance": self.instance, "n": self.n,
                "full": self.full, "ttl": self.ttl, "rooms": self.rooms}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_report(message: Any) -> Report:
    """Check a decoded report; InvalidReport says what is wrong with it."""
    if not isinstance(message, dict):
        raise InvalidReport("a presence report is a JSON object")
    node, n, full, ttl, rooms = (message.get(key)
                                 for key in ("node", "n", "full", "ttl", "rooms"))
    if not isinstance(node, str) or not NODE_ID_RE.fullmatch(node):
        raise InvalidReport("node must be 1-64 letters, digits, '.', '_' or '-'")
    instance = message.get("instance", "")
    if not isinstance(instance, str) or (instance and not NODE_ID_RE.fullmatch(instance)):
        raise InvalidReport("instance must be 1-64 letters, digits, '.', '_' or '-'")
    if not _is_int(n) or n < 0:
        raise InvalidReport("n must be a non-negative integer")
    if not isinstance(full, bool):
        raise InvalidReport("full must be true or false")
    if (isinstance(ttl, bool) or not isinstance(ttl, int | float)
            or not 0 < ttl <= MAX_TTL):
        raise InvalidReport(f"ttl must be a number of seconds, above 0 and at most "
                            f"{MAX_TTL:g}")
    if not isinstance(rooms, dict):
        raise InvalidReport("rooms must be an object of room name to count")
    for name, count in rooms.items():
        if not is_room_name(name):
            raise InvalidReport(f"not a room name: {name[:100]!r}")
        if not _is_int(count) or not 0 <= count <= MAX_COUNT:
            raise InvalidReport(f"the count of {name!r} must be an integer from 0 to "
                                f"{MAX_COUNT}")
    return Report(node, n, full, float(ttl), dict(rooms), instance)


class _Peer:
    __slots__ = ("counts", "n", "expires_at", "had_full")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.n = -1
        self.expires_at = 0.0
        self.had_full = False


class PeerCounts:
    """The connections other nodes reported, per room, and their sum."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._peers: dict[str, _Peer] = {}
        self._totals: dict[str, int] = {}

    def total(self, room: str) -> int:
        return self._totals.get(room, 0)

    def peers(self) -> int:
        return len(self._peers)

    def apply(self, report: Report) -> tuple[set[str], bool] | None:
        """Take a report in. Returns the rooms whose totals changed, and whether the
        reporter should send a full report next (this node has none from it yet);
        None for a report older than one already taken (replayed or overtaken)."""
        peer = self._peers.get(report.node)
        if peer is None:
            peer = self._peers[report.node] = _Peer()
        elif report.n <= peer.n:
            return None
        peer.n = report.n
        peer.expires_at = self.clock() + report.ttl
        new = dict(report.rooms)
        if report.full:
            peer.had_full = True
            for name in peer.counts:
                new.setdefault(name, 0)
        changed = set()
        for name, count in new.items():
            if self._set(peer, name, count):
                changed.add(name)
        return changed, not peer.had_full

    def expire(self) -> set[str]:
        """Forget the nodes whose counts are past their ttl; the rooms that changed."""
        now = self.clock()
        changed: set[str] = set()
        for node, peer in list(self._peers.items()):
            if now >= peer.expires_at:
                for name in list(peer.counts):
                    if self._set(peer, name, 0):
                        changed.add(name)
                del self._peers[node]
        return changed

    def _set(self, peer: _Peer, room: str, count: int) -> bool:
        before = peer.counts.get(room, 0)
        if count == before:
            return False
        if count:
            peer.counts[room] = count
        else:
            del peer.counts[room]
        total = self._totals.get(room, 0) + count - before
        if total:
            self._totals[room] = total
        else:
            self._totals.pop(room, None)
        return True
