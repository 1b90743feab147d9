"""Live charts on the push node: a scope's word cloud and tick line (docs/contracts.md,
"Charts"), followed by browsers like rooms and fanned out the same way.

sotu's collector computes the charts and sends their updates through reflektor
(contract/charts.py); the node holds each chart's state, so a new viewer gets it at
once: the hello, the latest words and the ticks of the last `history_seconds`. Changes
go to every viewer as they come, encoded once. A full update (every few seconds while a
chart is live) replaces the state; it goes out to the viewers only when it differs from
what the node held (the node just started, or a change was lost on the way), since
otherwise they have all it repeats.

Pure, like the rest of the core: no I/O, injectable clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from contract import charts

from .connections import (
    CLOSE_ROOM_GONE,
    DEFAULT_MAX_QUEUE_BYTES,
    ROOM_GONE_REASON,
    Connection,
    Sink,
    fan_out,
)
from .followed import FollowTable
from .idle import IdleRooms
from .outgoing import Encoded
from .presence import DEFAULT_PRESENCE_INTERVAL

DEFAULT_HISTORY_SECONDS = 300
MAX_IDLE_CHARTS = 1000  # charts nobody follows and nothing updates, kept this many
MAX_IDLE_CHART_SECONDS = 600.0


def _iso_second(moment: float) -> str:
    """A tick's second as the collector writes it (2026-11-23T10:00:03Z): such strings
    sort as the times do, so trimming compares text and parses nothing."""
    return datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Chart:
    """One scope's chart on this node: its state and its viewers."""

    __slots__ = ("name", "connections", "hello", "words", "ticks", "primed")

    def __init__(self, name: str):
        self.name = name  # the scope, event:<name> or room:<room>
        self.connections: set[Connection] = set()
        self.hello: dict[str, Any] = {
            "type": charts.HELLO, "scope": name, "bucket_seconds": 10,
            "history_seconds": DEFAULT_HISTORY_SECONDS, "top": 10, "attribution": ""}
        self.words: dict[str, Any] | None = None
        self.ticks: dict[str, list[Any]] = {}  # ISO second -> [second, n, sentiment]
        self.primed = False  # has had a full update since the node started

    def take(self, message: dict[str, Any], now: float) -> None:
        kind = message["type"]
        if kind == charts.HELLO:
            self.hello = message
        elif kind == charts.WORDS:
            self.words = message
        else:
            for tick in message["ticks"]:
                self.ticks[tick[0]] = tick
            self.trim(now)

    def trim(self, now: float) -> None:
        """Forget ticks older than the history a viewer is shown."""
        oldest = _iso_second(now - self.hello["history_seconds"])
        for second in [s for s in self.ticks if s < oldest]:
            del self.ticks[second]

    def snapshot(self) -> Iterator[dict[str, Any]]:
        yield self.hello
        if self.words is not None:
            yield self.words
        yield {"type": charts.TICKS, "scope": self.name,
               "ticks": [self.ticks[second] for second in sorted(self.ticks)]}


def viewers_message(scope: str, count: int) -> dict[str, Any]:
    return {"type": charts.VIEWERS, "scope": scope, "count": count}


class ChartTable(FollowTable):
    """Every chart this node holds or has viewers of."""

    def __init__(self, *, max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
                 presence_interval: float = DEFAULT_PRESENCE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time):
        self.max_queue_bytes = max_queue_bytes
        self.wall_clock = wall_clock
        self._charts: dict[str, Chart] = {}
        # Viewer counts, throttled like a room's presence; this node's viewers only.
        super().__init__(self._charts, presence_interval=presence_interval,
                         share_presence=False, clock=clock, presence_message=viewers_message,
                         idle=IdleRooms(max_rooms=MAX_IDLE_CHARTS,
                                        max_seconds=MAX_IDLE_CHART_SECONDS, clock=clock))
        self.updates = 0

    def chart(self, scope: str) -> Chart | None:
        return self._charts.get(scope)

    def stats(self) -> dict[str, int]:
        return {"charts": len(self._charts),
                "chart_viewers": sum(len(c.connections) for c in self._charts.values()),
                "chart_updates": self.updates, "chart_evictions": self.evictions}

    # -- updates -----------------------------------------------------------------------
    def update(self, scope: str, messages: list[dict[str, Any]], *, full: bool) -> None:
        """A checked update (contract.charts.check_update): keep it, send it on."""
        self.updates += 1
        chart = self._chart(scope)
        now = self.wall_clock()
        if full:
            chart.trim(now)
            before = (chart.hello, chart.words, chart.ticks)
            chart.words, chart.ticks = None, {}
        for message in messages:
            chart.take(message, now)
        if full:
            if chart.primed and (chart.hello, chart.words, chart.ticks) == before:
                return  # the viewers have all of this already
            chart.primed = True
        if chart.connections:
            for message in messages:
                fan_out(chart.connections, Encoded(message), self.evict)
        else:
            self._idle(scope)

    # -- viewers -----------------------------------------------------------------------
    def connect(self, scope: str, sink: Sink) -> Connection:
        """A viewer: queued the chart's state at once, then its changes."""
        chart = self._chart(scope)
        chart.trim(self.wall_clock())
        conn = Connection(scope, sink, moderator=False, after=None,
                          max_queue_bytes=self.max_queue_bytes)
        for message in chart.snapshot():
            conn.offer(Encoded(message), bounded=False)
        self._followed(chart, conn)
        return conn

    def forget(self, scope: str) -> None:
        """The chart's room was deleted: its viewers get `gone`, the state goes."""
        chart = self._charts.pop(scope, None)
        if chart is None:
            return
        for conn in list(chart.connections):
            conn.offer(Encoded({"type": "gone", "scope": scope}), bounded=False)
            conn.sink.end(CLOSE_ROOM_GONE, ROOM_GONE_REASON)
            conn.open = False
        self.presence.forget(scope)

    def tick(self) -> None:
        for scope in self.idle.expired():
            self._forget(scope)
        self.presence.tick()

    # -- the table ---------------------------------------------------------------------
    def _chart(self, scope: str) -> Chart:
        chart = self._charts.get(scope)
        if chart is None:
            chart = self._charts[scope] = Chart(scope)
        return chart

    def _forget(self, scope: str) -> None:
        chart = self._charts.get(scope)
        if chart is not None and not chart.connections:
            del self._charts[scope]
            self.presence.forget(scope)
