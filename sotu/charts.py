"""The collector's live charts: after each flush, what changed in each scope's word cloud
and tick line goes to the push nodes as a chart update (contract/charts.py), through the
local reflektor like tm's events; every few seconds a live chart's whole state goes too,
so a node that just started, or lost a change on the way, catches up. The nodes hold the
state and serve the browsers: nothing polls flatdb.

A scope's feed (feeds.Feed, the pure part) is read from flatdb once, when the collector
first writes to that scope (one scan of the tick history, one read of the latest word
bucket), and then kept up to date from the collector's own writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from contract import charts, signing

from .buckets import TICKS_DB, WORDS_DB, PlannedWrite
from .feeds import DEFAULT_HISTORY_SECONDS, DEFAULT_TOP, Feed, scope_prefix, scope_stop
from .flatdb_client import FlatDB, FlatDBError

log = logging.getLogger("sotu.charts")


@dataclass(frozen=True)
class ChartConfig:
    publish: str  # reflektor's intake URL; "" publishes nothing
    secret: str
    history_seconds: int = DEFAULT_HISTORY_SECONDS
    top: int = DEFAULT_TOP
    full_every: float = 5.0  # seconds between full updates of a live chart
    timeout: float = 2.0  # one POST to reflektor (it answers 202 at once)


class ChartPublisher:
    """The feeds of the scopes the collector writes, and their updates to the nodes."""

    def __init__(self, config: ChartConfig, dbs: dict[str, FlatDB],
                 session: aiohttp.ClientSession, clock: Callable[[], float]):
        self.config = config
        self.dbs = dbs
        self.session = session
        self.clock = clock
        self.feeds: dict[str, Feed] = {}
        self._changed_at: dict[str, float] = {}  # when each feed last changed
        self._full_at: dict[str, float] = {}  # when each feed's last full update went
        self.counters = {"chart_updates": 0, "chart_update_failures": 0}

    async def written(self, writes: Iterable[PlannedWrite]) -> None:
        """Tell the nodes what these flatdb writes changed, and send the full updates
        that are due."""
        if not self.config.publish:
            return
        now = self.clock()
        by_scope: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
        for write in writes:
            scope = self._scope_of(write.key)
            if scope is None:
                continue
            ticks, words = by_scope.setdefault(scope, ([], []))
            (ticks if write.db == TICKS_DB else words).append((write.key, write.value))
        for scope, (ticks, words) in by_scope.items():
            feed = await self._feed(scope, now)
            if feed is None:
                continue
            messages = [m for m in (self._words(feed, words), feed.take_ticks(ticks, now))
                        if m is not None]
            if messages:
                self._changed_at[scope] = now
                await self._post(scope, messages, full=False)
        for scope in list(self.feeds):
            await self._full_if_due(scope, now)

    @staticmethod
    def _scope_of(key: str) -> str | None:
        """`event:sotu` of `event:sotu:2026-11-23T10:00:00Z` (keys are <scope>:<second>)."""
        kind, _, rest = key.partition(":")
        name, _, second = rest.partition(":")
        return f"{kind}:{name}" if kind and name and second else None

    @staticmethod
    def _words(feed: Feed, pairs: list[tuple[str, str]]) -> dict[str, Any] | None:
        """The words message of the newest bucket written, unless the feed has a newer."""
        if not pairs:
            return None
        newest = max(pairs)
        seen = feed.words
        if seen is not None and scope_prefix(feed.scope) + seen["bucket"] > newest[0]:
            return None  # a late message rewrote an older bucket: the cloud shows the newest
        return feed.take_latest_bucket(newest)

    async def _feed(self, scope: str, now: float) -> Feed | None:
        feed = self.feeds.get(scope)
        if feed is not None:
            return feed
        feed = Feed(scope, self.config.history_seconds, self.config.top)
        try:  # what flatdb holds from before: a collector that restarted keeps its charts
            ticks, latest = await asyncio.gather(
                self.dbs[TICKS_DB].scan(start=feed.history_start(now), stop=scope_stop(scope)),
                self.dbs[WORDS_DB].scan(start=scope_prefix(scope), stop=scope_stop(scope),
                                        reverse=True, limit=1))
        except FlatDBError as error:
            log.warning("chart %s: flatdb read failed (%s); trying at the next flush",
                        scope, error)
            return None
        feed.take_ticks(ticks, now)
        feed.take_latest_bucket(latest[0] if latest else None)
        feed.loaded = True
        self.feeds[scope] = feed
        self._changed_at[scope] = now
        return feed

    async def _full_if_due(self, scope: str, now: float) -> None:
        feed = self.feeds[scope]
        if now - self._changed_at.get(scope, now) > self.config.history_seconds:
            # Nothing for a whole history: the chart is empty; forget the feed.
            del self.feeds[scope]
            self._changed_at.pop(scope, None)
            self._full_at.pop(scope, None)
            return
        if now - self._full_at.get(scope, float("-inf")) >= self.config.full_every:
            self._full_at[scope] = now
            await self._post(scope, [feed.hello(), *feed.snapshot(now)], full=True)

    def forget(self, scope: str) -> None:
        """The scope's room was deleted: no more updates of it."""
        self.feeds.pop(scope, None)
        self._changed_at.pop(scope, None)
        self._full_at.pop(scope, None)

    async def _post(self, scope: str, messages: list[dict[str, Any]], *,
                    full: bool) -> None:
        path = f"/internal/charts/{scope}"
        body = charts.update_body(scope, messages, full=full)
        headers = {"Content-Type": "application/json",
                   signing.HEADER: signing.sign(self.config.secret, "POST", path, body)}
        try:
            async with self.session.post(
                    self.config.publish.rstrip("/") + path, data=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout)) as answer:
                await answer.read()
                if answer.status >= 300:
                    raise aiohttp.ClientResponseError(answer.request_info, (),
                                                      status=answer.status)
            self.counters["chart_updates"] += 1
        except (aiohttp.ClientError, TimeoutError) as error:
            # A chart update lost is repaired by the next full update, seconds later.
            self.counters["chart_update_failures"] += 1
            log.warning("chart update for %s not sent: %r", scope, error)
