"""The pure core of an ekg push node: rooms, connections, ring buffers, presence.

No aiohttp and no I/O here (STYLE.md, "a pure core beside a thin I/O layer"):
`server.py` feeds this registry the events that arrive on the internal API and
implements `Sink` for each browser connection; this module decides who gets what.

Fan-out is built for big rooms: an event is encoded to JSON once per node and the
same `Encoded` object is appended to every connection's queue; a connection's writer
(in the server layer) takes everything queued at once and writes it back to back.
A connection whose queue grows past `max_queue_bytes` is evicted on the spot, so one
slow reader never holds up its room.

Reordering: tm's workers publish concurrently, so a room's events can reach the node
out of order (seq 8 just before seq 7). A client that sees 8 after 6 would read the
history to fill the gap, and in a big room every client would do so at once. So an
event that arrives ahead of a gap (its seq is above the highest held + 1) waits, up to
`reorder_window` seconds, for the events before it; they go out in seq order as soon
as the gap closes. If it does not close in time (an event lost on the way, which the
outbox relay re-sends seconds later), the waiting events go out anyway and clients fill
from history as before. For a room the node holds nothing of, the next seq is the one
after the highest `after` its clients connected with; with no such client the first
event goes out at once.

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

Deleted messages are not replayed: when a room's `message.deleted` for a message comes,
the events held for it (its `message.created`, or `message.pending` then
`message.created` for an approved post) are replaced in the ring by a `skip` with the
same seq. Clients that were live saw the post and then its deletion; a client that
replays later gets the numbering without the text the teacher removed.

Replay rule (answered by `RingBuffer.since`): a client that connects with `after=N`
gets the room's events above N from the ring buffer only when the node can prove it
holds every one of them, i.e. it holds a contiguous run of seqs N+1 .. highest held.
Otherwise (the events were evicted, a seq in between never arrived, or the node holds
nothing at all for the room, e.g. it just restarted, whatever N is, 0 included) the
client gets `{"type": "resync", "room": ..., "after": N}` and reads the history from tm.
"""

from __future__ import annotations

import bisect
import json
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from contract import events

from .peers import PeerCounts, Report

# WebSocket close codes the server layer uses (README.md, "Close codes").
CLOSE_SLOW_CONSUMER = 1013  # "try again later": the client fell too far behind
CLOSE_SERVICE_RESTART = 1012  # the node is shutting down; a reconnect message came first
CLOSE_ROOM_GONE = 4410  # the room was deleted (or expired); a `gone` message came first
ROOM_GONE_REASON = "room deleted"
SLOW_CONSUMER_REASON = "slow consumer: reconnect and resume by seq"

DEFAULT_RING_SIZE = 500
DEFAULT_MAX_QUEUE_BYTES = 1 << 20
DEFAULT_PRESENCE_INTERVAL = 1.0
DEFAULT_MAX_IDLE_ROOMS = 10_000
DEFAULT_MAX_IDLE_SECONDS = 3600.0  # a room nobody follows or posts to is forgotten then
DEFAULT_REORDER_WINDOW = 0.1  # seconds an event ahead of a gap waits for the gap to close
# Room names whose last deletion the node remembers (to refuse tickets of the deleted
# rooms): far more than the rooms deleted within a ticket's lifetime.
MAX_DELETIONS_KEPT = 100_000


