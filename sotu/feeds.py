"""What a scope's chart viewers are told, and when: the pure core of sotu/charts.py.

A `Feed` holds, for one scope, the ticks of the last `history_seconds` and the latest
word bucket as read from flatdb, and turns each new reading into the messages that
changed (contract/charts.py has the messages). No I/O and no clock of its own:
charts.py reads flatdb once per scope, feeds it the collector's own writes after that,
and passes the time in.

Messages (JSON objects, one per WebSocket text frame or SSE event):

    {"type": "hello", "scope", "bucket_seconds", "history_seconds", "top", "attribution"}
    {"type": "viewers", "scope", "count"}
    {"type": "words", "scope", "bucket": "<ISO start>", "top": [[word, count], ...]}
    {"type": "ticks", "scope", "ticks": [["<ISO second>", n, sentiment], ...]}
    {"type": "reconnect", "delay_ms"}

`ticks` on connect carries the history, later only new or changed ticks (a late
message can change a tick the collector already wrote): clients replace by second.
"""

from __future__ import annotations

import json
from typing import Any

from .buckets import BUCKET_SECONDS, iso_second
from .sentiment import ATTRIBUTION
from .stored import json_object

DEFAULT_TOP = 10
DEFAULT_HISTORY_SECONDS = 300


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def scope_prefix(scope: str) -> str:
    return scope + ":"


def scope_stop(scope: str) -> str:
    """The first key after every `<scope>:...` key (';' sorts right after ':')."""
    return scope + ";"


def top_words(value: dict[str, Any], top: int) -> list[list[Any]]:
    """The `top` most used words, ties alphabetical, as [[word, count], ...]."""
    counts = [(word, count) for word, count in value.items()
              if isinstance(word, str) and isinstance(count, int) and count > 0]
    counts.sort(key=lambda item: (-item[1], item[0]))
    return [[word, count] for word, count in counts[:top]]


def _tick_entry(value: str) -> tuple[int, float] | None:
    try:
        decoded = json.loads(value)
        n, sentiment = decoded["n"], decoded["sentiment"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(n, int) or not isinstance(sentiment, int | float):
        return None
    return n, float(sentiment)


class Feed:
    """The state of one scope's chart in the collector."""

    def __init__(self, scope: str, history_seconds: int = DEFAULT_HISTORY_SECONDS,
                 top: int = DEFAULT_TOP):
        self.scope = scope
        self.history_seconds = history_seconds
        self.top = top
        self.loaded = False      # the history is read; until then viewers wait
        self.ticks: dict[str, tuple[int, float]] = {}   # ISO second -> (n, sentiment)
        self.words: dict[str, Any] | None = None       # the last words message
        self._words_seen: tuple[str, str] | None = None  # (key, raw value) read last
        self.viewers_sent: int | None = None

    # -- reading flatdb ---------------------------------------------------------------
    def history_start(self, now: float) -> str:
        return scope_prefix(self.scope) + iso_second(int(now) - self.history_seconds)

    def lookback_start(self, now: float, lookback: int) -> str:
        return scope_prefix(self.scope) + iso_second(int(now) - lookback)

    def take_ticks(self, pairs: list[tuple[str, str]], now: float) -> dict[str, Any] | None:
        """Ticks read from tickdb; the ticks message of those new or changed, if any."""
        prefix = scope_prefix(self.scope)
        oldest = iso_second(int(now) - self.history_seconds)
        changed = []
        for key, value in pairs:
            if not key.startswith(prefix):
                continue
            second = key[len(prefix):]
            if second < oldest:
                continue
            entry = _tick_entry(value)
            if entry is None or self.ticks.get(second) == entry:
                continue
            self.ticks[second] = entry
            changed.append([second, entry[0], entry[1]])
        self._forget_before(now)
        if not changed:
            return None
        changed.sort()
        return {"type": "ticks", "scope": self.scope, "ticks": changed}

    def take_latest_bucket(self, pair: tuple[str, str] | None) -> dict[str, Any] | None:
        """The newest clouddb bucket; the words message when it is new or changed."""
        if pair is None or pair == self._words_seen:
            return None
        self._words_seen = pair
        key, raw = pair
        value = json_object(raw)
        if value is None:
            return None
        message = {"type": "words", "scope": self.scope,
                   "bucket": key[len(scope_prefix(self.scope)):],
                   "top": top_words(value, self.top)}
        if message == self.words:
            return None
        self.words = message
        return message

    def _forget_before(self, now: float) -> None:
        oldest = iso_second(int(now) - self.history_seconds)
        for second in [s for s in self.ticks if s < oldest]:
            del self.ticks[second]

    # -- messages ---------------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        return {"type": "hello", "scope": self.scope, "bucket_seconds": BUCKET_SECONDS,
                "history_seconds": self.history_seconds, "top": self.top,
                "attribution": ATTRIBUTION}

    def viewers(self, count: int) -> dict[str, Any]:
        return {"type": "viewers", "scope": self.scope, "count": count}

    def viewers_changed(self, count: int) -> dict[str, Any] | None:
        """The viewers message when the count differs from the one last broadcast."""
        if count == self.viewers_sent:
            return None
        self.viewers_sent = count
        return self.viewers(count)

    def snapshot(self, now: float | None = None) -> list[dict[str, Any]]:
        """What a viewer gets once the feed is loaded: the latest words, all ticks."""
        if now is not None:
            self._forget_before(now)
        messages = []
        if self.words is not None:
            messages.append(self.words)
        ticks = [[second, n, sentiment] for second, (n, sentiment) in sorted(self.ticks.items())]
        messages.append({"type": "ticks", "scope": self.scope, "ticks": ticks})
        return messages
