"""The reorder window: tm's workers publish concurrently, so a room's events can reach
the node out of order (seq 8 just before seq 7). A client that sees 8 after 6 would read
the history to fill the gap, and in a big room every client would do so at once. So an
event that arrives ahead of a gap (its seq is above the one the room expects next) waits,
up to `window` seconds, for the events before it; they go out in seq order as soon as
the gap closes. If it does not close in time (an event lost on the way, which the outbox
relay re-sends seconds later), the waiting events go out anyway and clients fill from
history as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .outgoing import Encoded

DEFAULT_REORDER_WINDOW = 0.1  # seconds an event ahead of a gap waits for the gap to close


class ReorderWindow:
    """The events waiting for a gap before them to close, per room name."""

    def __init__(self, window: float, clock: Callable[[], float]):
        self.window = window
        self.clock = clock
        self._early: dict[str, dict[int, Encoded]] = {}
        self._deadline: dict[str, float] = {}  # when a room's early events go out anyway
        self.reordered = 0  # events that waited for a gap before them to close
        self.gaps_given_up = 0  # times the window passed with a gap still open

    def waits(self, seq: int | None, expected: int | None) -> bool:
        """Whether an event of `seq` waits, the room expecting `expected` next."""
        return (seq is not None and expected is not None and seq > expected
                and self.window > 0)

    def hold(self, name: str, item: Encoded) -> None:
        assert item.seq is not None
        self._early.setdefault(name, {})[item.seq] = item
        self._deadline.setdefault(name, self.clock() + self.window)

    def waiting(self, name: str) -> bool:
        """Whether the room has events waiting for a gap to close."""
        return name in self._early

    def holds(self, name: str, seq: int) -> bool:
        early = self._early.get(name)
        return early is not None and seq in early

    def timestamps(self, name: str) -> Iterator[str]:
        """The `ts` of each event the room has waiting."""
        return (item.ts for item in self._early.get(name, {}).values())

    def release(self, name: str, next_seq: Callable[[], int | None],
                deliver: Callable[[Encoded], None], *, give_up: bool = False) -> None:
        """`deliver` the room's waiting events the gap no longer holds back: those now
        next in line (`next_seq` asked after each), or with `give_up` (the window has
        passed) all of them, in seq order."""
        early = self._early.get(name)
        if not early:
            return
        if give_up:
            self.gaps_given_up += 1
        while early:
            expected = next_seq()
            item = early.pop(expected, None) if expected is not None else None
            if item is None:
                if not give_up:
                    break
                item = early.pop(min(early))
            self.reordered += 1
            deliver(item)
        if not early:
            self.drop(name)

    def overdue(self) -> list[str]:
        """The rooms whose window has passed with events still waiting."""
        if not self._deadline:
            return []
        now = self.clock()
        return [name for name, deadline in self._deadline.items() if now >= deadline]

    def drop(self, name: str) -> None:
        """Forget what the room has waiting (a previous room's events, or a forgotten
        room's)."""
        self._early.pop(name, None)
        self._deadline.pop(name, None)