def encode_json(message: dict[str, Any]) -> str:
    # Compact and without newlines, so it is also one valid SSE `data:` line.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class Encoded:
    """One outgoing message, encoded once and shared by every queue it goes to."""

    __slots__ = ("seq", "ts", "data", "moderators_only", "public", "shows", "deletes",
                 "room", "_sse", "_sse_prefix", "_frame", "_sse_chunk")

    def __init__(self, message: dict[str, Any], *, sse_prefix: bytes = b""):
        seq = message.get("seq")
        self.seq: int | None = seq if isinstance(seq, int) else None
        ts = message.get("ts")
        self.ts: str = ts if isinstance(ts, str) else ""  # ISO 8601 UTC: sorts as text
        self.room = message.get("room")
        # The message this event shows (created, pending) or removes (deleted), by id.
        kind = message.get("type")
        data = message.get("data")
        message_id = data.get("id") if isinstance(data, dict) else None
        self.shows = message_id if kind in (events.MESSAGE_CREATED,
                                            events.MESSAGE_PENDING) else None
        self.deletes = message_id if kind == events.MESSAGE_DELETED else None
        self.moderators_only = message.get("type") == events.MESSAGE_PENDING
        self.data = encode_json(message).encode("utf-8")  # a WebSocket text frame's payload
        self._sse: bytes | None = None
        self._sse_prefix = sse_prefix
        self._frame: bytes | None = None
        self._sse_chunk: bytes | None = None
        # What everyone else gets instead of a moderators-only event: a `skip` that
        # carries only its seq, so their seq count stays unbroken (no false gap, no
        # history read per held post). Encoded once, like the event itself.
        self.public: Encoded | None = None
        if self.moderators_only and self.seq is not None:
            self.public = Encoded({"type": events.SKIP, "room": message.get("room"),
                                   "seq": self.seq})

    def redacted(self) -> Encoded:
        """A `skip` in this event's place: its seq (and ts) without what it showed."""
        stand_in = Encoded({"type": events.SKIP, "room": self.room, "seq": self.seq})
        stand_in.ts = self.ts
        return stand_in

    def for_connection(self, moderator: bool) -> Encoded | None:
        if self.moderators_only and not moderator:
            return self.public
        return self

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    @property
    def frame(self) -> bytes:
        """The whole WebSocket text frame (a server's: final, unmasked), built the first
        time a WebSocket client needs it: every connection writes these same bytes."""
        if self._frame is None:
            size = len(self.data)
            if size < 126:
                head = struct.pack("!BB", 0x81, size)
            elif size < 1 << 16:
                head = struct.pack("!BBH", 0x81, 126, size)
            else:
                head = struct.pack("!BBQ", 0x81, 127, size)
            self._frame = head + self.data
        return self._frame

    @property
    def sse(self) -> bytes:
        """The Server-Sent Events chunk, built the first time an SSE client needs it."""
        if self._sse is None:
            head = b"" if self.seq is None else b"id: %d\n" % self.seq
            self._sse = self._sse_prefix + head + b"data: " + self.data + b"\n\n"
        return self._sse

    @property
    def sse_chunk(self) -> bytes:
        """`sse` as one HTTP/1.1 chunk, for a chunked SSE response."""
        if self._sse_chunk is None:
            sse = self.sse
            self._sse_chunk = b"%x\r\n%s\r\n" % (len(sse), sse)
        return self._sse_chunk


class RingBuffer:
    """The last `capacity` events of one room by seq, in seq order whatever the arrival."""

    def __init__(self, capacity: int = DEFAULT_RING_SIZE):
        if capacity < 1:
            raise ValueError("a ring buffer holds at least one event")
        self.capacity = capacity
        self._seqs: list[int] = []
        self._items: dict[int, Encoded] = {}
        # Seqs at or below this were held and evicted: a late copy is a redelivery.
        self.evicted_upto = 0
        # For redacting deleted messages (module docstring): message id -> seqs of the
        # held events that show it; message id -> seq of its deletion, while held.
        self._showing: dict[int, list[int]] = {}
        self._deleted: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._seqs)

    @property
    def lowest(self) -> int | None:
        return self._seqs[0] if self._seqs else None

    @property
    def highest(self) -> int | None:
        return self._seqs[-1] if self._seqs else None

    def seqs(self) -> list[int]:
        return list(self._seqs)

    def oldest_ts(self) -> str | None:
        """The `ts` of the lowest seq held (the earliest, within one room's life)."""
        return self._items[self._seqs[0]].ts if self._seqs else None

    def has_seen(self, seq: int) -> bool:
        """Whether `seq` is held, or was held and evicted."""
        return seq <= self.evicted_upto or seq in self._items

    def add(self, item: Encoded) -> bool:
        """Hold `item`; False when its seq was seen already (reflektor redelivers)."""
        seq = item.seq
        if seq is None:
            raise ValueError("only events with a seq go into the ring buffer")
        if self.has_seen(seq):
            return False
        if not self._seqs or seq > self._seqs[-1]:
            self._seqs.append(seq)  # the usual case: events arrive in order
        else:
            bisect.insort(self._seqs, seq)
        if item.deletes is not None:
            self._deleted[item.deletes] = seq
            for shown in self._showing.pop(item.deletes, ()):
                self._items[shown] = self._items[shown].redacted()
        elif item.shows is not None:
            if item.shows in self._deleted:  # it came after its deletion (a late copy)
                item = item.redacted()
            else:
                self._showing.setdefault(item.shows, []).append(seq)
        self._items[seq] = item
        if len(self._seqs) > self.capacity:
            self._evict(self._seqs.pop(0))
        return True

    def _evict(self, seq: int) -> None:
        gone = self._items.pop(seq)
        self.evicted_upto = max(self.evicted_upto, seq)
        if gone.shows is not None and gone.shows in self._showing:
            seqs = self._showing[gone.shows]
            seqs.remove(seq)
            if not seqs:
                del self._showing[gone.shows]
        if gone.deletes is not None and self._deleted.get(gone.deletes) == seq:
            del self._deleted[gone.deletes]

    def since(self, after: int) -> list[Encoded] | None:
        """Every held event above `after`, or None when the node cannot prove it holds
        them all (the caller then sends a resync). See the module docstring."""
        if not self._seqs or after + 1 < self._seqs[0]:
            return None
        start = bisect.bisect_right(self._seqs, after)
        tail = self._seqs[start:]
        # tail holds distinct sorted seqs above `after`: contiguous iff it ends at after+len.
        if tail and tail[-1] - after != len(tail):
            return None
        return [self._items[seq] for seq in tail]


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


