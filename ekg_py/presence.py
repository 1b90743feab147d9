"""Presence: how many follow a room, as its clients are told. The count is this node's
connections plus what its peers reported (peers.py), sent to the room's clients at most
once per `interval`: at once when the last message is that long ago (leading edge),
else at the end of the interval (trailing edge, sent by `tick`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from contract import events

from .connections import Connection, fan_out
from .outgoing import Encoded
from .peers import PeerCounts, Report

DEFAULT_PRESENCE_INTERVAL = 1.0


def presence_message(room: str, count: int) -> dict[str, Any]:
    return {"type": events.PRESENCE, "room": room, "count": count}


class Followed(Protocol):
    """A room, as presence sees it."""

    name: str
    connections: set[Connection]


class Presence:
    """Presence counts of the rooms in `rooms` (the registry's table, shared)."""

    def __init__(self, rooms: Mapping[str, Followed], evict: Callable[[Connection], None],
                 *, interval: float = DEFAULT_PRESENCE_INTERVAL, share: bool = False,
                 clock: Callable[[], float],
                 message: Callable[[str, int], dict[str, Any]] | None = None):
        self.rooms = rooms
        self.evict = evict
        # The message that tells a room's clients its count (a chart's: "viewers").
        self.message = message or presence_message
        self.interval = interval
        self.clock = clock
        self.peer_counts = PeerCounts(clock)
        self._sent_at: dict[str, float] = {}  # when each room's last count went out
        self._due: set[str] = set()  # rooms with a trailing count to send
        # When this node reports to peers: the rooms whose own count changed since its
        # last report.
        self.share = share
        self._share_dirty: set[str] = set()

    def total(self, name: str) -> int:
        """The room's connections on this node and, as they reported, on its peers."""
        return self.local(name) + self.peer_counts.total(name)

    def local(self, name: str) -> int:
        room = self.rooms.get(name)
        return len(room.connections) if room else 0

    def connections_changed(self, room: Followed) -> None:
        """A connection to the room came or went on this node."""
        if self.share:
            self._share_dirty.add(room.name)
        self._announce(room)
        if not room.connections:
            self._due.discard(room.name)  # nobody here to tell

    def forget(self, name: str) -> None:
        self._due.discard(name)
        self._sent_at.pop(name, None)

    def tick(self) -> None:
        """Drop the peers' expired counts and send the trailing counts now due."""
        if self.peer_counts.peers():
            self._peer_totals_changed(self.peer_counts.expire())
        if not self._due:
            return
        now = self.clock()
        for name in list(self._due):
            sent_at = self._sent_at.get(name)
            if sent_at is None or now - sent_at >= self.interval:
                self._due.discard(name)
                room = self.rooms.get(name)
                if room is not None and room.connections:
                    self._send(room, now)

    # -- across nodes ------------------------------------------------------------------
    def take_peer_report(self, report: Report) -> tuple[bool, bool]:
        """A peer's presence report (peers.py): whether it was taken (not replayed or
        overtaken), and whether that peer should send a full report next."""
        taken = self.peer_counts.apply(report)
        if taken is None:
            return False, False
        changed, full_wanted = taken
        self._peer_totals_changed(changed)
        return True, full_wanted

    def counts(self) -> dict[str, int]:
        """This node's own count of every room it has connections in."""
        return {name: len(room.connections) for name, room in self.rooms.items()
                if room.connections}

    def take_changes(self) -> dict[str, int]:
        """This node's own counts of the rooms whose count changed since the last call
        (0 for a room it no longer has connections in), for a report to its peers."""
        changes = {name: self.local(name) for name in self._share_dirty}
        self._share_dirty.clear()
        return changes

    def _peer_totals_changed(self, names: set[str]) -> None:
        for name in names:
            room = self.rooms.get(name)
            if room is not None:
                self._announce(room)

    # -- sending -----------------------------------------------------------------------
    def _announce(self, room: Followed) -> None:
        """The room's count changed: tell its clients here now, or at the end of its
        throttle interval."""
        if not room.connections:
            return
        now = self.clock()
        sent_at = self._sent_at.get(room.name)
        if sent_at is None or now - sent_at >= self.interval:
            self._send(room, now)  # leading edge
        else:
            self._due.add(room.name)  # trailing edge, sent by `tick`

    def _send(self, room: Followed, now: float) -> None:
        self._sent_at[room.name] = now
        self._due.discard(room.name)
        count = len(room.connections) + self.peer_counts.total(room.name)
        fan_out(room.connections, Encoded(self.message(room.name, count)), self.evict)
