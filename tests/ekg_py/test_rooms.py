"""The pure core of ekg (ekg_py/rooms.py): no sockets, a fake clock, recording sinks."""

from __future__ import annotations

import json

import pytest

from contract import events
from ekg_py import connections as conns
from ekg_py.outgoing import Encoded
from ekg_py.ring import RingBuffer
from ekg_py.rooms import Registry

from .support import make_event


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSink:
    """Writes instantly unless told to stall; records what it was sent and evictions."""

    def __init__(self, stalled: bool = False) -> None:
        self.conn: conns.Connection | None = None
        self.stalled = stalled
        self.sent: list[dict] = []
        self.evicted: tuple[int, str] | None = None
        self.ended: tuple[int, str] | None = None
        self.wakes = 0
        self.hurries = 0

    def wake(self) -> None:
        self.wakes += 1

    def hurry(self) -> None:
        self.hurries += 1

    def evict(self, code: int, reason: str) -> None:
        self.evicted = (code, reason)

    def end(self, code: int, reason: str) -> None:
        self.ended = (code, reason)

    def flush(self) -> list[dict]:
        """What a writer task does: take the queue in one batch and write it."""
        assert self.conn is not None
        if not self.stalled:
            self.sent.extend(json.loads(item.text) for item in self.conn.take())
            self.conn.done()
        return self.sent

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.flush() if "seq" in m]

    def presence(self) -> list[int]:
        return [m["count"] for m in self.flush() if m.get("type") == events.PRESENCE]


def connect(registry: Registry, room: str, *, stalled: bool = False, **kwargs) -> RecordingSink:
    sink = RecordingSink(stalled=stalled)
    sink.conn = registry.connect(room, sink, **kwargs)
    return sink


def item(room: str, seq: int) -> Encoded:
    return Encoded(make_event(room, seq))


# -- ring buffer ---------------------------------------------------------------------
def test_ring_buffer_keeps_the_last_events_in_seq_order_whatever_the_arrival():
    ring = RingBuffer(capacity=5)
    for seq in [3, 1, 2, 5, 4]:
        assert ring.add(item("r", seq))
    assert ring.seqs() == [1, 2, 3, 4, 5]
    assert ring.add(item("r", 6))
    assert ring.seqs() == [2, 3, 4, 5, 6]
    assert ring.evicted_upto == 1


def test_ring_buffer_ignores_redeliveries_including_of_evicted_seqs():
    ring = RingBuffer(capacity=3)
    for seq in range(1, 6):
        ring.add(item("r", seq))
    assert not ring.add(item("r", 5))  # still held
    assert not ring.add(item("r", 1))  # held once, evicted since
    assert ring.seqs() == [3, 4, 5]


@pytest.mark.parametrize(("held", "after", "expected"), [
    ([1, 2, 3], 0, [1, 2, 3]),
    ([1, 2, 3], 1, [2, 3]),
    ([1, 2, 3], 3, []),  # up to date
    ([1, 2, 3], 9, []),  # ahead of this node: the rest arrives live
    ([5, 6, 7], 4, [5, 6, 7]),  # lowest held is the first one asked for
    ([5, 6, 7], 3, None),  # 4 is not held (evicted, or before this node started)
    ([5, 6, 7], 0, None),
    ([1, 2, 4], 1, None),  # 3 has not arrived: a gap, cannot prove it
    ([1, 2, 4], 2, None),
    ([1, 2, 4], 4, []),
    ([], 0, None),  # no history at all (just started): even after=0 resyncs
    ([], 7, None),
])
def test_replay_only_when_the_node_holds_every_event_above_after(held, after, expected):
    ring = RingBuffer(capacity=10)
    for seq in held:
        ring.add(item("r", seq))
    replay = ring.since(after)
    assert (None if replay is None else [i.seq for i in replay]) == expected


