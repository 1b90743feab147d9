"""Counting and flush planning with a fake clock (sotu/buckets.py)."""

from __future__ import annotations

import json

import pytest

from sotu.buckets import TICKS_DB, WORDS_DB, SeenEvents, Tally, Trace, iso_second, parse_iso

T0 = 1_795_000_000  # a bucket boundary: 2026-11-18T11:06:40Z


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def written(tally: Tally, force: bool = False) -> dict[str, dict]:
    """Plan, pretend flatdb took it all, and return {"<db> <key>": value}."""
    plan = tally.plan(force)
    tally.written(plan)
    return {f"{write.db} {write.key}": json.loads(write.value) for write in plan}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 - 100)


@pytest.fixture
def tally(clock: Clock) -> Tally:
    started = Tally(clock)
    clock.now = T0 + 9.5  # buckets from T0 on are newer than the process; T0's is open
    return started


def test_keys_are_scope_and_iso_utc_seconds():
    assert iso_second(T0) == "2026-11-18T11:06:40Z"
    assert parse_iso("2026-11-18T11:06:40.500Z") == T0 + 0.5
    assert parse_iso("2026-11-18T12:06:40+01:00") == T0
    with pytest.raises(ValueError):
        parse_iso("2026-11-18T11:06:40")  # no zone: refuse to guess


def test_buckets_and_ticks_are_written_once_closed_plus_grace(tally, clock):
    clock.now = T0 + 4.2
    tally.add(["event:sotu"], T0 + 3.2, {"tax": "taxes", "wage": "wages"}, 3)
    tally.add(["event:sotu"], T0 + 3.9, {"tax": "tax"}, -2)
    tally.add(["event:sotu"], T0 + 4.1, {}, 0)
    clock.now = T0 + 4.4
    assert tally.plan() == []                      # the tick of second 3 is not due yet
    clock.now = T0 + 4.5                           # second 3 closed + 0.5 s grace
    assert written(tally) == {
        "tickdb event:sotu:2026-11-18T11:06:43Z": {"n": 2, "sentiment": 0.5}}
    clock.now = T0 + 10.99
    assert written(tally) == {
        "tickdb event:sotu:2026-11-18T11:06:44Z": {"n": 1, "sentiment": 0.0}}
    clock.now = T0 + 11.0                          # bucket closed + 1 s grace
    assert written(tally) == {
        "clouddb event:sotu:2026-11-18T11:06:40Z": {"tax": 2, "wages": 1}}  # tie: shorter
    clock.now = T0 + 30
    assert written(tally) == {}                    # nothing changed: nothing to write


def test_every_scope_counts_and_a_future_time_counts_now(tally, clock):
    clock.now = T0 + 5
    tally.add(["event:sotu", "room:bio"], T0 + 3600, {"vote": "vote"}, 1)
    clock.now = T0 + 20
    assert written(tally) == {
        "tickdb event:sotu:2026-11-18T11:06:45Z": {"n": 1, "sentiment": 1.0},
        "tickdb room:bio:2026-11-18T11:06:45Z": {"n": 1, "sentiment": 1.0},
        "clouddb event:sotu:2026-11-18T11:06:40Z": {"vote": 1},
        "clouddb room:bio:2026-11-18T11:06:40Z": {"vote": 1},
    }


def test_deletes_take_words_back_before_the_bucket_is_written(tally, clock):
    tally.add(["event:sotu"], T0 + 1, {"idiot": "idiots", "wage": "wages"}, -3, ("r", 1))
    tally.add(["event:sotu"], T0 + 2, {"wage": "wage"}, 0, ("r", 2))
    assert tally.delete(("r", 1))
    assert not tally.delete(("r", 1))               # once
    assert not tally.delete(("r", 99))              # unknown
    clock.now = T0 + 11
    values = written(tally)
    assert values["clouddb event:sotu:2026-11-18T11:06:40Z"] == {"wage": 1}
    # Ticks are not taken back: a message was posted in that second.
    assert values["tickdb event:sotu:2026-11-18T11:06:41Z"] == {"n": 1, "sentiment": -3.0}


