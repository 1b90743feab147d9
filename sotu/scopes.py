"""Which scopes a room's messages count for, and the in-process cache of room facts.

A scope is a word cloud and a tick line of their own, named in flatdb keys:

- `event:<name>`: an event many rooms feed (a State of the Union watch party). A room
  is in the event its `event_scope` setting names (contract/names.py has the rules,
  the name rule for a sotu-named room among them).
- `room:<room name>`: one room, when its teacher turned `analytics` on (default off).

Pure Python: the collector fills the cache from room.updated events (tm makes one the
room's first event) and keeps each room's facts in clouddb, where a restarted collector
reads them back on a miss. It never asks tm. A room it knows nothing of counts nowhere:
a private room must not land in a public chart for want of its settings.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.names import event_from_setting, event_scope, is_event_name, room_scope

from .stored import json_object


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
    """Room facts from room.updated data; missing fields default.

    `event_scope`: read by contract.names.event_from_setting (missing: the name rule).
    `analytics`: true turns the room scope on; anything else leaves it off.
    """
    return RoomFacts(room=room, event=event_from_setting(room, data.get("event_scope")),
                     analytics=data.get("analytics") is True)


FACTS_PREFIX = "facts:"  # clouddb keys of room facts, apart from every scope's keys


def facts_key(room: str) -> str:
    return FACTS_PREFIX + room


# clouddb keys of message traces (sotu/buckets.py Trace): trace:<room>:<message id>
TRACE_PREFIX = "trace:"


def trace_prefix(room: str) -> str:
    return f"{TRACE_PREFIX}{room}:"


def trace_key(room: str, message_id: int) -> str:
    return f"{trace_prefix(room)}{message_id}"


def stored_facts(facts: RoomFacts) -> str:
    """Room facts as the collector keeps them in clouddb (a restart reads them back)."""
    return json.dumps({"event": facts.event, "analytics": facts.analytics},
                      separators=(",", ":"))


def facts_from_store(room: str, raw: str | None) -> RoomFacts | None:
    """The facts `stored_facts` wrote, or None when there are none (or they are bad)."""
    value = None if raw is None else json_object(raw)
    if value is None:
        return None
    event = value.get("event")
    return RoomFacts(room=room, event=event if isinstance(event, str) and is_event_name(event)
                     else "",
                     analytics=value.get("analytics") is True)


class RoomCache:
    """Room facts by name, bounded (LRU). Facts come from room.updated events (a room's
    first event is one) and, after a restart, from clouddb. `generation` tells a read
    of clouddb that started before an event not to overwrite it."""

    def __init__(self, max_rooms: int = 10_000):
        self.max_rooms = max_rooms
        self._entries: OrderedDict[str, RoomFacts] = OrderedDict()
        self._generations: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, room: str) -> RoomFacts | None:
        facts = self._entries.get(room)
        if facts is not None:
            self._entries.move_to_end(room)
        return facts

    def generation(self, room: str) -> int:
        return self._generations.get(room, 0)

    def _put(self, facts: RoomFacts) -> None:
        self._entries[facts.room] = facts
        self._entries.move_to_end(facts.room)
        while len(self._entries) > self.max_rooms:
            evicted, _ = self._entries.popitem(last=False)
            self._generations.pop(evicted, None)

    def forget(self, room: str) -> None:
        """The room was deleted: a room created again under its name starts afresh,
        and a read under way for the old one does not store its answer."""
        self._entries.pop(room, None)
        self._generations[room] = self.generation(room) + 1

    def from_event(self, facts: RoomFacts) -> None:
        self._generations[facts.room] = self.generation(facts.room) + 1
        self._put(facts)

    def from_store(self, facts: RoomFacts, generation: int) -> bool:
        """Store facts read from clouddb unless an event updated the room since."""
        if self.generation(facts.room) != generation:
            return False
        self._put(facts)
        return True