class Room:
    __slots__ = ("name", "ring", "connections", "presence_sent_at", "presence_dirty",
                 "early", "early_deadline", "latest_ts", "incarnation")

    def __init__(self, name: str, ring_size: int):
        self.name = name
        self.ring = RingBuffer(ring_size)
        self.connections: set[Connection] = set()
        self.presence_sent_at: float | None = None
        self.presence_dirty = False
        # Events that arrived ahead of a gap, by seq, not yet in the ring or sent; and
        # when they go out even if the gap is still open (module docstring).
        self.early: dict[int, Encoded] = {}
        self.early_deadline: float | None = None
        self.latest_ts = ""  # the latest `ts` of an event taken for this room
        self.incarnation = ""  # the newest incarnation a connection came with

    def forget_events(self, ring_size: int) -> None:
        """Start afresh: the events held were a previous room's of the same name."""
        self.ring = RingBuffer(ring_size)
        self.early.clear()
        self.early_deadline = None
        self.latest_ts = ""

    def next_seq(self) -> int | None:
        """The seq that should come next, or None when the node cannot tell."""
        highest = self.ring.highest
        if highest is not None:
            return highest + 1
        # Nothing held (a new room, a node just started): the clients' `after` says how
        # far the room had got when their pages loaded.
        known = max((conn.after for conn in self.connections), default=-1)
        return known + 1 if known >= 0 else None


