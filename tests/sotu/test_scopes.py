"""Room facts and their cache (sotu/scopes.py); the naming rules themselves are
tests/contract/test_names.py's."""

from __future__ import annotations

import pytest

from sotu.scopes import RoomCache, RoomFacts, facts_from, facts_from_store, stored_facts


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
def test_settings_from_room_updated(data, scopes):
    assert facts_from("sotu-x", data).scopes == scopes


def test_the_cache_is_bounded_least_recently_used_first():
    cache = RoomCache(max_rooms=2)
    assert cache.get("a") is None
    cache.from_event(RoomFacts("a", "sotu"))
    cache.from_event(RoomFacts("b"))
    assert cache.get("a") == RoomFacts("a", "sotu")  # used: "b" is now the oldest
    cache.from_store(RoomFacts("c", analytics=True), cache.generation("c"))
    assert cache.get("b") is None and len(cache) == 2


def test_a_read_of_the_store_does_not_overwrite_a_newer_event():
    cache = RoomCache()
    generation = cache.generation("r")       # a read of clouddb starts...
    cache.from_event(RoomFacts("r", analytics=True))  # ...a room.updated arrives...
    assert not cache.from_store(RoomFacts("r"), generation)  # ...the old answer loses
    assert cache.get("r") == RoomFacts("r", analytics=True)
    cache.forget("r")  # deleted: a read begun before does not bring it back
    assert not cache.from_store(RoomFacts("r"), generation) and cache.get("r") is None


@pytest.mark.parametrize("facts", [RoomFacts("r"), RoomFacts("r", "sotu"),
                                   RoomFacts("r", "debate-1", analytics=True)])
def test_facts_keep_in_the_store_as_they_were(facts):
    assert facts_from_store("r", stored_facts(facts)) == facts


@pytest.mark.parametrize("raw", [None, "", "not json", "[]", '{"event": 7}',
                                 '{"event": "Bad Name!", "analytics": "yes"}'])
def test_bad_or_missing_stored_facts_are_none_or_safe(raw):
    facts = facts_from_store("r", raw)
    assert facts is None or facts == RoomFacts("r")