def test_deletes_after_the_write_lower_the_bucket_and_write_it_again(tally, clock):
    tally.add(["event:sotu", "room:bio"], T0 + 1, {"idiot": "idiots", "wage": "wages"},
              0, ("r", 1))
    tally.add(["event:sotu"], T0 + 2, {"wage": "wage"}, 0, ("r", 2))
    clock.now = T0 + 11
    assert written(tally)["clouddb event:sotu:2026-11-18T11:06:40Z"] == {
        "idiots": 1, "wage": 2}
    assert tally.delete(("r", 1))
    assert written(tally) == {"clouddb event:sotu:2026-11-18T11:06:40Z": {"wage": 1},
                              "clouddb room:bio:2026-11-18T11:06:40Z": {}}


def test_a_trace_from_clouddb_lowers_a_bucket_gone_from_memory(tally, clock):
    tally.add(["event:sotu"], T0 + 1, {"idiot": "idiots", "wage": "wages"}, 0, ("r", 1))
    traces = dict(tally.traces_to_keep)
    assert traces == {("r", 1): Trace(("event:sotu",), T0, ("idiot", "wage"))}
    clock.now = T0 + 11
    written(tally)
    tally.traces_to_keep.clear()                    # the collector kept them in clouddb
    for n in range(2, 60_000):                      # so many later posts that the
        tally.add(["event:x"], T0 + 20, {"x": "x"}, 0, ("r", n))  # traces forget it
    clock.now = T0 + 200
    written(tally)
    tally.forget_old()
    assert not tally.delete(("r", 1))               # not in memory: clouddb has it
    trace = Trace.from_json(traces[("r", 1)].to_json())
    assert trace == traces[("r", 1)]
    tally.uncount(trace)
    key = "event:sotu:2026-11-18T11:06:40Z"
    assert tally.keys_needing_base() == {WORDS_DB: [key], TICKS_DB: []}
    assert tally.plan() == []                       # not before its stored value is read
    # Stored as display words; this tally's stemmer is the identity (the collector's
    # is Snowball's, which makes the stored words the stems again).
    tally.apply_base(WORDS_DB, {key: json.dumps({"idiot": 1, "wage": 3, "tax": 2})})
    assert written(tally) == {f"clouddb {key}": {"wages": 2, "tax": 2}}


@pytest.mark.parametrize("raw", [None, "", "[]", "{}", '{"scopes": "x", "start": 1, '
                                 '"stems": []}', '{"scopes": [], "start": true, "stems": []}',
                                 '{"scopes": [1], "start": 1, "stems": []}', "\x00"])
def test_a_trace_that_is_not_ours_is_none(raw):
    assert Trace.from_json(raw) is None


def test_a_late_message_rewrites_the_whole_bucket(tally, clock):
    tally.add(["event:sotu"], T0 + 1, {"tax": "taxes"}, 2)
    clock.now = T0 + 12
    written(tally)
    tally.add(["event:sotu"], T0 + 1, {"tax": "taxes", "cut": "cut"}, 4)
    assert written(tally) == {
        "clouddb event:sotu:2026-11-18T11:06:40Z": {"taxes": 2, "cut": 1},
        "tickdb event:sotu:2026-11-18T11:06:41Z": {"n": 2, "sentiment": 3.0}}


def test_a_change_during_a_write_keeps_the_bucket_dirty(tally, clock):
    tally.add(["event:sotu"], T0 + 1, {"tax": "tax"}, 0)
    clock.now = T0 + 12
    plan = tally.plan()                             # the write is under way...
    tally.add(["event:sotu"], T0 + 1, {"tax": "tax"}, 0)
    tally.written(plan)                             # ...and lands
    assert written(tally)["clouddb event:sotu:2026-11-18T11:06:40Z"] == {"tax": 2}


def test_buckets_from_before_the_start_merge_with_what_flatdb_holds(clock):
    clock.now = T0 - 80
    tally = Tally(clock, stem=lambda w: {"taxes": "tax"}.get(w, w))  # started after that second
    tally.add(["event:sotu"], T0 - 95, {"tax": "tax"}, 1)
    assert tally.plan() == []                       # not before the stored value is read
    needed = tally.keys_needing_base()
    assert needed == {WORDS_DB: ["event:sotu:2026-11-18T11:05:00Z"],
                      TICKS_DB: ["event:sotu:2026-11-18T11:05:05Z"]}
    tally.apply_base(WORDS_DB, {"event:sotu:2026-11-18T11:05:00Z":
                                json.dumps({"taxes": 3, "cut": 1})})
    tally.apply_base(TICKS_DB, {"event:sotu:2026-11-18T11:05:05Z": None})  # not stored
    assert written(tally) == {
        "clouddb event:sotu:2026-11-18T11:05:00Z": {"tax": 4, "cut": 1},
        "tickdb event:sotu:2026-11-18T11:05:05Z": {"n": 1, "sentiment": 1.0}}