# -- registry: events, replay, resync --------------------------------------------------
def test_each_event_is_encoded_once_and_shared_by_every_connection():
    registry = Registry()
    sinks = [connect(registry, "r") for _ in range(3)]
    registry.publish(make_event("r", 1))
    taken = [s.conn.take() for s in sinks]
    events_only = [[i for i in batch if i.seq is not None] for batch in taken]
    assert events_only[0][0] is events_only[1][0] is events_only[2][0]


def test_live_events_reach_every_connection_of_the_room_only():
    registry = Registry()
    a, b = connect(registry, "r"), connect(registry, "r")
    other = connect(registry, "elsewhere")
    for seq in (1, 2, 3):
        assert registry.publish(make_event("r", seq))
    assert a.seqs() == b.seqs() == [1, 2, 3]
    assert other.seqs() == []


def test_redelivered_and_out_of_order_events_reach_clients_once():
    registry = Registry()
    sink = connect(registry, "r")
    assert registry.publish(make_event("r", 2))
    assert registry.publish(make_event("r", 1))  # late, but new
    assert not registry.publish(make_event("r", 2))
    assert not registry.publish(make_event("r", 1))
    assert sink.seqs() == [2, 1]
    assert registry.room("r").ring.seqs() == [1, 2]


# -- reordering: events ahead of a gap wait for it to close --------------------------
def test_an_event_ahead_of_a_gap_waits_and_goes_out_in_seq_order_when_it_closes():
    registry = Registry(clock=FakeClock())
    sink = connect(registry, "r")
    for seq in (1, 2):
        registry.publish(make_event("r", seq))
    assert registry.publish(make_event("r", 4))
    assert registry.publish(make_event("r", 5))
    assert sink.seqs() == [1, 2]  # 4 and 5 wait for 3
    assert registry.room("r").ring.seqs() == [1, 2]
    assert registry.publish(make_event("r", 3))
    assert sink.seqs() == [1, 2, 3, 4, 5]
    assert registry.room("r").ring.seqs() == [1, 2, 3, 4, 5]
    assert registry.stats()["reordered"] == 2
    assert registry.stats()["gaps_given_up"] == 0


def test_when_the_gap_stays_open_past_the_window_the_waiting_events_go_out_anyway():
    clock = FakeClock()
    registry = Registry(clock=clock, reorder_window=0.1)
    sink = connect(registry, "r")
    registry.publish(make_event("r", 1))
    registry.publish(make_event("r", 4))
    registry.publish(make_event("r", 3))
    clock.advance(0.09)
    registry.tick()
    assert sink.seqs() == [1]
    clock.advance(0.02)
    registry.tick()
    assert sink.seqs() == [1, 3, 4]  # in seq order; the client fills 2 from history
    assert registry.stats()["gaps_given_up"] == 1
    assert registry.publish(make_event("r", 2))  # late (the relay): sent, the client ignores it
    assert sink.seqs() == [1, 3, 4, 2]
    assert registry.room("r").ring.seqs() == [1, 2, 3, 4]
    assert registry.publish(make_event("r", 5))  # no gap left: straight out
    assert sink.seqs() == [1, 3, 4, 2, 5]


def test_a_redelivered_early_event_is_sent_once():
    registry = Registry(clock=FakeClock())
    sink = connect(registry, "r")
    registry.publish(make_event("r", 1))
    assert registry.publish(make_event("r", 3))
    assert not registry.publish(make_event("r", 3))
    registry.publish(make_event("r", 2))
    assert not registry.publish(make_event("r", 3))
    assert sink.seqs() == [1, 2, 3]


def test_a_client_that_connects_while_an_event_waits_gets_it_once_live():
    registry = Registry(clock=FakeClock())
    for seq in (1, 2, 3, 5):
        registry.publish(make_event("r", seq))
    sink = connect(registry, "r", after=3)
    assert sink.seqs() == []  # 1..3 it has; 5 is not out yet
    registry.publish(make_event("r", 4))
    assert sink.seqs() == [4, 5]


