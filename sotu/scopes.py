"""Which scopes a room's messages count for, and the in-process cache of room facts.

A scope is a word cloud and a tick line of their own, named in flatdb keys:

- `event:<name>`: an event many rooms feed (a State of the Union watch party). A room
  is in the event its `event_scope` setting names (contract/names.py has the rules,
  the name rule for a sotu-named room among them).
- `room:<room name>`: one room, when its teacher turned `analytics` on (default off).

Pure Python with an injectable clock: the collector fills the cache from room.updated
events and, on a miss, from tm's `GET /api/v1/rooms/<room>`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contract.names import event_from_setting, event_scope, room_scope


@dataclass(frozen=True)
class RoomFacts:
    """What the collector must know about a room: its event (or "") and analytics."""

    room: str
    event: str = ""
    analytics: bool = False

    @property
    def scopes(self) -> tuple[str, ...]:
        scopes = []
        if self.event:
            scopes.append(event_scope(self.event))
        if self.analytics:
            scopes.append(room_scope(self.room))
        return tuple(scopes)


def facts_from(room: str, data: Mapping[str, Any]) -> RoomFacts:
    """Room facts from room.updated data or tm's room JSON; missing fields default.

    `event_scope`: read by contract.names.event_from_setting (missing: the name rule).
    `analytics`: true turns the room scope on; anything else leaves it off.
    """
    return RoomFacts(room=room, event=event_from_setting(room, data.get("event_scope")),
                     analytics=data.get("analytics") is True)


def default_facts(room: str) -> RoomFacts:
    """Facts when tm cannot be asked: the name rule, no room scope."""
    return facts_from(room, {})


@dataclass
class _Entry:
    facts: RoomFacts
    fetched_at: float
    ttl: float


class RoomCache:
    """Room facts by name: bounded (LRU), each entry good for a while.

    room.updated events keep entries current, so an entry from an event lives long;
    one from tm's API lives `fetched_ttl` (a room.updated may have been lost), one
    guessed because tm did not answer lives `fallback_ttl`, so tm is asked again soon.
    A stale entry is still answered (the collector refreshes it in the background).
    `generation` tells a fetch that started before an event not to overwrite it.
    """

    def __init__(self, max_rooms: int = 10_000, event_ttl: float = 3600.0,
                 fetched_ttl: float = 300.0, fallback_ttl: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.max_rooms = max_rooms
        self.event_ttl = event_ttl
        self.fetched_ttl = fetched_ttl
        self.fallback_ttl = fallback_ttl
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generations: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, room: str) -> tuple[RoomFacts | None, bool]:
        """(facts or None, fresh). Stale facts come back with fresh=False."""
        entry = self._entries.get(room)
        if entry is None:
            return None, False
        self._entries.move_to_end(room)
        return entry.facts, self.clock() - entry.fetched_at < entry.ttl

    def generation(self, room: str) -> int:
        return self._generations.get(room, 0)

    def _put(self, facts: RoomFacts, ttl: float) -> None:
        self._entries[facts.room] = _Entry(facts, self.clock(), ttl)
        self._entries.move_to_end(facts.room)
        while len(self._entries) > self.max_rooms:
            evicted, _ = self._entries.popitem(last=False)
            self._generations.pop(evicted, None)

    def forget(self, room: str) -> None:
        """The room was deleted: a room created again under its name is asked afresh,
        and a fetch under way for the old one does not store its answer."""
        self._entries.pop(room, None)
        self._generations[room] = self.generation(room) + 1

    def from_event(self, facts: RoomFacts) -> None:
        self._generations[facts.room] = self.generation(facts.room) + 1
        self._put(facts, self.event_ttl)

    def from_fetch(self, facts: RoomFacts, generation: int, fallback: bool = False) -> bool:
        """Store fetched facts unless an event updated the room since the fetch began."""
        if self.generation(facts.room) != generation:
            return False
        self._put(facts, self.fallback_ttl if fallback else self.fetched_ttl)
        return True
