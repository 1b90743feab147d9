"""What rooms and charts share on the node: a table of things browsers follow, each
with its connections, their presence counts and the idle list. The registry
(rooms.py) and the chart table (charts.py) are both one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from .connections import CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON, Connection
from .idle import IdleRooms
from .presence import Followed, Presence


class Entry(Followed, Protocol):
    """A room or a chart."""


class FollowTable(ABC):
    """Connections to the entries of `table` (by name), with presence and idleness."""

    def __init__(self, table: dict[str, Any], *, presence_interval: float,
                 share_presence: bool, idle: IdleRooms, clock: Callable[[], float],
                 presence_message: Callable[[str, int], dict[str, Any]] | None = None):
        self._table = table
        self.idle = idle
        self.presence = Presence(table, self.evict, interval=presence_interval,
                                 share=share_presence, clock=clock,
                                 message=presence_message)
        self.evictions = 0

    def disconnect(self, conn: Connection) -> None:
        """Forget a connection (idempotent)."""
        if not conn.open:
            return
        conn.open = False
        conn.queue.clear()
        entry = self._table.get(conn.room)
        if entry is None or conn not in entry.connections:
            return
        entry.connections.discard(conn)
        self.presence.connections_changed(entry)
        if not entry.connections:
            self._idle(entry.name)

    def evict(self, conn: Connection) -> None:
        """Disconnect a connection that fell behind and tell its sink to drop it."""
        if not conn.open:
            return
        self.evictions += 1
        self.disconnect(conn)
        conn.sink.evict(CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)

    def _followed(self, entry: Entry, conn: Connection) -> None:
        """`conn` follows `entry` from now on."""
        entry.connections.add(conn)
        self.idle.followed(entry.name)
        self.presence.connections_changed(entry)

    def _idle(self, name: str) -> None:
        for over in self.idle.touch(name):
            self._forget(over)

    @abstractmethod
    def _forget(self, name: str) -> None:
        """Drop an entry nobody follows (idle too long, or too many idle ones)."""