def test_for_a_room_the_node_holds_nothing_of_its_clients_say_what_comes_next():
    registry = Registry(clock=FakeClock())
    sink = connect(registry, "r", after=0)  # a new room's page: nothing posted yet
    assert sink.flush()[0]["type"] == "resync"
    registry.publish(make_event("r", 2))  # two workers: 2 overtook 1
    assert sink.seqs() == []
    registry.publish(make_event("r", 1))
    assert sink.seqs() == [1, 2]


def test_reordering_is_off_with_a_zero_window_and_for_a_room_the_node_holds_nothing_of():
    registry = Registry(clock=FakeClock(), reorder_window=0)
    sink = connect(registry, "r")
    registry.publish(make_event("r", 1))
    registry.publish(make_event("r", 3))
    assert sink.seqs() == [1, 3]
    fresh = Registry(clock=FakeClock())
    other = connect(fresh, "r")  # live only: says nothing of where the room is
    fresh.publish(make_event("r", 7))  # no "next" seq known: out at once
    assert other.seqs() == [7]


# -- a room's name taken again by a new room ---------------------------------------
def _event_at(room: str, seq: int, ts: str, text: str = "hello") -> dict:
    event = make_event(room, seq, text=text)
    event["ts"] = ts
    return event


def test_a_new_room_of_the_same_name_starts_afresh_when_its_first_event_comes():
    registry = Registry(clock=FakeClock())
    for seq in (1, 2, 3):
        registry.publish(_event_at("bio", seq, f"2026-11-23T10:00:0{seq}.000Z", "old"))
    assert not registry.publish(_event_at("bio", 2, "2026-11-23T10:00:02.000Z", "old"))
    sink = connect(registry, "bio")
    # bio was deleted and created again: its seq 1 is later than all the node holds.
    assert registry.publish(_event_at("bio", 1, "2026-11-23T11:00:00.000Z", "new"))
    assert [m["data"]["text"] for m in sink.flush() if "seq" in m] == ["new"]
    assert registry.room("bio").ring.seqs() == [1]
    assert registry.stats()["rooms_restarted"] == 1
    late = connect(registry, "bio", after=0)
    assert [m["data"]["text"] for m in late.flush() if "seq" in m] == ["new"]


def test_a_client_of_a_new_room_never_gets_the_old_rooms_events_replayed():
    registry = Registry(clock=FakeClock())
    for seq in (1, 2, 3):
        registry.publish(_event_at("bio", seq, f"2026-11-23T10:00:0{seq}.000Z", "old"))
    # The new bio has no event yet; its ticket says when it was created.
    sink = connect(registry, "bio", after=0, incarnation="2026-11-23T11:00:00.000Z")
    assert [m for m in sink.flush() if m.get("data", {}).get("text") == "old"] == []
    assert sink.sent[0]["type"] == "resync"  # nothing held: read the history from tm
    registry.publish(_event_at("bio", 1, "2026-11-23T11:00:05.000Z", "new"))
    assert [m["data"]["text"] for m in sink.flush() if "seq" in m] == ["new"]
    # The same room's own clients keep their replay.
    again = connect(registry, "bio", after=0, incarnation="2026-11-23T11:00:00.000Z")
    assert [m["data"]["text"] for m in again.flush() if "seq" in m] == ["new"]


OLD, NEW = "2026-11-23T09:00:00.000Z", "2026-11-23T11:00:00.000Z"


