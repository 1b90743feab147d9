"""The pure core: FIFO order, caps and overflow, answers, retry schedule, pause and drain."""

from __future__ import annotations

import random

import pytest

from reflektor.queue import (
    ITEM_OVERHEAD_BYTES,
    Request,
    RetryPolicy,
    TargetQueue,
    Verdict,
    classify,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class EdgeRandom(random.Random):
    """uniform() always returns one end of its range: the jitter's bounds, exactly."""

    def __init__(self, end: str) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "low" else b


def request(n: int, body_size: int = 0) -> Request:
    return Request("POST", f"/internal/rooms/r/events?n={n}", (("X-N", str(n)),),
                   b"x" * body_size)


def drain_all(queue: TargetQueue) -> list[str]:
    paths = []
    while queue.ready():
        item = queue.take()
        paths.append(item.request.path)
        queue.finish(item)
    return paths


# -- FIFO ------------------------------------------------------------------------------
def test_items_leave_in_the_order_they_came():
    queue = TargetQueue()
    for n in range(5):
        assert queue.push(request(n)) == []
    assert drain_all(queue) == [request(n).path for n in range(5)]
    assert len(queue) == 0 and queue.depth == 0 and queue.bytes == 0


def test_the_head_stays_in_flight_until_finished():
    queue = TargetQueue()
    queue.push(request(0))
    queue.push(request(1))
    head = queue.take()
    assert queue.in_flight is head
    assert not queue.ready()  # one at a time: nothing overtakes a head being retried
    assert queue.depth == 2 and len(queue) == 1
    with pytest.raises(RuntimeError):
        queue.take()
    queue.finish(head)
    assert queue.ready() and queue.take().request.path == request(1).path


def test_finishing_an_item_that_is_not_in_flight_is_a_bug():
    queue = TargetQueue()
    queue.push(request(0))
    item = queue.take()
    queue.finish(item)
    with pytest.raises(RuntimeError):
        queue.finish(item)


def test_items_take_rising_ids_and_their_enqueue_time():
    clock = FakeClock()
    queue = TargetQueue(clock=clock)
    queue.push(request(0))
    clock.now += 5
    queue.push(request(1))
    first = queue.take()
    assert (first.id, first.enqueued_at) == (0, 1000.0)
    queue.finish(first)
    assert (queue.take().id, queue.oldest_enqueued_at()) == (1, 1005.0)


# -- caps and overflow -----------------------------------------------------------------
def test_a_full_queue_drops_its_oldest_waiting_items():
    queue = TargetQueue(max_items=3)
    dropped = [item.request.path for n in range(5) for item in queue.push(request(n))]
    assert dropped == [request(0).path, request(1).path]
    assert drain_all(queue) == [request(n).path for n in (2, 3, 4)]


def test_the_item_in_flight_is_never_dropped_by_overflow():
    queue = TargetQueue(max_items=2)
    queue.push(request(0))
    head = queue.take()
    for n in range(1, 5):
        queue.push(request(n))
    assert queue.in_flight is head
    assert queue.depth == 3  # the head plus max_items waiting
    queue.finish(head)
    assert drain_all(queue) == [request(3).path, request(4).path]


def test_the_byte_cap_drops_the_oldest_too():
    size = request(0, body_size=100).size
    assert size >= 100 + ITEM_OVERHEAD_BYTES
    queue = TargetQueue(max_items=100, max_bytes=size * 3)
    for n in range(5):
        queue.push(request(n, body_size=100))
    assert len(queue) == 3 and queue.bytes == 3 * size
    assert drain_all(queue) == [request(n, 100).path for n in (2, 3, 4)]


def test_one_request_bigger_than_the_byte_cap_still_goes_alone():
    queue = TargetQueue(max_bytes=10)
    queue.push(request(0))
    dropped = queue.push(request(1, body_size=50))
    assert [item.request.path for item in dropped] == [request(0).path]
    assert drain_all(queue) == [request(1, 50).path]


def test_caps_must_be_positive():
    with pytest.raises(ValueError):
        TargetQueue(max_items=0)
    with pytest.raises(ValueError):
        TargetQueue(max_bytes=0)


def test_clear_returns_everything_owed():
    queue = TargetQueue()
    for n in range(3):
        queue.push(request(n))
    queue.take()
    assert [item.id for item in queue.clear()] == [0, 1, 2]
    assert queue.depth == 0 and queue.bytes == 0 and queue.in_flight is None


# -- pause and drain -------------------------------------------------------------------
def test_a_paused_queue_keeps_taking_items_but_gives_none_out():
    queue = TargetQueue()
    queue.paused = True
    queue.push(request(0))
    assert not queue.ready() and queue.depth == 1
    queue.paused = False
    assert queue.ready()


def test_a_drain_mark_waits_only_for_what_came_before_it():
    queue = TargetQueue()
    queue.push(request(0))
    queue.push(request(1))
    mark = queue.mark()
    queue.push(request(2))  # arrives after the drain started: not waited for
    assert not queue.drained(mark)
    first = queue.take()
    assert not queue.drained(mark)  # in flight still counts as owed
    queue.finish(first)
    second = queue.take()
    queue.finish(second)
    assert queue.drained(mark) and queue.depth == 1


def test_items_dropped_by_overflow_count_as_drained():
    queue = TargetQueue(max_items=2)
    queue.push(request(0))
    queue.push(request(1))
    mark = queue.mark()
    queue.push(request(2))
    queue.push(request(3))  # pushes out 0 and 1
    assert queue.drained(mark)


def test_an_empty_queue_is_drained():
    queue = TargetQueue()
    assert queue.drained(queue.mark())


# -- answers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DONE), (202, Verdict.DONE), (204, Verdict.DONE), (404, Verdict.DONE),
        (500, Verdict.RETRY), (502, Verdict.RETRY), (503, Verdict.RETRY),
        (None, Verdict.RETRY), (408, Verdict.RETRY), (429, Verdict.RETRY),
        (400, Verdict.DROP), (401, Verdict.DROP), (403, Verdict.DROP), (410, Verdict.DROP),
        (413, Verdict.DROP), (301, Verdict.DROP),
    ],
)
def test_classify(status, verdict):
    assert classify(status) is verdict