def test_stored_ticks_merge_by_weighted_mean(clock):
    tally = Tally(clock)
    tally.add(["event:sotu"], clock.now - 5, {}, 4)
    tally.apply_base(TICKS_DB, {tally.keys_needing_base()[TICKS_DB][0]:
                                json.dumps({"n": 3, "sentiment": -1.0})})
    assert list(written(tally).values()) == [{"n": 4, "sentiment": 0.25}]


def test_forgotten_buckets_are_read_back_before_a_late_rewrite(tally, clock):
    tally.add(["event:sotu"], T0 + 1, {"tax": "tax"}, 0)
    clock.now = T0 + 12
    written(tally)
    clock.now = T0 + 10 + 66                       # past retention
    assert tally.forget_old() == 2
    assert tally.entries == 0
    tally.add(["event:sotu"], T0 + 2, {"tax": "tax"}, 0)
    assert [write.db for write in tally.plan()] == [TICKS_DB]  # that second is new
    assert tally.keys_needing_base()[WORDS_DB] == ["event:sotu:2026-11-18T11:06:40Z"]


def test_shutdown_writes_open_buckets(tally, clock):
    clock.now = T0 + 1.1
    tally.add(["event:sotu"], T0 + 1, {"tax": "tax"}, 0)
    assert tally.plan() == []
    assert written(tally, force=True) == {"clouddb event:sotu:2026-11-18T11:06:40Z": {"tax": 1},
                                          "tickdb event:sotu:2026-11-18T11:06:41Z": {
                                              "n": 1, "sentiment": 0.0}}
    assert tally.pending() == 0


def test_memory_is_bounded_written_buckets_go_first(clock):
    tally = Tally(clock, max_entries=10)
    clock.now = T0
    tally.add(["event:sotu"], T0 - 50, {f"old{i}": "o" for i in range(4)}, 0)
    clock.now = T0 + 1
    tally.keys_needing_base()
    for db, keys in tally.keys_needing_base().items():
        tally.apply_base(db, dict.fromkeys(keys))
    written(tally)                                   # 5 entries, all written
    tally.add(["event:sotu"], T0 + 1, {f"new{i}": "n" for i in range(4)}, 0)
    assert tally.stats.dropped_entries == 0 and tally.entries <= 10
    tally.add(["event:sotu"], T0 + 2, {f"more{i}": "m" for i in range(6)}, 0)
    # The written bucket went first; then unwritten data had to go, and is counted.
    assert tally.entries <= 10
    assert tally.stats.dropped_entries > 0 and tally.stats.dropped_buckets > 0


def test_bucket_values_keep_the_most_used_words():
    tally = Tally(Clock(T0), max_words_written=2)
    for i, count in enumerate((5, 1, 3)):
        for _ in range(count):
            tally.add(["event:x"], T0, {f"w{i}": f"w{i}"}, 0)
    bucket = next(iter(tally.words.values()))
    assert tally.words_value(bucket) == {"w0": 5, "w2": 3}


def test_seen_events_forget_by_age_and_size():
    clock = Clock(0)
    seen = SeenEvents(clock, max_age=10, max_size=3)
    assert seen.first_time("r", 1) and not seen.first_time("r", 1)
    # The same name and seq from a room created again since: a new event.
    assert seen.first_time("r", 1, "2026-11-23T11:00:00.000Z")
    assert not seen.first_time("r", 1, "2026-11-23T11:00:00.000Z")
    assert seen.first_time("other", 1)
    clock.now = 11
    assert seen.first_time("r", 2)
    assert len(seen) == 1                             # the old ones aged out
    for seq in (3, 4, 5, 6):
        seen.first_time("r", seq)
    assert len(seen) == 3 and seen.first_time("r", 3)  # the oldest went for room
