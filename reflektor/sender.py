"""Delivery: one sender task per target, all sharing one aiohttp ClientSession.

Owns the I/O half of reflektor/queue.py: `TargetSender` waits (on an asyncio.Condition,
never by polling) until its queue has an item and is not paused, sends the head to its
target, and retries it per the `RetryPolicy` until it is done, dropped or given up.
Targets never wait on each other: each has its own task and queue, and intake only
appends. `Dispatcher` fans every request out to all senders and answers for all of
them (pause, resume, drain, metrics, stop).

Delivery is at-least-once per target while the process lives: an attempt that times
out may still have reached the target, and is sent again. Receivers dedupe by
(room, seq). Nothing is written to disk: what is queued when the process dies is lost
(tm's outbox relay and the clients' catch-up by seq cover it; see README.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
from yarl import URL

from .config import Config
from .metrics import TargetStats
from .queue import Clock, Item, Request, RetryPolicy, TargetQueue, Verdict, classify

log = logging.getLogger("reflektor.sender")

# Replay the headers as received: never let the client add its own defaults (a
# Content-Type the sender did not send would change what the receiver sees).
SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
# Overflow can drop thousands of items a second: log the first and then every Nth.
OVERFLOW_LOG_EVERY = 1000


class TargetSender:
    """Delivers one target's queue in order, one request in flight at a time."""

    def __init__(
        self,
        target: str,
        queue: TargetQueue,
        policy: RetryPolicy,
        session: aiohttp.ClientSession,
        attempt_timeout: float,
    ) -> None:
        self.target = target.rstrip("/")
        self.queue = queue
        self.policy = policy
        self.stats = TargetStats()
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=attempt_timeout)
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    # -- control, called from intake and admin -----------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reflektor sender {self.target}")

    async def enqueue(self, request: Request) -> None:
        dropped = self.queue.push(request)
        if dropped:
            before = self.stats.dropped["overflow"]
            self.stats.record_dropped("overflow", len(dropped))
            total = self.stats.dropped["overflow"]
            if before == 0 or total // OVERFLOW_LOG_EVERY > before // OVERFLOW_LOG_EVERY:
                log.warning("%s: queue full, dropped the oldest (%d so far)", self.target, total)
        await self._notify()

    async def set_paused(self, paused: bool) -> None:
        self.queue.paused = paused
        await self._notify()

    async def wait_drained(self, mark: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.queue.drained(mark))

    async def stop(self) -> int:
        """Cancel delivery; returns how many items were still owed (counted as dropped)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        lost = len(self.queue.clear())
        if lost:
            self.stats.record_dropped("shutdown", lost)
        return lost

    def snapshot(self) -> dict[str, Any]:
        oldest = self.queue.oldest_enqueued_at()
        return {
            "depth": self.queue.depth,
            "bytes": self.queue.bytes,
            "in_flight": self.queue.in_flight is not None,
            "paused": self.queue.paused,
            "oldest_age_s": None if oldest is None else round(self.policy.clock() - oldest, 3),
            **self.stats.snapshot(),
        }

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- the delivery loop -------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(self.queue.ready)
                item = self.queue.take()
            try:
                await self._deliver(item)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not kill the target's loop and stall its queue
                log.exception("%s: unexpected error delivering item %d", self.target, item.id)
                self.stats.record_dropped("error")
            async with self._changed:
                self.queue.finish(item)
                self._changed.notify_all()

    async def _deliver(self, item: Item) -> None:
        while True:
            if self.queue.paused:
                async with self._changed:
                    await self._changed.wait_for(lambda: not self.queue.paused)
            if self.policy.expired(item):
                self._give_up(item)
                return
            item.attempts += 1
            status, error = await self._attempt(item.request)
            self.stats.record_attempt(status, error)
            verdict = classify(status)
            if verdict is Verdict.DONE:
                self.stats.record_sent(self.policy.age(item))
                return
            if verdict is Verdict.DROP:
                self.stats.record_dropped("rejected")
                log.warning("%s: dropped %s %s: answered %s", self.target,
                            item.request.method, item.request.path, status)
                return
            delay = self.policy.delay(item.attempts)
            if self.policy.expired(item, extra=delay):
                self._give_up(item)
                return
            self.stats.record_retry()
            await asyncio.sleep(delay)

    def _give_up(self, item: Item) -> None:
        self.stats.record_dropped("expired")
        log.warning("%s: gave up on %s %s after %d attempts and %.1f s (last error: %s)",
                    self.target, item.request.method, item.request.path, item.attempts,
                    self.policy.age(item), self.stats.last_error)

    async def _attempt(self, request: Request) -> tuple[int | None, str | None]:
        """One try: (status, None) for any answer, (None, reason) when there was none."""
        url = URL(self.target + request.path, encoded=True)
        try:
            async with self._session.request(
                request.method, url, headers=list(request.headers),
                data=request.body or None, timeout=self._timeout,
                allow_redirects=False, skip_auto_headers=SKIP_AUTO_HEADERS,
            ) as response:
                await response.read()  # read to the end so the connection is reused
                return response.status, None
        except TimeoutError:
            return None, "timeout"
        except aiohttp.ClientError as error:
            return None, f"{type(error).__name__}: {error}"


class Dispatcher:
    """Every target's queue and sender, and the one ClientSession they share."""

    def __init__(
        self, config: Config, clock: Clock = time.monotonic, rng: random.Random | None = None
    ) -> None:
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.accepting = True
        self.received = 0
        self.started_at = clock()
        self._session: aiohttp.ClientSession | None = None
        self.senders: dict[str, TargetSender] = {}

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            # Never store a target's cookies and send them on: headers pass through as-is.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # An idle connection is dropped here after 2 s, before a target closes it
            # (ekg closes idle ones after 5 s): a send never races the target's close.
            connector=aiohttp.TCPConnector(keepalive_timeout=2.0),
        )
        for target in self.config.targets:
            queue = TargetQueue(self.config.queue_cap, self.config.queue_bytes, self.clock)
            policy = RetryPolicy(
                base_delay=self.config.retry_base, max_delay=self.config.retry_max,
                give_up_after=self.config.give_up_after, clock=self.clock, rng=self.rng,
            )
            sender = TargetSender(target, queue, policy, self._session,
                                  self.config.attempt_timeout)
            self.senders[target] = sender
            sender.start()

    async def enqueue(self, request: Request) -> None:
        self.received += 1
        for sender in self.senders.values():
            await sender.enqueue(request)

    def select(self, target: str | None) -> list[TargetSender]:
        """All senders, or the one for `target` (KeyError when it is not configured)."""
        if target is None:
            return list(self.senders.values())
        return [self.senders[target.rstrip("/")]]

    async def pause(self, senders: Iterable[TargetSender]) -> None:
        for sender in senders:
            await sender.set_paused(True)

    async def resume(self, senders: Iterable[TargetSender]) -> None:
        for sender in senders:
            await sender.set_paused(False)

    async def drain(self, timeout: float) -> bool:
        """Deliver everything queued before this call; True when done within `timeout`.

        A drain resumes paused targets first: it is a request to empty the queues, and
        a paused queue would never empty. Requests that arrive meanwhile are queued as
        usual but not waited for, so a drain ends even under steady traffic.
        """
        await self.resume(self.senders.values())
        marks = {sender: sender.queue.mark() for sender in self.senders.values()}
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(s.wait_drained(mark) for s, mark in marks.items()))
        except TimeoutError:
            return False
        return True

    async def stop(self) -> int:
        """Stop every sender and close the session; returns the items still owed."""
        lost = 0
        for sender in self.senders.values():
            lost += await sender.stop()
        if self._session is not None:
            await self._session.close()
        return lost

    def snapshot(self) -> dict[str, Any]:
        return {
            "accepting": self.accepting,
            "uptime_s": round(self.clock() - self.started_at, 3),
            "received": self.received,
            "depth": sum(sender.queue.depth for sender in self.senders.values()),
            "targets": {target: sender.snapshot() for target, sender in self.senders.items()},
        }