# -- retry schedule --------------------------------------------------------------------
def test_back_off_doubles_up_to_its_ceiling_with_jitter_in_the_upper_half():
    low = RetryPolicy(base_delay=0.1, max_delay=1.0, rng=EdgeRandom("low"))
    high = RetryPolicy(base_delay=0.1, max_delay=1.0, rng=EdgeRandom("high"))
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    for attempts, ceiling in enumerate(ceilings, start=1):
        assert low.delay(attempts) == pytest.approx(ceiling / 2)
        assert high.delay(attempts) == pytest.approx(ceiling)


def test_back_off_with_a_real_random_source_stays_within_bounds():
    policy = RetryPolicy(base_delay=0.05, max_delay=2.0, rng=random.Random(42))
    delays = [policy.delay(attempts) for attempts in range(1, 12) for _ in range(50)]
    assert all(0.025 <= delay <= 2.0 for delay in delays)
    assert len(set(delays)) > 100  # jittered, not lock-step


def test_back_off_survives_absurd_attempt_counts():
    policy = RetryPolicy(max_delay=2.0, rng=EdgeRandom("high"))
    assert policy.delay(10_000) == 2.0


def test_an_item_is_given_up_once_older_than_the_limit():
    clock = FakeClock()
    queue = TargetQueue(clock=clock)
    policy = RetryPolicy(give_up_after=60, clock=clock)
    queue.push(request(0))
    item = queue.take()
    clock.now += 59
    assert not policy.expired(item)
    assert policy.expired(item, extra=2)  # the next wait would carry it past the limit
    clock.now += 2
    assert policy.expired(item)
    assert policy.age(item) == 61