def test_a_newer_incarnation_ends_the_older_ones_connections_and_refuses_its_tickets():
    registry = Registry(clock=FakeClock())
    assert registry.admit("bio", OLD) is None
    old = connect(registry, "bio", incarnation=OLD)
    assert registry.admit("bio", NEW) is None
    new = connect(registry, "bio", incarnation=NEW)
    assert old.ended == (conns.CLOSE_ROOM_GONE, conns.ROOM_GONE_REASON)
    assert old.flush()[-1] == {"type": "gone", "room": "bio"}
    assert new.ended is None and registry.local_count("bio") == 1
    assert registry.admit("bio", OLD) == "this room was deleted and its name taken again"
    assert registry.admit("bio", NEW) is None
    assert registry.admit("chem", OLD) is None  # other names are other rooms
    heard = len(old.flush())
    registry.publish(_event_at("bio", 1, "2026-11-23T11:00:05.000Z", "new"))
    assert "gone" not in [m["type"] for m in new.flush()]
    assert old.flush()[heard:] == []  # it hears nothing more
    assert registry.stats()["refused_incarnations"] == 1


def test_a_deletion_ends_the_deleted_conns_and_refuses_its_tickets():
    registry = Registry(clock=FakeClock())
    old = connect(registry, "bio", incarnation=OLD)
    registry.publish(_event_at("bio", 1, "2026-11-23T09:30:00.000Z", "old"))
    assert registry.forget_room("bio", "2026-11-23T10:00:00.000Z")
    assert old.ended == (conns.CLOSE_ROOM_GONE, conns.ROOM_GONE_REASON)
    assert old.flush()[-1] == {"type": "gone", "room": "bio"}
    assert registry.admit("bio", OLD) == "this room was deleted"
    assert registry.admit("bio", NEW) is None  # made again after the deletion
    new = connect(registry, "bio", incarnation=NEW)
    # An announcement that comes late, after the new room's first follower, spares it.
    assert not registry.forget_room("bio", "2026-11-23T10:00:00.000Z")
    assert new.ended is None
    assert registry.stats()["streams_ended"] == 1 and registry.local_count("bio") == 1


# -- deleted messages are not replayed -----------------------------------------------
def _frames_of(sink) -> list[dict]:
    return [m for m in sink.flush() if "seq" in m]


def test_a_deleted_message_is_replayed_as_a_skip_without_its_text():
    registry = Registry()
    live = connect(registry, "r")
    registry.publish(make_event("r", 1, text="the post the teacher removes"))
    registry.publish(make_event("r", 2, text="kept"))
    deletion = make_event("r", 3, event_type=events.MESSAGE_DELETED)
    deletion["data"]["id"] = 1
    registry.publish(deletion)
    # Those who were there saw it, then its deletion.
    assert [m["type"] for m in _frames_of(live)] == [
        "message.created", "message.created", "message.deleted"]
    late = connect(registry, "r", after=0)
    replay = _frames_of(late)
    assert [(m["type"], m["seq"]) for m in replay] == [
        ("skip", 1), ("message.created", 2), ("message.deleted", 3)]
    assert "the post the teacher removes" not in json.dumps(replay)


def test_a_held_then_approved_then_deleted_post_leaves_no_text_for_moderators_either():
    registry = Registry()
    held = make_event("r", 1, event_type=events.MESSAGE_PENDING, text="held words")
    approved = make_event("r", 2, text="held words")
    approved["data"]["id"] = 1
    deletion = make_event("r", 3, event_type=events.MESSAGE_DELETED)
    deletion["data"]["id"] = 1
    for event in (held, approved, deletion):
        registry.publish(event)
    moderator = connect(registry, "r", after=0, moderator=True)
    replay = _frames_of(moderator)
    assert [(m["type"], m["seq"]) for m in replay] == [
        ("skip", 1), ("skip", 2), ("message.deleted", 3)]
    assert "held words" not in json.dumps(replay)


def test_a_late_copy_of_a_deleted_post_is_held_redacted():
    registry = Registry(reorder_window=0)
    registry.publish(make_event("r", 1))
    deletion = make_event("r", 3, event_type=events.MESSAGE_DELETED)
    deletion["data"]["id"] = 2
    registry.publish(deletion)
    registry.publish(make_event("r", 2, text="too late to show"))  # after its deletion
    replay = _frames_of(connect(registry, "r", after=0))
    assert [(m["type"], m["seq"]) for m in replay] == [
        ("message.created", 1), ("skip", 2), ("message.deleted", 3)]


