"""Counting and flush planning: word buckets (10 s) and ticks (1 s) per scope.

Pure Python with an injectable clock; the collector adds messages and carries out the
flush plans this module makes. README.md ("Counting and flushing") has the rules; in
short:

- A message counts at its event's `ts` (tm's commit time), not at arrival, so a
  retried delivery lands in the second it was posted. A `ts` in the future (clock
  skew) counts now.
- clouddb `<scope>:<bucket start>` holds `{word: messages using it}` of a 10-second
  bucket; tickdb `<scope>:<second>` holds `{"n": messages, "sentiment": mean AFINN}`.
  Times are ISO 8601 UTC to the second with a Z, so keys sort by time.
- A bucket is written once it has closed plus a short grace (late deliveries), and
  again whenever a late message changes it: each write is the bucket's whole value,
  so writes are idempotent. Buckets stay in memory `retention` seconds after they
  close to take late messages; then they are forgotten.
- Values are merged, never blindly overwritten, when flatdb may already hold the key
  (written by an earlier run, or by this one before the bucket was forgotten): such
  a bucket reads the stored value first (`keys_needing_base`, `apply_base`).
- message.deleted takes a message's words back out of its word buckets, written or
  not (a student's erasure reaches the counts: issue 11). Each counted message leaves
  a `Trace` (its scopes, its bucket, its stems); the collector keeps traces in
  clouddb for the room's life, so a deletion that comes after the bucket has left
  memory still finds what to take out: the bucket is made again with the stems at -1,
  reads its stored value (`need_base`) and is written back whole.
  Ticks are never decremented: a message was posted in that second.
- Memory is bounded: at most `max_words_per_bucket` distinct words per bucket and
  `max_entries` words and ticks held in all; past that the oldest buckets are
  forgotten (written ones first, then unwritten ones, which is data lost, counted
  in `dropped_entries`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .text import DisplayForms

BUCKET_SECONDS = 10
WORDS_DB = "clouddb"
TICKS_DB = "tickdb"


def iso_second(second: int) -> str:
    """ISO 8601 UTC to the second: 2026-11-23T10:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def parse_iso(text: str) -> float:
    """Unix seconds of an ISO 8601 time ('Z' or an offset); ValueError if malformed."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("time without a zone")
    return moment.timestamp()


def flat_key(scope: str, second: int) -> str:
    return f"{scope}:{iso_second(second)}"


@dataclass(eq=False)
class _Bucket:
    db: str
    scope: str
    start: int
    length: int
    need_base: bool
    version: int = 0
    written_version: int = 0
    writes: int = 0

    @property
    def key(self) -> str:
        return flat_key(self.scope, self.start)

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def dirty(self) -> bool:
        return self.version != self.written_version


@dataclass(eq=False)
class WordBucket(_Bucket):
    counts: dict[str, int] = field(default_factory=dict)
    # First surface seen per stem here: the label when DisplayForms is full.
    surfaces: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class Tick(_Bucket):
    n: int = 0
    total: float = 0.0


@dataclass(frozen=True)
class Trace:
    """What one message added to the word counts, to take it out again: the scopes it
    counted in, the start of its 10-second bucket, and its stems."""
    scopes: tuple[str, ...]
    start: int
    stems: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"scopes": self.scopes, "start": self.start, "stems": self.stems},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | None) -> Trace | None:
        """The trace kept in clouddb; None for anything else (not ours to understand)."""
        try:
            value = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        scopes, start, stems = value.get("scopes"), value.get("start"), value.get("stems")
        if (not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)
                or isinstance(start, bool) or not isinstance(start, int)
                or not isinstance(stems, list) or not all(isinstance(s, str) for s in stems)):
            return None
        return cls(tuple(scopes), start, tuple(stems))


@dataclass
class PlannedWrite:
    db: str
    key: str
    value: str
    bucket: _Bucket
    version: int


@dataclass
class Stats:
    messages: int = 0
    deletes_applied: int = 0
    words_over_cap: int = 0
    traces_dropped: int = 0
    dropped_entries: int = 0
    dropped_buckets: int = 0
    writes: int = 0


class Tally:
    """Every scope's word buckets and ticks held in memory, and what to write when."""

    def __init__(self, clock: Callable[[], float] = time.time, *,
                 display: DisplayForms | None = None, stem: Callable[[str], str] | None = None,
                 retention: float = 65.0, word_grace: float = 1.0, tick_grace: float = 0.5,
                 max_entries: int = 1_000_000, max_words_per_bucket: int = 50_000,
                 max_words_written: int = 2_000, max_recent: int = 50_000):
        self.clock = clock
        self.display = display if display is not None else DisplayForms()
        # Stems the words of a stored value, to merge it with ours (see apply_base).
        self.stem = stem or (lambda word: word)
        self.retention = retention
        self.word_grace = word_grace
        self.tick_grace = tick_grace
        self.max_entries = max_entries
        self.max_words_per_bucket = max_words_per_bucket
        self.max_words_written = max_words_written
        # Traces of recent messages, for message.deleted, oldest first; older ones are
        # read back from clouddb by the collector (`traces_to_keep` are written there).
        self.max_recent = max_recent
        self.words: dict[tuple[str, int], WordBucket] = {}
        self.ticks: dict[tuple[str, int], Tick] = {}
        self.entries = 0  # distinct words in all word buckets + ticks, for the cap
        # Buckets starting at or before this may already be in flatdb: an earlier run
        # wrote them (it stopped before we started), or we did and forgot them.
        self.watermark = clock()
        self._recent: dict[object, Trace] = {}
        # Traces not yet in clouddb (sotu/erasure.py writes them), oldest first; while
        # clouddb is down at most `max_traces_waiting`, then the oldest are lost.
        self.traces_to_keep: dict[object, Trace] = {}
        self.max_traces_waiting = 4 * max_recent
        self.stats = Stats()

    # -- counting --------------------------------------------------------------------
    def _word_bucket(self, scope: str, start: int) -> WordBucket:
        bucket = self.words.get((scope, start))
        if bucket is None:
            bucket = WordBucket(WORDS_DB, scope, start, BUCKET_SECONDS,
                                need_base=start <= self.watermark)
            self.words[(scope, start)] = bucket
        return bucket

    def _tick(self, scope: str, second: int) -> Tick:
        tick = self.ticks.get((scope, second))
        if tick is None:
            tick = Tick(TICKS_DB, scope, second, 1, need_base=second <= self.watermark)
            self.ticks[(scope, second)] = tick
            self.entries += 1
        return tick

    def add(self, scopes: Iterable[str], at: float, words: dict[str, str],
            sentiment: float, message_key: object = None) -> None:
        """Count one message for `scopes` at unix time `at` ({stem: surface} words)."""
        now = self.clock()
        if at > now:
            at = now  # a sender's clock ahead of ours: count it now, not in the future
        second = int(at)
        start = second - second % BUCKET_SECONDS
        display_add = self.display.add
        for stem, surface in words.items():
            display_add(stem, surface)
        counted: list[str] = []
        for scope in scopes:
            tick = self._tick(scope, second)
            tick.n += 1
            tick.total += sentiment
            tick.version += 1
            if not words:
                continue
            bucket = self._word_bucket(scope, start)
            counts = bucket.counts
            for stem, surface in words.items():
                count = counts.get(stem)
                if count is None:
                    if len(counts) >= self.max_words_per_bucket:
                        self.stats.words_over_cap += 1
                        continue
                    counts[stem] = 1
                    bucket.surfaces[stem] = surface
                    self.entries += 1
                else:
                    counts[stem] = count + 1
            bucket.version += 1
            counted.append(scope)
        if counted and message_key is not None:
            trace = Trace(tuple(counted), start, tuple(words))
            recent = self._recent
            recent[message_key] = trace
            waiting = self.traces_to_keep
            waiting.pop(message_key, None)  # counted again: the newest trace goes last
            waiting[message_key] = trace
            if len(recent) > self.max_recent:
                del recent[next(iter(recent))]  # the oldest: clouddb has its trace
            if len(waiting) > self.max_traces_waiting:
                del waiting[next(iter(waiting))]
                self.stats.traces_dropped += 1
        self.stats.messages += 1
        if self.entries > self.max_entries:
            self._shed()

    def drop_scope(self, scope: str, before: float) -> int:
        """Forget every bucket and tick of `scope` from before `before` (Unix seconds)
        held in memory, written or not (the room was deleted: none of it may be written
        again). Returns how many."""
        words = [key for key in self.words if key[0] == scope and key[1] < before]
        ticks = [key for key in self.ticks if key[0] == scope and key[1] < before]
        for key in words:
            del self.words[key]
        for key in ticks:
            del self.ticks[key]
        return len(words) + len(ticks)

    def delete(self, message_key: object) -> bool:
        """Take a recent message's words back out (its trace is still in memory);
        False when it is not (the collector then looks for its trace in clouddb)."""
        trace = self._recent.pop(message_key, None)
        waiting = self.traces_to_keep.pop(message_key, None)
        trace = trace or waiting
        if trace is None:
            return False
        self.uncount(trace)
        return True

    def recent_trace(self, message_key: object) -> Trace | None:
        return self._recent.get(message_key)

    def take_traces_to_keep(self) -> dict[object, Trace]:
        taken, self.traces_to_keep = self.traces_to_keep, {}
        return taken

    def return_traces_to_keep(self, traces: dict[object, Trace]) -> None:
        """Traces whose write failed: kept for the next try, before newer ones."""
        self.traces_to_keep = {**traces, **self.traces_to_keep}

    def forget_traces(self, which: Callable[[object], bool]) -> None:
        """Drop the traces of these message keys (their room was deleted)."""
        for table in (self._recent, self.traces_to_keep):
            for key in [key for key in table if which(key)]:
                del table[key]

    def uncount(self, trace: Trace) -> None:
        """Take a message's words out of its word buckets. A bucket still in memory
        holds its whole value (stored counts merged), so it is lowered and written
        again; one that has left memory is made again with the stems at -1, merged
        with its stored value before it is written (need_base)."""
        for scope in trace.scopes:
            bucket = self._word_bucket(scope, trace.start)
            counts = bucket.counts
            for stem in trace.stems:
                count = counts.get(stem)
                if count is None:
                    if not bucket.need_base:
                        continue  # never counted here (over the bucket's word cap)
                    counts[stem] = -1
                    self.entries += 1
                elif count <= 1 and not bucket.need_base:
                    del counts[stem]
                    bucket.surfaces.pop(stem, None)
                    self.entries -= 1
                else:
                    counts[stem] = count - 1
            bucket.version += 1
        self.stats.deletes_applied += 1

    # -- values ----------------------------------------------------------------------
    def words_value(self, bucket: WordBucket) -> dict[str, int]:
        """{display word: count}, the `max_words_written` most used words."""
        items: Iterable[tuple[str, int]] = bucket.counts.items()
        if len(bucket.counts) > self.max_words_written:
            items = sorted(items, key=lambda item: -item[1])[:self.max_words_written]
        value: dict[str, int] = {}
        get_display = self.display.get
        for stem, count in items:
            if count <= 0:
                continue  # taken out (uncount): a stored count it undid, or none at all
            word = get_display(stem) or bucket.surfaces.get(stem) or stem
            value[word] = value.get(word, 0) + count
        return value

    @staticmethod
    def tick_value(tick: Tick) -> dict[str, float]:
        return {"n": tick.n, "sentiment": round(tick.total / tick.n, 3) if tick.n else 0.0}

    # -- flushing --------------------------------------------------------------------
    def _due(self, now: float, force: bool) -> Iterable[_Bucket]:
        word_cutoff = now - BUCKET_SECONDS - self.word_grace
        tick_cutoff = now - 1 - self.tick_grace
        for bucket in list(self.words.values()):
            if bucket.dirty and (force or bucket.start <= word_cutoff):
                yield bucket
        for tick in list(self.ticks.values()):
            if tick.dirty and (force or tick.start <= tick_cutoff):
                yield tick

    def keys_needing_base(self, force: bool = False) -> dict[str, list[str]]:
        """Keys to read from each db before their buckets can be written."""
        keys: dict[str, list[str]] = {WORDS_DB: [], TICKS_DB: []}
        for bucket in self._due(self.clock(), force):
            if bucket.need_base:
                keys[bucket.db].append(bucket.key)
        return keys

    def apply_base(self, db: str, values: dict[str, str | None]) -> None:
        """Merge stored values (None: not stored) into the buckets of those keys."""
        table: dict[tuple[str, int], Any] = self.words if db == WORDS_DB else self.ticks
        by_key = {bucket.key: bucket for bucket in table.values() if bucket.need_base}
        for key, raw in values.items():
            bucket = by_key.get(key)
            if bucket is None:
                continue
            bucket.need_base = False
            if raw is None:
                continue
            try:
                stored = json.loads(raw)
            except ValueError:
                continue  # not ours to understand; ours replaces it
            if isinstance(bucket, WordBucket):
                self._merge_words(bucket, stored)
            elif isinstance(stored, dict):
                n = stored.get("n")
                mean = stored.get("sentiment")
                if isinstance(n, int) and n > 0 and isinstance(mean, int | float):
                    bucket.n += n
                    bucket.total += n * mean
            bucket.version += 1

    def _merge_words(self, bucket: WordBucket, stored: object) -> None:
        if not isinstance(stored, dict):
            return
        for word, count in stored.items():
            if not isinstance(word, str) or not isinstance(count, int) or count <= 0:
                continue
            stem = self.stem(word)
            if stem not in bucket.counts:
                bucket.counts[stem] = 0
                self.entries += 1
            # Also for a stem an uncount put here first: the stored word is its label.
            bucket.surfaces.setdefault(stem, word)
            bucket.counts[stem] += count

    def plan(self, force: bool = False) -> list[PlannedWrite]:
        """Writes for every due, dirty bucket whose stored value, if any, is merged."""
        writes = []
        for bucket in self._due(self.clock(), force):
            if bucket.need_base:
                continue
            value: dict[str, int] | dict[str, float]
            if isinstance(bucket, WordBucket):
                value = self.words_value(bucket)
            else:
                assert isinstance(bucket, Tick)
                value = self.tick_value(bucket)
            writes.append(PlannedWrite(bucket.db, bucket.key,
                                       json.dumps(value, ensure_ascii=False,
                                                  separators=(",", ":")),
                                       bucket, bucket.version))
        return writes

    def written(self, writes: Iterable[PlannedWrite]) -> None:
        """These writes are in flatdb: mark them clean (unless changed since)."""
        for write in writes:
            bucket = write.bucket
            bucket.written_version = max(bucket.written_version, write.version)
            bucket.writes += 1  # from now on deletes leave it alone (module doc)
            self.stats.writes += 1

    def forget_old(self) -> int:
        """Drop written buckets past their retention; returns how many."""
        cutoff = self.clock() - self.retention
        forgotten = 0
        for table in (self.words, self.ticks):
            for slot, bucket in list(table.items()):
                if bucket.end <= cutoff and not bucket.dirty:
                    self._forget(table, slot, bucket)
                    forgotten += 1
        return forgotten

    def _forget(self, table: dict[tuple[str, int], Any], slot: tuple[str, int],
                bucket: _Bucket) -> None:
        del table[slot]
        self.entries -= len(bucket.counts) if isinstance(bucket, WordBucket) else 1
        if bucket.writes or bucket.need_base:
            # flatdb may hold it: a late message for it must read and merge first.
            self.watermark = max(self.watermark, bucket.start)

    def _tables(self) -> tuple[dict[tuple[str, int], Any], dict[tuple[str, int], Any]]:
        return self.words, self.ticks

    def _shed(self) -> None:
        """Over the entry cap: forget the oldest buckets, written ones first."""
        target = self.max_entries * 9 // 10
        for only_clean in (True, False):
            candidates = sorted(
                ((bucket.start, index, table, slot, bucket)
                 for index, table in enumerate(self._tables())
                 for slot, bucket in table.items()
                 if not only_clean or not bucket.dirty),
                key=lambda item: (item[0], item[1]))
            for _start, _index, table, slot, bucket in candidates:
                if self.entries <= target:
                    return
                if bucket.dirty:
                    lost = len(bucket.counts) if isinstance(bucket, WordBucket) else 1
                    self.stats.dropped_entries += lost
                    self.stats.dropped_buckets += 1
                self._forget(table, slot, bucket)

    def pending(self) -> int:
        """Buckets and ticks holding counts not yet in flatdb."""
        return (sum(1 for b in self.words.values() if b.dirty)
                + sum(1 for t in self.ticks.values() if t.dirty))


class SeenEvents:
    """Events seen lately: reflektor delivers at least once, count once.

    A redelivery comes within reflektor's give-up time (60 s), so events are kept
    `max_age` seconds, and at most `max_size` of them (the oldest go first). An event is
    its (room, seq, ts): a room deleted and created again under its name starts at seq
    1 again, and its events are new ones, not repeats (a redelivery keeps its ts).
    """

    def __init__(self, clock: Callable[[], float] = time.time, max_age: float = 120.0,
                 max_size: int = 300_000):
        self.clock = clock
        self.max_age = max_age
        self.max_size = max_size
        self._seen: dict[tuple[str, int, str], float] = {}  # insertion order = age order

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, room: str, seq: int, ts: str = "") -> bool:
        """True the first time (room, seq, ts) is offered; False for a repeat."""
        key = (room, seq, ts)
        if key in self._seen:
            return False
        now = self.clock()
        seen = self._seen
        seen[key] = now
        cutoff = now - self.max_age
        while seen:
            oldest = next(iter(seen))
            if len(seen) <= self.max_size and seen[oldest] >= cutoff:
                break
            del seen[oldest]
        return True
