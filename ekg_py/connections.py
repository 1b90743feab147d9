"""One browser connection as the core sees it (its room, its rights, its bounded queue),
what the shell implements for it (`Sink`), and fan-out: queueing one message for every
connection of a room, the loop a big room's every event runs through.

A connection whose queue grows past `max_queue_bytes` is evicted on the spot, so one
slow reader never holds up its room.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Protocol

from .outgoing import Encoded

# WebSocket close codes the shell uses (README.md, "Close codes").
CLOSE_SLOW_CONSUMER = 1013  # "try again later": the client fell too far behind
CLOSE_SERVICE_RESTART = 1012  # the node is shutting down; a reconnect message came first
CLOSE_ROOM_GONE = 4410  # the room was deleted (or expired); a `gone` message came first
ROOM_GONE_REASON = "room deleted"
SLOW_CONSUMER_REASON = "slow consumer: reconnect and resume by seq"
DEFAULT_MAX_QUEUE_BYTES = 1 << 20


class Sink(Protocol):
    """What the server layer implements for each browser connection."""

    def wake(self) -> None:
        """The connection's queue went from empty to not empty: write it out soon."""

    def hurry(self) -> None:
        """The queue holds over half its bound: write it out now if the socket takes
        it (the server may hold queues back to batch writes; that must not look like
        a slow reader)."""

    def evict(self, code: int, reason: str) -> None:
        """Drop the connection now (it fell behind); the registry already forgot it."""

    def end(self, code: int, reason: str) -> None:
        """Write out what is queued (a last message), then close the stream: its room
        is gone. The registry no longer sends it anything; `disconnect` follows."""


class Connection:
    """One browser connection: its room, its rights and its bounded outgoing queue."""

    __slots__ = ("room", "sink", "moderator", "incarnation", "after", "max_queue_bytes",
                 "queue", "queued_bytes", "_inflight_bytes", "_slack", "open")

    def __init__(self, room: str, sink: Sink, *, moderator: bool, after: int | None,
                 max_queue_bytes: int, incarnation: str = ""):
        self.room = room
        self.sink = sink
        self.moderator = moderator
        self.incarnation = incarnation  # when its room was created (ISO 8601 UTC)
        # Live events at or below what the client said it has are not sent again.
        self.after = -1 if after is None else after
        self.max_queue_bytes = max_queue_bytes
        self.queue: list[Encoded] = []  # a list: 8x smaller than an empty deque
        self.queued_bytes = 0  # queued plus taken by the writer and not yet written
        self._inflight_bytes = 0
        # Bytes queued past the bound on purpose (a replay): live events may queue up
        # to the bound on top of them, until the writer has caught up.
        self._slack = 0
        self.open = True

    def offer(self, item: Encoded, *, bounded: bool = True) -> bool:
        """Queue `item`; False when that takes the queue past its bound."""
        was_empty = not self.queue
        self.queue.append(item)
        size = len(item.data)
        self.queued_bytes += size
        bound = self.max_queue_bytes + self._slack
        if not bounded:
            self._slack += size
        elif self.queued_bytes > bound:
            return False
        if was_empty:
            self.sink.wake()
        elif bounded and self.queued_bytes > bound // 2:
            self.sink.hurry()
        return True

    def take(self) -> list[Encoded]:
        """Everything queued, for one coalesced write. Call `done` once it is written."""
        batch = self.queue
        self.queue = []
        # queued_bytes counts the queue and what is in flight: now it is all in flight.
        self._inflight_bytes = self.queued_bytes
        return batch

    def done(self) -> None:
        """The last batch `take` returned has been handed to the transport."""
        queued = self.queued_bytes = self.queued_bytes - self._inflight_bytes
        self._inflight_bytes = 0
        if self._slack > queued:  # once per write: cheaper than min()
            self._slack = queued


def fan_out(connections: Iterable[Connection], item: Encoded,
            evict: Callable[[Connection], None]) -> None:
    """Queue `item` (or what stands for it) for each connection; `evict` the ones it
    takes past their bound.

    `Connection.offer`, inlined: in a room of thousands this loop is the time between an
    event's arrival and its first write, so it does per connection only what has to be
    done per connection (same module, same rules as `offer`)."""
    # No seq (presence): above every `after`, so every connection gets it.
    seq: float = math.inf if item.seq is None else item.seq
    public = item.for_connection(moderator=False)
    item_size = len(item.data)
    public_size = len(public.data) if public is not None else 0
    slow: list[Connection] = []
    for conn in connections:
        if seq <= conn.after:
            continue
        if conn.moderator:
            visible, size = item, item_size
        elif public is None:
            continue
        else:
            visible, size = public, public_size
        queue = conn.queue
        queue.append(visible)
        queued = conn.queued_bytes = conn.queued_bytes + size
        bound = conn.max_queue_bytes + conn._slack
        if queued > bound:
            slow.append(conn)
        elif len(queue) == 1:
            conn.sink.wake()
        elif queued > bound // 2:
            conn.sink.hurry()
    for conn in slow:
        evict(conn)
