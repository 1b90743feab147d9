"""A shared event's counts expire (docs/retention.md): every key of every event scope
older than the cutoff goes from a flatdb.

Keys are `event:<name>:<ISO second>`, so one event's old keys are one range. The events
are found by skipping through the keys: the first key at or after `event:`, its scope,
then the first key after every key of that scope (`<scope>;`, since ';' sorts right
after ':'), and so on: one read per event, whatever the number of keys. A room's own
counts need none of this: they go with the room.
"""

from __future__ import annotations

from contract.names import EVENT_PREFIX

from .flatdb_client import FlatDB

_AFTER_EVENTS = EVENT_PREFIX[:-1] + ";"  # past every "event:" key


async def event_scopes(db: FlatDB) -> list[str]:
    """Every event scope with a key in `db`, in key order."""
    scopes: list[str] = []
    start = EVENT_PREFIX
    while True:
        page = await db.scan(start=start, stop=_AFTER_EVENTS, limit=1)
        if not page:
            return scopes
        key = page[0][0]
        end = key.find(":", len(EVENT_PREFIX))
        scope = key if end < 0 else key[:end]
        scopes.append(scope)
        start = scope + ";"


async def expire_events(db: FlatDB, cutoff: str) -> int:
    """Delete every event scope's keys from before `cutoff` (an ISO second); how many."""
    deleted = 0
    for scope in await event_scopes(db):
        deleted += await db.delete_range(f"{scope}:", f"{scope}:{cutoff}")
    return deleted
