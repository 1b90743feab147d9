"""The pure core of an ekg push node: the room table, and what happens to a room's
events between their arrival and the connections' queues.

No aiohttp and no I/O here (STYLE.md, "a pure core beside a thin I/O layer"): the shell
(`server.py`, `clients.py`) feeds the registry the events that arrive on the internal
API and implements `connections.Sink` for each browser connection; the core decides who
gets what. Each concern has a module of its own, which the registry puts together:

- outgoing.py: a message, encoded to JSON once per node, shared by every queue
- ring.py: the room's last events, the replay rule, redaction of deleted posts
- connections.py: a connection's bounded queue, and fan-out over a room's connections
- reorder.py: events that came ahead of a gap, held for a moment in seq order
- presence.py: how many follow a room (here and on peers), throttled
- idle.py: forgetting rooms nobody follows

For a room the node holds nothing of, the next seq is the one after the highest `after`
its clients connected with; with no such client the first event goes out at once.

A room's name outlives the room: a teacher deletes bio-101 (or it expires) and a new
bio-101 starts again at seq 1 while the node still holds the old one's events. Those
must never reach the new room's clients, and the new room's events are not redeliveries
of the old ones. Event timestamps (`ts`, set by tm when the event is made) tell them
apart: an event whose seq the node has seen but whose `ts` is later than anything it
holds for the room starts the room afresh. Every connection comes with the room's
incarnation (when it was created, from its follow ticket): a newer one than the node
has seen drops everything held from before that moment, before any replay, and ends
the streams of the older incarnation; one older than a newer incarnation or than the
name's last deletion is refused (`admit`). A deletion (`forget_room`) ends the streams
of the rooms it deleted: each gets a `gone` message, then its stream closes.

A client that connects with `after=N` is replayed what the ring holds above N, or sent
`{"type": "resync", "room": ..., "after": N}` when the node cannot prove it holds all of
it (ring.py), and reads the history from tm.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from .connections import (
    CLOSE_ROOM_GONE,
    DEFAULT_MAX_QUEUE_BYTES,
    ROOM_GONE_REASON,
    Connection,
    Sink,
    fan_out,
)
from .followed import FollowTable
from .idle import DEFAULT_MAX_IDLE_ROOMS, DEFAULT_MAX_IDLE_SECONDS, IdleRooms
from .outgoing import Encoded
from .peers import Report
from .presence import DEFAULT_PRESENCE_INTERVAL
from .reorder import DEFAULT_REORDER_WINDOW, ReorderWindow
from .ring import DEFAULT_RING_SIZE, RingBuffer

# Room names whose last deletion the node remembers (to refuse tickets of the deleted
# rooms): far more than the rooms deleted within a ticket's lifetime.
MAX_DELETIONS_KEPT = 100_000


class Room:
    __slots__ = ("name", "ring", "connections", "latest_ts", "incarnation")

    def __init__(self, name: str, ring_size: int):
        self.name = name
        self.ring = RingBuffer(ring_size)
        self.connections: set[Connection] = set()
        self.latest_ts = ""  # the latest `ts` of an event taken for this room
        self.incarnation = ""  # the newest incarnation a connection came with

    def next_seq(self) -> int | None:
        """The seq that should come next, or None when the node cannot tell."""
        highest = self.ring.highest
        if highest is not None:
            return highest + 1
        # Nothing held (a new room, a node just started): the clients' `after` says how
        # far the room had got when their pages loaded.
        known = max((conn.after for conn in self.connections), default=-1)
        return known + 1 if known >= 0 else None


class Registry(FollowTable):
    """Every room this node knows, and what each connection gets.

    Single-threaded by design (the shell calls it from the event loop), so `connect`
    registers a connection and queues its replay with no event slipping in between.
    Events come checked (contract.events.check, in the shell's `event_of`).
    """

    def __init__(self, *, ring_size: int = DEFAULT_RING_SIZE,
                 max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
                 presence_interval: float = DEFAULT_PRESENCE_INTERVAL,
                 max_idle_rooms: int = DEFAULT_MAX_IDLE_ROOMS,
                 max_idle_seconds: float = DEFAULT_MAX_IDLE_SECONDS,
                 reorder_window: float = DEFAULT_REORDER_WINDOW,
                 share_presence: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.ring_size = ring_size
        self.max_queue_bytes = max_queue_bytes
        self.clock = clock
        self._rooms: dict[str, Room] = {}
        super().__init__(self._rooms, presence_interval=presence_interval,
                         share_presence=share_presence, clock=clock,
                         idle=IdleRooms(max_rooms=max_idle_rooms,
                                        max_seconds=max_idle_seconds, clock=clock))
        self.reorder = ReorderWindow(reorder_window, clock)
        # Room name -> the latest `deleted_at` tm announced for it, oldest first.
        self._deleted: OrderedDict[str, str] = OrderedDict()
        self.rooms_restarted = 0  # a deleted room's name taken again (module docstring)
        self.rooms_deleted = 0  # forgotten on tm's word (DELETE /internal/rooms/<room>)
        self.streams_ended = 0  # connections of a deleted room, closed with `gone`
        self.refused_incarnations = 0  # tickets for a deleted or replaced room

    # -- queries -----------------------------------------------------------------
    def room(self, name: str) -> Room | None:
        return self._rooms.get(name)

    def count(self, name: str) -> int:
        """The room's connections on this node and, as they reported, on its peers."""
        return self.presence.total(name)

    def local_count(self, name: str) -> int:
        return self.presence.local(name)

    def connections(self) -> Iterator[Connection]:
        for room in list(self._rooms.values()):
            yield from list(room.connections)

    def stats(self) -> dict[str, int]:
        return {"rooms": len(self._rooms),
                "connections": sum(len(room.connections) for room in self._rooms.values()),
                "evictions": self.evictions, "rooms_restarted": self.rooms_restarted,
                "rooms_deleted": self.rooms_deleted,
                "streams_ended": self.streams_ended,
                "refused_incarnations": self.refused_incarnations,
                "reordered": self.reorder.reordered,
                "gaps_given_up": self.reorder.gaps_given_up,
                "peers_reporting": self.presence.peer_counts.peers()}

    # -- events ------------------------------------------------------------------
    def publish(self, event: dict[str, Any]) -> bool:
        """Hold a checked event and queue it for the room, in seq order when it came
        ahead of a gap (reorder.py). False for a redelivery."""
        room = self._room(event["room"])
        item = Encoded(event)
        seq = item.seq
        if seq is not None and (self.reorder.holds(room.name, seq) or room.ring.has_seen(seq)):
            if not (room.latest_ts and item.ts > room.latest_ts):
                return False  # a redelivery
            self._restart(room)  # a new room of the same name (module docstring)
        if item.ts > room.latest_ts:
            room.latest_ts = item.ts
        if self.reorder.waits(seq, room.next_seq()):
            self.reorder.hold(room.name, item)
            return True
        self._deliver(room, item)
        if self.reorder.waiting(room.name):  # the usual case builds no callback
            self.reorder.release(room.name, room.next_seq,
                                 functools.partial(self._deliver, room))
        return True

    def _deliver(self, room: Room, item: Encoded) -> None:
        room.ring.add(item)
        if room.connections:
            fan_out(room.connections, item, self.evict)
        else:
            self._idle(room.name)

    def forget_room(self, name: str, deleted_at: str) -> bool:
        """tm deleted the room at `deleted_at` (ISO 8601 UTC): refuse its tickets from
        now on, end the streams of it (a new room of the name created since keeps
        its own), and drop the events held for it, unless all of them are younger (a
        new room of the name, the announcement came late). True if events were dropped."""
        if deleted_at > self._deleted.get(name, ""):
            self._deleted[name] = deleted_at
        self._deleted.move_to_end(name)
        while len(self._deleted) > MAX_DELETIONS_KEPT:
            self._deleted.popitem(last=False)
        room = self._rooms.get(name)
        if room is None:
            return False
        self._end_streams_before(room, deleted_at)
        oldest = [ts for ts in (room.ring.oldest_ts(), *self.reorder.timestamps(name)) if ts]
        if not oldest or min(oldest) >= deleted_at:
            return False
        self.rooms_deleted += 1
        self._drop_events(room)
        return True

    def _end_streams_before(self, room: Room, moment: str) -> None:
        """Close the room's connections of incarnations before `moment`: that room is
        gone. Each gets a `gone` message first, so its page stops following."""
        ended = [conn for conn in room.connections if conn.incarnation < moment]
        if not ended:
            return
        for conn in ended:
            room.connections.discard(conn)
            conn.offer(Encoded({"type": "gone", "room": room.name}), bounded=False)
            conn.sink.end(CLOSE_ROOM_GONE, ROOM_GONE_REASON)
        self.streams_ended += len(ended)
        self.presence.connections_changed(room)
        if not room.connections:
            self._idle(room.name)

    def _restart(self, room: Room) -> None:
        self.rooms_restarted += 1
        self._drop_events(room)

    def _drop_events(self, room: Room) -> None:
        """Start afresh: the events held were a previous room's of the same name."""
        self.reorder.drop(room.name)
        room.ring = RingBuffer(self.ring_size)
        room.latest_ts = ""

    # -- connections -------------------------------------------------------------
    def admit(self, name: str, incarnation: str) -> str | None:
        """Why a ticket for the room's `incarnation` (ISO 8601 UTC) is refused, or None:
        the name was deleted since that room was created, or a newer room of the name
        has been seen. Refusals are counted."""
        why = None
        if incarnation < self._deleted.get(name, ""):
            why = "this room was deleted"
        else:
            room = self._rooms.get(name)
            if room is not None and incarnation < room.incarnation:
                why = "this room was deleted and its name taken again"
        if why is not None:
            self.refused_incarnations += 1
        return why

    def connect(self, name: str, sink: Sink, *, moderator: bool = False,
                after: int | None = None, incarnation: str = "") -> Connection:
        """Register a connection and queue what it must see first: the replay of the
        events above `after` (or a resync message), nothing when `after` is None.
        `incarnation`: when the client's room was created (ISO 8601 UTC, from its
        ticket, already `admit`ted). A newer one than the node has seen means the name
        was taken again: events held from before then belong to the previous room and
        are dropped first, and that room's streams end."""
        room = self._room(name)
        if incarnation > room.incarnation:
            room.incarnation = incarnation
            self._end_streams_before(room, incarnation)
            oldest = room.ring.oldest_ts()
            if ((oldest is not None and oldest < incarnation)
                    or any(ts < incarnation for ts in self.reorder.timestamps(name))):
                self._restart(room)
        conn = Connection(name, sink, moderator=moderator, after=after,
                          max_queue_bytes=self.max_queue_bytes, incarnation=incarnation)
        if after is not None:
            replay = room.ring.since(after)
            if replay is None:
                conn.offer(Encoded({"type": "resync", "room": name, "after": after}))
            else:
                # Bounded by the ring size, so the replay itself never evicts.
                for item in replay:
                    visible = item.for_connection(moderator)
                    if visible is not None:
                        conn.offer(visible, bounded=False)
        self._followed(room, conn)
        return conn

    def send(self, conn: Connection, item: Encoded) -> None:
        """Queue one message for one connection alone (the shutdown's reconnect)."""
        if conn.open:
            conn.offer(item, bounded=False)

    # -- time --------------------------------------------------------------------
    def tick(self) -> None:
        """Send the presence counts whose throttle interval has passed and the early
        events whose reorder window has; forget rooms idle for too long. The shell
        calls this several times per interval and window; tests call it with a fake
        clock."""
        for name in self.idle.expired():
            self._forget(name)
        self.presence.tick()
        for name in self.reorder.overdue():
            room = self._rooms.get(name)
            if room is None:
                self.reorder.drop(name)
            else:
                self.reorder.release(name, room.next_seq,
                                     functools.partial(self._deliver, room), give_up=True)

    # -- presence across nodes ---------------------------------------------------
    def take_peer_report(self, report: Report) -> tuple[bool, bool]:
        """A peer's presence report (peers.py): whether it was taken, and whether that
        peer should send a full report next."""
        return self.presence.take_peer_report(report)

    def presence_counts(self) -> dict[str, int]:
        return self.presence.counts()

    def take_presence_changes(self) -> dict[str, int]:
        return self.presence.take_changes()

    # -- the room table ----------------------------------------------------------
    def _room(self, name: str) -> Room:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = Room(name, self.ring_size)
        return room

    def _forget(self, name: str) -> None:
        if self._rooms.pop(name, None) is not None:
            self.presence.forget(name)
            self.reorder.drop(name)