@pytest.mark.parametrize("order", [[1, 2, 3, 4, 5], [1, 3, 2, 5, 4], [4, 3, 2, 1, 5]],
                         ids=["in order", "pairs swapped", "backwards"])
def test_a_post_hidden_by_reports_then_approved_is_replayed_from_its_approval(order):
    """Students' reports hide a post (its deletion, then a moderators-only pending copy
    for the queue) and the teacher approves it (created again, with a later seq): a
    replay keeps what shows it after the deletion, in whatever order events arrive,
    and redacts what showed it before."""
    created = make_event("r", 1, text="reported words")
    hidden = make_event("r", 2, event_type=events.MESSAGE_DELETED)
    held = make_event("r", 3, event_type=events.MESSAGE_PENDING, text="reported words")
    approved = make_event("r", 4, text="reported words")
    other = make_event("r", 5, text="another post")
    hidden["data"]["id"] = held["data"]["id"] = approved["data"]["id"] = 1
    other["data"]["id"] = 2
    by_seq = {1: created, 2: hidden, 3: held, 4: approved, 5: other}
    registry = Registry(reorder_window=0)
    for seq in order:
        registry.publish(by_seq[seq])
    student = _frames_of(connect(registry, "r", after=0))
    assert [(m["type"], m["seq"]) for m in student] == [
        ("skip", 1), ("message.deleted", 2), ("skip", 3), ("message.created", 4),
        ("message.created", 5)]
    moderator = _frames_of(connect(registry, "r", after=0, moderator=True))
    assert [(m["type"], m["seq"]) for m in moderator] == [
        ("skip", 1), ("message.deleted", 2), ("message.pending", 3),
        ("message.created", 4), ("message.created", 5)]
    # Rejected after all: a second deletion redacts what showed it since the first.
    rejected = make_event("r", 6, event_type=events.MESSAGE_DELETED)
    rejected["data"]["id"] = 1
    registry.publish(rejected)
    moderator = _frames_of(connect(registry, "r", after=0, moderator=True))
    assert [m["type"] for m in moderator] == [
        "skip", "message.deleted", "skip", "skip", "message.created", "message.deleted"]
    assert "reported words" not in json.dumps(moderator)


def test_redaction_bookkeeping_leaves_with_the_evicted_events():
    ring = RingBuffer(capacity=2)
    ring.add(item("r", 1))
    deletion = make_event("r", 2, event_type=events.MESSAGE_DELETED)
    deletion["data"]["id"] = 1
    ring.add(Encoded(deletion))
    ring.add(item("r", 3))
    ring.add(item("r", 4))  # 1 and 2 are gone, and with them what was known of them
    assert ring.seqs() == [3, 4]
    assert ring._showing == {3: [3], 4: [4]} and ring._deleted == {}


def test_connect_with_after_replays_then_goes_live_without_a_gap():
    registry = Registry()
    for seq in range(1, 6):
        registry.publish(make_event("r", seq))
    sink = connect(registry, "r", after=2)
    registry.publish(make_event("r", 6))
    assert sink.seqs() == [3, 4, 5, 6]


def test_connect_without_after_gets_live_events_only():
    registry = Registry()
    registry.publish(make_event("r", 1))
    sink = connect(registry, "r")
    registry.publish(make_event("r", 2))
    assert sink.seqs() == [2]


@pytest.mark.parametrize("after", [0, 3])
def test_resync_when_the_node_has_no_history_for_the_room(after):
    registry = Registry()
    sink = connect(registry, "fresh", after=after)
    assert sink.flush()[0] == {"type": "resync", "room": "fresh", "after": after}