class Registry:
    """Every room this node knows: ring buffers, connections, presence throttling.

    Single-threaded by design (the server calls it from the event loop), so `connect`
    registers a connection and queues its replay with no event slipping in between.
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
        self.presence_interval = presence_interval
        self.max_idle_rooms = max_idle_rooms
        self.max_idle_seconds = max_idle_seconds
        self.reorder_window = reorder_window
        self.clock = clock
        self._rooms: dict[str, Room] = {}
        # Rooms with no connection -> since when (their last event or leaver), least
        # recently active first. Past `max_idle_rooms` rooms or `max_idle_seconds` the
        # oldest are forgotten: memory, and no copy of a room's words kept for long.
        self._idle: OrderedDict[str, float] = OrderedDict()
        self._presence_due: set[Room] = set()
        self._reordering: set[Room] = set()  # rooms holding early events
        # Presence across nodes (peers.py): what the peers reported, and (when this
        # node reports to peers) the rooms whose own count changed since its last report.
        self.peer_counts = PeerCounts(clock)
        self.share_presence = share_presence
        self._share_dirty: set[str] = set()
        # Room name -> the latest `deleted_at` tm announced for it, oldest first.
        self._deleted: OrderedDict[str, str] = OrderedDict()
        self.evictions = 0
        self.rooms_restarted = 0  # a deleted room's name taken again (module docstring)
        self.rooms_deleted = 0  # forgotten on tm's word (DELETE /internal/rooms/<room>)
        self.streams_ended = 0  # connections of a deleted room, closed with `gone`
        self.refused_incarnations = 0  # tickets for a deleted or replaced room
        self.reordered = 0  # events that waited for a gap before them to close
        self.gaps_given_up = 0  # times the window passed with a gap still open

    # -- queries -----------------------------------------------------------------
    def room(self, name: str) -> Room | None:
        return self._rooms.get(name)

    def count(self, name: str) -> int:
        """The room's connections on this node and, as they reported, on its peers."""
        return self.local_count(name) + self.peer_counts.total(name)

    def local_count(self, name: str) -> int:
        room = self._rooms.get(name)
        return len(room.connections) if room else 0

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
                "reordered": self.reordered,
                "gaps_given_up": self.gaps_given_up,
                "peers_reporting": self.peer_counts.peers()}

    # -- events ------------------------------------------------------------------
    def publish(self, event: dict[str, Any]) -> bool:
        """Hold a checked event and queue it for the room, in seq order when it came
        ahead of a gap (module docstring). False for a redelivery."""
        events.check(event)
        room = self._room(event["room"])
        item = Encoded(event)
        seq = item.seq
        if seq is not None and (seq in room.early or room.ring.has_seen(seq)):
            if not (room.latest_ts and item.ts > room.latest_ts):
                return False  # a redelivery
            self._restart(room)  # a new room of the same name (module docstring)
        if item.ts > room.latest_ts:
            room.latest_ts = item.ts
        expected = room.next_seq()
        if (seq is not None and expected is not None and seq > expected
                and self.reorder_window > 0):
            room.early[seq] = item
            if room.early_deadline is None:
                room.early_deadline = self.clock() + self.reorder_window
                self._reordering.add(room)
            return True
        self._deliver(room, item)
        if room.early:
            self._release_early(room, give_up=False)
        return True

    def _deliver(self, room: Room, item: Encoded) -> None:
        room.ring.add(item)
        if room.connections:
            self._fan_out(room, item)
        else:
            self._touch_idle(room.name)

    def _release_early(self, room: Room, *, give_up: bool) -> None:
        """Send the early events the gap no longer holds back: those now next in line,
        or (`give_up`, the window has passed) all of them, in seq order."""
        if give_up:
            self.gaps_given_up += 1
        while room.early:
            expected = room.next_seq()
            item = room.early.pop(expected, None) if expected is not None else None
            if item is None:
                if not give_up:
                    break
                item = room.early.pop(min(room.early))
            self.reordered += 1
            self._deliver(room, item)
        if not room.early:
            room.early_deadline = None
            self._reordering.discard(room)

    def _fan_out(self, room: Room, item: Encoded) -> None:
        """Queue `item` (or what stands for it) for each connection of the room.

        `Connection.offer`, inlined: in a room of thousands this loop is the time
        between an event's arrival and its first write, so it does per connection only
        what has to be done per connection (same module, same rules as `offer`)."""
        seq = item.seq
        has_seq = seq is not None
        public = item.for_connection(moderator=False)
        item_size = len(item.data)
        public_size = len(public.data) if public is not None else 0
        slow: list[Connection] = []
        for conn in room.connections:
            if has_seq and seq <= conn.after:
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
            self.evict(conn)

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
        oldest = [ts for ts in (room.ring.oldest_ts(),
                                *(item.ts for item in room.early.values())) if ts]
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
        self._presence_changed(room)
        if not room.connections:
            self._touch_idle(room.name)

    def _restart(self, room: Room) -> None:
        self.rooms_restarted += 1
        self._drop_events(room)

    def _drop_events(self, room: Room) -> None:
        self._reordering.discard(room)
        room.forget_events(self.ring_size)

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
                    or any(item.ts < incarnation for item in room.early.values())):
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
        room.connections.add(conn)
        self._idle.pop(name, None)
        self._presence_changed(room)
        return conn

    def disconnect(self, conn: Connection) -> None:
        """Forget a connection (idempotent)."""
        if not conn.open:
            return
        conn.open = False
        conn.queue.clear()
        room = self._rooms.get(conn.room)
        if room is None or conn not in room.connections:
            return
        room.connections.discard(conn)
        self._presence_changed(room)
        if not room.connections:
            self._presence_due.discard(room)
            room.presence_dirty = False
            self._touch_idle(room.name)

    def evict(self, conn: Connection) -> None:
        """Disconnect a connection that fell behind and tell its sink to drop it."""
        if not conn.open:
            return
        self.evictions += 1
        self.disconnect(conn)
        conn.sink.evict(CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)

    def send(self, conn: Connection, message: dict[str, Any], *,
             sse_prefix: bytes = b"") -> None:
        """Queue one message for one connection alone (the shutdown's reconnect)."""
        if conn.open:
            conn.offer(Encoded(message, sse_prefix=sse_prefix), bounded=False)

    # -- presence ----------------------------------------------------------------
    def _presence_changed(self, room: Room) -> None:
        """A connection to the room came or went on this node."""
        if self.share_presence:
            self._share_dirty.add(room.name)
        self._announce_presence(room)

    def tick(self) -> None:
        """Send the presence counts whose throttle interval has passed and the early
        events whose reorder window has. The server calls this several times per
        interval and window; tests call it with a fake clock. Also forgets rooms
        idle for longer than `max_idle_seconds`."""
        self._forget_long_idle()
        if self.peer_counts.peers():
            self._peer_totals_changed(self.peer_counts.expire())
        if self._reordering:
            now = self.clock()
            for room in list(self._reordering):
                if room.early_deadline is not None and now >= room.early_deadline:
                    self._release_early(room, give_up=True)
        if not self._presence_due:
            return
        now = self.clock()
        for room in list(self._presence_due):
            sent_at = room.presence_sent_at
            if sent_at is None or now - sent_at >= self.presence_interval:
                self._presence_due.discard(room)
                if room.presence_dirty and room.connections:
                    self._send_presence(room, now)

    def _send_presence(self, room: Room, now: float) -> None:
        room.presence_sent_at = now
        room.presence_dirty = False
        self._presence_due.discard(room)
        item = Encoded({"type": events.PRESENCE, "room": room.name,
                        "count": len(room.connections) + self.peer_counts.total(room.name)})
        self._fan_out(room, item)

    def take_peer_report(self, report: Report) -> tuple[bool, bool]:
        """A peer's presence report (peers.py): whether it was taken (not replayed or
        overtaken), and whether that peer should send a full report next."""
        taken = self.peer_counts.apply(report)
        if taken is None:
            return False, False
        changed, full_wanted = taken
        self._peer_totals_changed(changed)
        return True, full_wanted

    def presence_counts(self) -> dict[str, int]:
        """This node's own count of every room it has connections in."""
        return {name: len(room.connections) for name, room in self._rooms.items()
                if room.connections}

    def take_presence_changes(self) -> dict[str, int]:
        """This node's own counts of the rooms whose count changed since the last call
        (0 for a room it no longer has connections in), for a report to its peers."""
        changes = {name: self.local_count(name) for name in self._share_dirty}
        self._share_dirty.clear()
        return changes

    def _peer_totals_changed(self, names: set[str]) -> None:
        for name in names:
            room = self._rooms.get(name)
            if room is not None:
                self._announce_presence(room)

    def _announce_presence(self, room: Room) -> None:
        """The room's count changed: tell its clients here now, or at the end of its
        throttle interval."""
        if not room.connections:
            return  # nobody here to tell
        room.presence_dirty = True
        now = self.clock()
        sent_at = room.presence_sent_at
        if sent_at is None or now - sent_at >= self.presence_interval:
            self._send_presence(room, now)  # leading edge
        else:
            self._presence_due.add(room)  # trailing edge, sent by `tick`

    # -- rooms -------------------------------------------------------------------
    def _room(self, name: str) -> Room:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = Room(name, self.ring_size)
        return room

    def _touch_idle(self, name: str) -> None:
        self._idle[name] = self.clock()
        self._idle.move_to_end(name)
        while len(self._idle) > self.max_idle_rooms:
            self._forget(self._idle.popitem(last=False)[0])

    def _forget_long_idle(self) -> None:
        """Rooms nobody has followed, and nobody has posted to, for `max_idle_seconds`
        go, events and all: the node keeps no copy of a class's words for longer than
        it helps (a later visitor reads the history from tm instead)."""
        cutoff = self.clock() - self.max_idle_seconds
        while self._idle:
            name, since = next(iter(self._idle.items()))
            if since > cutoff:
                return
            del self._idle[name]
            self._forget(name)

    def _forget(self, name: str) -> None:
        room = self._rooms.pop(name, None)
        if room is not None:
            self._presence_due.discard(room)
            self._reordering.discard(room)
