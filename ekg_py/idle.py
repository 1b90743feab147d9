"""Forgetting rooms nobody follows: the node keeps no copy of a class's words for longer
than it helps (a later visitor reads the history from tm instead), and its memory stays
bounded however many rooms pass through it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

DEFAULT_MAX_IDLE_ROOMS = 10_000
DEFAULT_MAX_IDLE_SECONDS = 3600.0  # a room nobody follows or posts to is forgotten then


class IdleRooms:
    """Rooms with no connection, by since when (their last event or leaver), least
    recently active first. Past `max_rooms` rooms or `max_seconds` the oldest go."""

    def __init__(self, *, max_rooms: int = DEFAULT_MAX_IDLE_ROOMS,
                 max_seconds: float = DEFAULT_MAX_IDLE_SECONDS,
                 clock: Callable[[], float]):
        self.max_rooms = max_rooms
        self.max_seconds = max_seconds
        self.clock = clock
        self._since: OrderedDict[str, float] = OrderedDict()

    def touch(self, name: str) -> list[str]:
        """The room is idle as of now; the rooms to forget, the oldest past `max_rooms`."""
        self._since[name] = self.clock()
        self._since.move_to_end(name)
        over = len(self._since) - self.max_rooms
        return [self._since.popitem(last=False)[0] for _ in range(over)] if over > 0 else []

    def followed(self, name: str) -> None:
        """Someone follows the room: it is not idle."""
        self._since.pop(name, None)

    def expired(self) -> list[str]:
        """The rooms idle for longer than `max_seconds`, taken off the list."""
        cutoff = self.clock() - self.max_seconds
        gone = []
        while self._since:
            name, since = next(iter(self._since.items()))
            if since > cutoff:
                break
            del self._since[name]
            gone.append(name)
        return gone
