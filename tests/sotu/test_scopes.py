"""Room facts and their cache (sotu/scopes.py); the naming rules themselves are
tests/contract/test_names.py's."""

from __future__ import annotations

import pytest

from sotu.scopes import RoomCache, RoomFacts, default_facts, facts_from


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("room", "scopes"), [
    ("sotu-2026", ("event:sotu",)),
    ("bio-sotu", ("event:sotu",)),
    ("stateoftheunion-watch", ("event:sotu",)),
    ("bio-101", ()),
    ("state-of-the-union", ()),  # the marker is one word
])
def test_without_settings_sotu_named_rooms_are_in_the_sotu_event(room, scopes):
    assert default_facts(room).scopes == scopes
    # today's tm: room JSON without the fields means the same
    assert facts_from(room, {"name": room, "state": "open"}).scopes == scopes


@pytest.mark.parametrize(("data", "scopes"), [
    ({"event_scope": "sotu", "analytics": False}, ("event:sotu",)),
    ({"event_scope": "", "analytics": False}, ()),            # opted out
    ({"event_scope": "off"}, ()),
    ({"event_scope": "Debate-2026"}, ("event:debate-2026",)),
    ({"event_scope": "bad name!"}, ()),                        # not a slug: none
    ({"event_scope": 7}, ()),
    ({"event_scope": None}, ("event:sotu",)),                  # null: the name rule
    ({"event_scope": "", "analytics": True}, ("room:sotu-x",)),
    ({"event_scope": "sotu", "analytics": True}, ("event:sotu", "room:sotu-x")),
    ({"analytics": "yes"}, ("event:sotu",)),                   # only true turns it on
])
def test_settings_from_tm(data, scopes):
    assert facts_from("sotu-x", data).scopes == scopes


def test_cache_entries_age_by_source_and_are_bounded():
    clock = Clock()
    cache = RoomCache(max_rooms=2, event_ttl=100, fetched_ttl=10, fallback_ttl=1, clock=clock)
    assert cache.get("a") == (None, False)
    cache.from_fetch(RoomFacts("a", "sotu"), cache.generation("a"))
    cache.from_fetch(RoomFacts("b"), cache.generation("b"), fallback=True)
    cache.from_event(RoomFacts("c", analytics=True))
    assert cache.get("a") == (None, False)  # the least recently used went
    clock.now += 5
    assert cache.get("b") == (RoomFacts("b"), False)   # a guess is retried soon
    assert cache.get("c") == (RoomFacts("c", analytics=True), True)
    clock.now += 200
    assert cache.get("c") == (RoomFacts("c", analytics=True), False)  # stale, still there


def test_a_fetch_does_not_overwrite_a_newer_event():
    cache = RoomCache()
    generation = cache.generation("r")       # a lookup at tm starts...
    cache.from_event(RoomFacts("r", analytics=True))  # ...a room.updated arrives...
    assert not cache.from_fetch(RoomFacts("r"), generation)  # ...the old answer loses
    assert cache.get("r")[0] == RoomFacts("r", analytics=True)
