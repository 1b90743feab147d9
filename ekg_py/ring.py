"""A room's ring buffer: its last events by seq, what a reconnecting client may be
replayed, and deleted posts redacted from what is held.

Replay rule (`RingBuffer.since`): a client that connects with `after=N` gets the room's
events above N from the ring buffer only when the node can prove it holds every one of
them, i.e. it holds a contiguous run of seqs N+1 .. highest held. Otherwise (the events
were evicted, a seq in between never arrived, or the node holds nothing at all for the
room, e.g. it just restarted, whatever N is, 0 included) the caller sends a resync and the
client reads the history from tm.

Deleted messages are not replayed: when a room's `message.deleted` for a message comes,
the events held for it from before the deletion (its `message.created`, or
`message.pending` then `message.created` for an approved post) are replaced in the ring
by a `skip` with the same seq. Clients that were live saw the post and then its
deletion; a client that replays later gets the numbering without the text the teacher
removed. A post can be shown again after a deletion (hidden by students' reports, then
approved): what shows it after the deletion's seq stays, whatever the arrival order.
"""

from __future__ import annotations

import bisect

from .outgoing import Encoded

DEFAULT_RING_SIZE = 500


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
            gone = item.deletes
            self._deleted[gone] = max(seq, self._deleted.get(gone, 0))
            showing = self._showing.pop(gone, [])
            for shown in showing:
                if shown < seq:
                    self._items[shown] = self._items[shown].redacted()
            later = [shown for shown in showing if shown > seq]
            if later:  # it was shown again after this deletion (hidden, then approved)
                self._showing[gone] = later
        elif (shows := item.shows) is not None:
            if self._deleted.get(shows, 0) > seq:  # a late copy, from before its deletion
                item = item.redacted()
            else:
                self._showing.setdefault(shows, []).append(seq)
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
