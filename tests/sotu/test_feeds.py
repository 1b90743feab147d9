"""What a scope's chart viewers are sent (sotu/feeds.py), without sockets or flatdb."""

from __future__ import annotations

import json

from sotu.buckets import iso_second
from sotu.feeds import Feed, scope_stop, top_words

NOW = 1_795_000_000


def tick(scope: str, seconds_ago: int, n: int, sentiment: float) -> tuple[str, str]:
    return (f"{scope}:{iso_second(NOW - seconds_ago)}",
            json.dumps({"n": n, "sentiment": sentiment}))


def test_top_words_by_count_then_alphabet():
    assert top_words({"b": 2, "a": 2, "c": 5, "d": 1, "bad": "x", "zero": 0}, 3) == [
        ["c", 5], ["a", 2], ["b", 2]]


def test_the_scope_range_holds_its_keys_and_no_other_scopes():
    start, stop = "event:sotu:", scope_stop("event:sotu")
    assert start <= "event:sotu:2026-11-18T11:06:40Z" < stop
    for other in ("event:sotu2:2026", "event:sotu-x:2026", "event:sotua:2026",
                  "event:sot:2026"):
        assert not start <= other < stop, other


def test_ticks_only_new_or_changed_ones_are_sent_again():
    feed = Feed("event:x", history_seconds=300)
    first = feed.take_ticks([tick("event:x", 400, 1, 0.0), tick("event:x", 20, 2, 1.5),
                             tick("event:x", 10, 1, -1.0), ("event:x:bad", "not json")],
                            NOW)
    assert first == {"type": "ticks", "scope": "event:x", "ticks": [
        [iso_second(NOW - 20), 2, 1.5], [iso_second(NOW - 10), 1, -1.0]]}
    assert feed.take_ticks([tick("event:x", 10, 1, -1.0)], NOW + 1) is None
    changed = feed.take_ticks([tick("event:x", 10, 3, 0.5), tick("event:x", 0, 1, 2.0)],
                              NOW + 1)
    assert changed["ticks"] == [[iso_second(NOW - 10), 3, 0.5], [iso_second(NOW), 1, 2.0]]
    snapshot = feed.snapshot(NOW + 285)  # 5 minutes on: the oldest tick has aged out
    assert snapshot == [{"type": "ticks", "scope": "event:x", "ticks": [
        [iso_second(NOW - 10), 3, 0.5], [iso_second(NOW), 1, 2.0]]}]


def test_words_of_the_latest_bucket_when_it_changes():
    feed = Feed("event:x", top=2)
    key = f"event:x:{iso_second(NOW - 10)}"
    message = feed.take_latest_bucket((key, json.dumps({"tax": 3, "cut": 5, "vote": 1})))
    assert message == {"type": "words", "scope": "event:x", "bucket": iso_second(NOW - 10),
                       "top": [["cut", 5], ["tax", 3]]}
    assert feed.take_latest_bucket((key, json.dumps({"tax": 3, "cut": 5, "vote": 1}))) is None
    # A rewrite that leaves the top unchanged sends nothing either.
    assert feed.take_latest_bucket((key, json.dumps({"tax": 3, "cut": 5, "vote": 2}))) is None
    assert feed.take_latest_bucket(None) is None
    assert feed.snapshot()[0] == message


def test_viewer_counts_are_sent_when_they_change():
    feed = Feed("room:bio")
    assert feed.viewers_changed(1) == {"type": "viewers", "scope": "room:bio", "count": 1}
    assert feed.viewers_changed(1) is None
    assert feed.viewers_changed(2)["count"] == 2
    assert feed.hello()["type"] == "hello"
