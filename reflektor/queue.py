"""The pure core of reflektor: per-target FIFO queues, the retry schedule, pause and drain.

Owns every decision that does not need a socket, so it can be unit-tested without an
event loop: what a queued request is (`Item`), how one target's queue is bounded and
what it drops when full (`TargetQueue`), which answers are done, dropped or retried
(`classify`), how long to wait before the next attempt and when to give up
(`RetryPolicy`). Time and randomness are injected (`clock`, `rng`). No aiohttp and no
asyncio here: `reflektor/sender.py` does the waiting and the I/O.

Policies (also in reflektor/README.md):

- Order: one FIFO per target. The sender takes the head and keeps it "in flight" until
  it is done or given up; nothing behind it goes first.
- Bound: a queue holds at most `max_items` waiting items and `max_bytes` of them (the
  in-flight head is not counted: it has already left the queue). When a new item
  would break either cap, the *oldest waiting* items are dropped (reason "overflow")
  until it fits. The oldest are the events clients are most likely to have already
  recovered by seq from tm's history API, and the closest to being given up anyway;
  dropping the newest instead would stall the live stream behind a dead target.
- Give up: an item older than `give_up_after` seconds (default 60, measured from
  enqueue) is dropped (reason "expired") instead of attempted again. 60 s matches the
  receivers' signature window (contract/signing.py MAX_AGE_SECONDS): an older request would
  be refused with 401 anyway, and an old event is worth less than a flowing queue.
- Answers: 2xx and 404 are done (a target may implement only part of the internal
  API); 408, 429 and 5xx are retried ("try again later"); any other status is dropped
  (reason "rejected"). Connection errors and timeouts are retried.
"""

from __future__ import annotations

import enum
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]

DEFAULT_MAX_ITEMS = 10_000
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
# Rough per-item bookkeeping cost, so a flood of empty requests still meets the byte cap.
ITEM_OVERHEAD_BYTES = 256


@dataclass(frozen=True, slots=True)
class Request:
    """One request as it came in, shared (not copied) by every target's queue."""

    method: str
    path: str  # path with the query string, exactly as received
    headers: tuple[tuple[str, str], ...]  # hop-by-hop headers already removed
    body: bytes

    @property
    def size(self) -> int:
        header_bytes = sum(len(name) + len(value) for name, value in self.headers)
        return len(self.body) + len(self.path) + header_bytes + ITEM_OVERHEAD_BYTES


@dataclass(slots=True)
class Item:
    """A request waiting for one target, with the bookkeeping that target needs."""

    id: int  # rises by one per enqueue in its TargetQueue
    request: Request
    enqueued_at: float
    attempts: int = 0


class Verdict(enum.Enum):
    DONE = "done"
    RETRY = "retry"
    DROP = "drop"


RETRYABLE_4XX = frozenset({408, 429})


def classify(status: int | None) -> Verdict:
    """What an answer means for the item; None stands for a connection error or timeout."""
    if status is None or status >= 500 or status in RETRYABLE_4XX:
        return Verdict.RETRY
    if 200 <= status < 300 or status == 404:
        return Verdict.DONE
    # 1xx/3xx never reach here in practice (the client follows nothing); treat like 4xx.
    return Verdict.DROP


@dataclass(slots=True)
class RetryPolicy:
    """Exponential back-off with "equal jitter", and the age at which an item is dropped.

    The n-th retry waits a random time in [d/2, d] where d = min(max_delay,
    base_delay * factor**(n-1)): never zero (no hot loop against a dead target), never
    in lock-step with other reflektors retrying the same target.
    """

    base_delay: float = 0.05
    factor: float = 2.0
    max_delay: float = 2.0
    give_up_after: float = 60.0
    clock: Clock = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts: int) -> float:
        """How long to wait after the `attempts`-th failed attempt (1 for the first)."""
        exponent = max(attempts - 1, 0)
        # min() before the power would overflow for huge attempt counts.
        ceiling = self.max_delay
        if exponent < 64:
            ceiling = min(self.max_delay, self.base_delay * self.factor**exponent)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def age(self, item: Item) -> float:
        return self.clock() - item.enqueued_at

    def expired(self, item: Item, extra: float = 0.0) -> bool:
        """True when the item is (or, after `extra` more seconds, will be) too old to send."""
        return self.age(item) + extra > self.give_up_after


class TargetQueue:
    """One target's FIFO: bounded, with an in-flight head, a pause flag and drain marks."""

    def __init__(
        self,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_items < 1 or max_bytes < 1:
            raise ValueError("queue caps must be positive")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.clock = clock
        self.paused = False
        self._waiting: deque[Item] = deque()
        self._bytes = 0
        self._next_id = 0
        self.in_flight: Item | None = None

    # -- sizes -------------------------------------------------------------------------
    def __len__(self) -> int:
        """Items waiting, not counting the one in flight."""
        return len(self._waiting)

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def depth(self) -> int:
        """Everything this target still owes: waiting items plus the one in flight."""
        return len(self._waiting) + (self.in_flight is not None)

    def oldest_enqueued_at(self) -> float | None:
        if self.in_flight is not None:
            return self.in_flight.enqueued_at
        return self._waiting[0].enqueued_at if self._waiting else None

    # -- producer side -----------------------------------------------------------------
    def push(self, request: Request) -> list[Item]:
        """Append a request; returns the items dropped to make room (oldest first).

        A single request bigger than `max_bytes` is still queued once the queue is
        otherwise empty: the byte cap bounds the backlog, not one request (intake
        already caps the body size).
        """
        item = Item(self._next_id, request, self.clock())
        self._next_id += 1
        size = request.size
        dropped: list[Item] = []
        while self._waiting and (
            len(self._waiting) + 1 > self.max_items or self._bytes + size > self.max_bytes
        ):
            old = self._waiting.popleft()
            self._bytes -= old.request.size
            dropped.append(old)
        self._waiting.append(item)
        self._bytes += size
        return dropped

    # -- consumer side -----------------------------------------------------------------
    def ready(self) -> bool:
        """True when the sender may take the next item."""
        return not self.paused and self.in_flight is None and bool(self._waiting)

    def take(self) -> Item:
        """Move the head into flight. The caller must `finish` it before taking another."""
        if self.in_flight is not None:
            raise RuntimeError("an item is already in flight")
        item = self._waiting.popleft()
        self._bytes -= item.request.size
        self.in_flight = item
        return item

    def finish(self, item: Item) -> None:
        """The in-flight item is done, dropped or given up: it leaves for good."""
        if self.in_flight is not item:
            raise RuntimeError("finishing an item that is not in flight")
        self.in_flight = None

    def clear(self) -> list[Item]:
        """Remove and return everything still owed (used when the process stops)."""
        items = ([self.in_flight] if self.in_flight is not None else []) + list(self._waiting)
        self._waiting.clear()
        self._bytes = 0
        self.in_flight = None
        return items

    # -- drain -------------------------------------------------------------------------
    def mark(self) -> int:
        """A drain mark: every item pushed before this call has an id below it."""
        return self._next_id

    def drained(self, mark: int) -> bool:
        """True when no item with an id below `mark` is still waiting or in flight.

        Ids leave in order except for overflow drops of waiting items, which are older
        than everything behind them; so the lowest id still owed tells it all.
        """
        return self.low_water() >= mark

    def low_water(self) -> int:
        """The lowest id still owed, or the next id when nothing is owed."""
        if self.in_flight is not None:
            return self.in_flight.id
        if self._waiting:
            return self._waiting[0].id
        return self._next_id