def test_resync_when_the_events_were_evicted_then_live_events_follow():
    registry = Registry(ring_size=3)
    for seq in range(1, 8):
        registry.publish(make_event("r", seq))
    sink = connect(registry, "r", after=2)
    registry.publish(make_event("r", 8))
    sent = [m for m in sink.flush() if m["type"] != events.PRESENCE]
    assert sent[0] == {"type": "resync", "room": "r", "after": 2}
    assert [m["seq"] for m in sent[1:]] == [8]


def test_live_events_the_client_already_has_are_not_sent_again():
    registry = Registry()
    registry.publish(make_event("r", 1))
    sink = connect(registry, "r", after=5)  # it saw up to 5 through another node
    for seq in range(2, 8):
        registry.publish(make_event("r", seq))
    assert sink.seqs() == [6, 7]


# -- moderators ----------------------------------------------------------------------
def test_pending_messages_reach_moderators_only_live_and_in_replay():
    # Everyone else gets a `skip` holding only the seq, so their numbering has no gap.
    registry = Registry()
    student = connect(registry, "r", after=0)
    moderator = connect(registry, "r", after=0, moderator=True)
    registry.publish(make_event("r", 1))
    registry.publish(make_event("r", 2, events.MESSAGE_PENDING))
    registry.publish(make_event("r", 3))
    assert moderator.flush()[0]["type"] == "resync"
    student_messages = [m for m in student.flush() if "seq" in m]
    assert [m["seq"] for m in student_messages] == [1, 2, 3]
    assert student_messages[1] == {"type": "skip", "room": "r", "seq": 2}
    assert moderator.seqs()[-3:] == [1, 2, 3]

    late_student = connect(registry, "r", after=0)
    late_moderator = connect(registry, "r", after=0, moderator=True)
    replayed = late_student.flush()
    assert [(m["type"], m["seq"]) for m in replayed] == [
        ("message.created", 1), ("skip", 2), ("message.created", 3)]
    assert late_moderator.seqs() == [1, 2, 3]


# -- slow connections ----------------------------------------------------------------
def test_a_slow_connection_is_evicted_and_the_room_carries_on():
    big = "x" * 1000
    registry = Registry(max_queue_bytes=5_000)
    slow = connect(registry, "r", stalled=True)
    fast = connect(registry, "r")
    for seq in range(1, 11):
        registry.publish(make_event("r", seq, text=big))
        fast.flush()
    assert slow.evicted == (conns.CLOSE_SLOW_CONSUMER, conns.SLOW_CONSUMER_REASON)
    assert registry.count("r") == 1
    assert registry.stats()["evictions"] == 1
    assert fast.seqs() == list(range(1, 11))


def test_a_queue_over_half_its_bound_asks_its_writer_to_hurry():
    registry = Registry(max_queue_bytes=2000)
    sink = connect(registry, "r", stalled=True)
    registry.publish(make_event("r", 1, text="x" * 300))  # ~750 bytes, after presence
    assert (sink.wakes, sink.hurries) == (1, 0)
    registry.publish(make_event("r", 2, text="x" * 300))  # over 1000 bytes queued
    assert (sink.wakes, sink.hurries) == (1, 1)
    assert sink.evicted is None


def test_the_bound_counts_what_the_writer_took_until_it_is_written():
    registry = Registry(max_queue_bytes=3_000)
    sink = connect(registry, "r")
    registry.publish(make_event("r", 1, text="x" * 1000))
    sink.conn.take()  # the writer is stuck writing this batch
    registry.publish(make_event("r", 2, text="x" * 1000))
    registry.publish(make_event("r", 3, text="x" * 1000))
    assert sink.evicted is not None


def test_a_replay_never_evicts_and_wakes_the_writer_once():
    registry = Registry(ring_size=50, max_queue_bytes=2_000)
    for seq in range(1, 51):
        registry.publish(make_event("r", seq))
    sink = connect(registry, "r", after=0)
    assert sink.wakes == 1
    registry.publish(make_event("r", 51))  # live events still fit on top of the replay
    assert sink.evicted is None
    assert sink.seqs() == list(range(1, 52))
    for seq in range(52, 70):  # once the replay is written, the bound is the bound again
        registry.publish(make_event("r", seq))
    assert sink.evicted is not None


def test_a_disconnected_connection_gets_nothing_more():
    registry = Registry()
    sink = connect(registry, "r")
    registry.disconnect(sink.conn)
    registry.disconnect(sink.conn)  # idempotent
    registry.publish(make_event("r", 1))
    assert sink.seqs() == []
    assert registry.count("r") == 0


# -- presence ------------------------------------------------------------------------
def test_presence_is_sent_at_once_then_throttled_with_a_trailing_final_count():
    clock = FakeClock()
    registry = Registry(presence_interval=1.0, clock=clock)
    watcher = connect(registry, "r")
    assert watcher.presence() == [1]  # leading edge

    clock.advance(0.1)
    others = [connect(registry, "r") for _ in range(3)]
    registry.disconnect(others[0].conn)
    registry.tick()
    assert watcher.presence() == [1]  # within the interval: held back

    clock.advance(0.5)
    registry.tick()
    assert watcher.presence() == [1]

    clock.advance(0.5)
    registry.tick()
    assert watcher.presence() == [1, 3]  # trailing edge: the final count
    assert others[1].presence() == [3]

    clock.advance(5)
    registry.tick()
    assert watcher.presence() == [1, 3]  # nothing changed, nothing sent


def test_presence_is_at_most_once_per_interval_under_churn():
    clock = FakeClock()
    registry = Registry(presence_interval=1.0, clock=clock)
    watcher = connect(registry, "r")
    for _ in range(50):  # five seconds of joins and leaves every 0.1 s
        clock.advance(0.1)
        registry.disconnect(connect(registry, "r").conn)
        connect(registry, "r")
        registry.tick()
    clock.advance(1.0)
    registry.tick()
    counts = watcher.presence()
    assert 5 <= len(counts) <= 7
    assert counts[-1] == registry.count("r") == 51


def test_presence_is_per_room_and_carries_no_seq():
    clock = FakeClock()
    registry = Registry(clock=clock)
    a = connect(registry, "a")
    connect(registry, "b")
    message = a.flush()[0]
    assert message == {"type": "presence", "room": "a", "count": 1}


# -- rooms ---------------------------------------------------------------------------
def test_idle_rooms_past_the_limit_are_forgotten_oldest_first():
    registry = Registry(max_idle_rooms=2)
    held = connect(registry, "busy")
    for name in ["a", "b", "c"]:
        registry.publish(make_event(name, 1))
    assert registry.room("a") is None
    assert registry.room("b") is not None and registry.room("c") is not None
    assert registry.room("busy") is not None  # rooms with connections are never dropped
    registry.disconnect(held.conn)
    assert registry.room("b") is None


def test_rooms_nobody_follows_or_posts_to_are_forgotten_after_a_while():
    clock = FakeClock()
    registry = Registry(clock=clock, max_idle_seconds=60)
    registry.publish(make_event("quiet", 1, text="words not kept for long"))
    followed = connect(registry, "followed")
    registry.publish(make_event("followed", 1))
    clock.advance(50)
    registry.publish(make_event("recent", 1))
    clock.advance(11)
    registry.tick()
    assert registry.room("quiet") is None  # 61 s without a visitor or a post
    assert registry.room("recent") is not None  # its last event was 11 s ago
    assert registry.room("followed") is not None  # someone is connected
    registry.disconnect(followed.conn)
    clock.advance(59)
    registry.tick()
    assert registry.room("followed") is not None and registry.room("recent") is None
    clock.advance(2)
    registry.tick()
    assert registry.room("followed") is None
    # A visitor later gets a resync and reads the history from tm.
    late = connect(registry, "quiet", after=0)
    assert late.flush()[0]["type"] == "resync"
