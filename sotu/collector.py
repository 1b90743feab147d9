"""The collector: a reflektor target that turns tm's events into word counts and ticks.

    python -m sotu.collector --port 8400 --clouddb http://127.0.0.1:8301 \
        --tickdb http://127.0.0.1:8302

The aiohttp layer, and nothing more: signature checks, room facts from tm, the flush
task and shutdown. What counts is decided by the pure modules (`scopes`, `analysis`,
`buckets`). Routes (README.md has the contract):

    POST /internal/rooms/<room>/events   signed event from reflektor -> 202
    DELETE /internal/rooms/<room>        signed: tm deleted the room; its own charts'
                                         counts go, from memory and flatdb -> 200
    *    anything else                   404 (reflektor counts it as done)
    GET  /healthz                        counters, for operators

Prints `collector listening on HOST:PORT` once it accepts requests (`--port 0` picks a
free port). On SIGTERM or SIGINT it stops accepting, finishes the requests under way,
writes every count it holds to flatdb (retrying up to `--stop-timeout`) and exits 0;
1 if some counts could not be written (the log says how many).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from contract import events
from contract.names import room_scope
from contract.service import (
    Internal,
    error_response,
    json_errors,
    secret_from_env,
    serving,
    start_logging,
)

from .analysis import Analyzer
from .buckets import (
    TICKS_DB,
    WORDS_DB,
    PlannedWrite,
    SeenEvents,
    Tally,
    iso_second,
    parse_iso,
)
from .charts import ChartConfig, ChartPublisher
from .erasure import Erasures
from .expiry import expire_events
from .flatdb_client import FlatDB, FlatDBError, split_batches
from .scopes import (
    RoomCache,
    RoomFacts,
    facts_from,
    facts_from_store,
    facts_key,
    stored_facts,
)

log = logging.getLogger("sotu.collector")


@dataclass(frozen=True)
class Config:
    secret: str
    clouddb: str
    tickdb: str
    publish: str = ""              # reflektor's URL for chart updates; "": none sent
    chart_full_every: float = 5.0  # seconds between full updates of a live chart
    flush_interval: float = 1.0    # seconds between flushes
    word_grace: float = 1.0        # a word bucket is written this long after it closes
    tick_grace: float = 0.5        # a tick likewise
    retention: float = 65.0        # buckets stay in memory for late messages this long
    max_entries: int = 1_000_000   # words + ticks held in memory (README: "Memory")
    max_words_written: int = 2_000  # words per bucket value in clouddb
    flatdb_timeout: float = 5.0    # one flatdb call
    retry_max: float = 10.0        # longest wait between flushes while flatdb fails
    stop_timeout: float = 10.0     # how long shutdown keeps trying to write
    event_days: float = 365.0      # a shared event's counts are deleted after this long
    sweep_interval: float = 3600.0  # seconds between sweeps of expired event counts


class Collector:
    """The state of one collector process: tally, room facts, flatdb clients."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time):
        self.config = config
        self.clock = clock
        self.analyzer = Analyzer()
        self.tally = Tally(clock, stem=self.analyzer.stem, retention=config.retention,
                           word_grace=config.word_grace, tick_grace=config.tick_grace,
                           max_entries=config.max_entries,
                           max_words_written=config.max_words_written)
        self.rooms = RoomCache()
        self.seen = SeenEvents(clock)
        self.session: aiohttp.ClientSession | None = None
        self.dbs: dict[str, FlatDB] = {}
        self._reads: dict[str, asyncio.Task[RoomFacts | None]] = {}
        # Room facts from room.updated, to keep in clouddb with the next flush.
        self._facts_to_write: dict[str, RoomFacts] = {}
        self.erasures = Erasures(self.tally, self.dbs)
        self._flush_lock = asyncio.Lock()
        self.charts: ChartPublisher | None = None  # made in start(): needs the session
        self.counters = {"received": 0, "duplicates": 0, "counted": 0, "not_in_scope": 0,
                         "room_updates": 0, "room_reads": 0,
                         "room_read_failures": 0, "rooms_unknown": 0,
                         "flushes": 0, "flush_failures": 0,
                         "rooms_purged": 0, "event_keys_expired": 0}
        self.last_flush_error: str | None = None
        self.unflushed_at_stop: int | None = None

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        self.dbs.update({WORDS_DB: FlatDB(self.config.clouddb, self.session,
                                          self.config.flatdb_timeout),
                         TICKS_DB: FlatDB(self.config.tickdb, self.session,
                                          self.config.flatdb_timeout)})
        self.charts = ChartPublisher(
            ChartConfig(publish=self.config.publish, secret=self.config.secret,
                        full_every=self.config.chart_full_every),
            self.dbs, self.session, self.clock)

    async def close(self) -> None:
        for task in list(self._reads.values()):
            task.cancel()
        if self.session is not None:
            await self.session.close()

    # -- a room deleted ----------------------------------------------------------------
    async def purge_room(self, room: str, deleted_at: str) -> dict[str, int]:
        """Forget what was counted for the room's own scope (`room:<name>`) before it
        was deleted at `deleted_at`: buckets and ticks in memory, and the scope's keys
        of those seconds in both flatdbs (a new room of the name keeps its own). What
        the room added to a shared event's scope stays: those counts are the event's."""
        scope = room_scope(room)
        self.rooms.forget(room)
        self._facts_to_write.pop(room, None)
        if self.charts is not None:
            self.charts.forget(scope)  # the push nodes end its viewers' streams
        async with self._flush_lock:  # no flush writes the scope back meanwhile
            dropped = self.tally.drop_scope(scope, parse_iso(deleted_at))
            # Keys are <scope>:<ISO second>, so they sort by time.
            deleted = {name: await db.delete_range(scope + ":", f"{scope}:{deleted_at}")
                       for name, db in self.dbs.items()}
            await self.dbs[WORDS_DB].delete([facts_key(room)])
            deleted["traces"] = await self.erasures.forget_room(room, parse_iso(deleted_at))
        self.counters["rooms_purged"] += 1
        log.info("room %s deleted: %d buckets dropped, %s keys deleted", room, dropped,
                 deleted)
        return {"dropped": dropped, **{f"deleted_{name}": n for name, n in deleted.items()}}

    # -- events ----------------------------------------------------------------------
    async def handle(self, event: dict[str, Any]) -> str:
        """Take one checked event; returns what became of it (for the answer)."""
        self.counters["received"] += 1
        room = event["room"]
        if not self.seen.first_time(room, event["seq"], event["ts"]):
            self.counters["duplicates"] += 1
            return "duplicate"
        kind = event["type"]
        data = event["data"]
        if kind == events.ROOM_UPDATED:
            facts = facts_from(room, data)
            self.rooms.from_event(facts)
            self._facts_to_write[room] = facts
            self.counters["room_updates"] += 1
            return "room_updated"
        if kind == events.MESSAGE_DELETED:
            return self.erasures.deleted(room, data["id"])
        if kind != events.MESSAGE_CREATED:
            return "ignored"  # message.pending: only approved posts (message.created) count
        facts = await self.facts(room)
        scopes = facts.scopes
        if not scopes:
            self.counters["not_in_scope"] += 1
            return "not_in_scope"
        try:
            at = parse_iso(event["ts"])
        except (TypeError, ValueError):
            at = self.clock()
        text = data["text"] if isinstance(data["text"], str) else ""
        analysis = self.analyzer.analyse(text)
        self.tally.add(scopes, at, analysis.words, analysis.sentiment, (room, data["id"]))
        self.counters["counted"] += 1
        return "counted"

    async def facts(self, room: str) -> RoomFacts:
        """The room's facts: cached, or (after a restart) read from clouddb once while
        other events of the room wait for that read. A room known to neither counts
        nowhere (its room.updated was lost): never a private room in a public chart."""
        facts = self.rooms.get(room)
        if facts is not None:
            return facts
        task = self._reads.get(room)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._read_facts(room))
            self._reads[room] = task
            task.add_done_callback(lambda _t: self._reads.pop(room, None))
        stored = await asyncio.shield(task)
        if stored is None:
            self.counters["rooms_unknown"] += 1
            return RoomFacts(room)
        return stored

    async def _read_facts(self, room: str) -> RoomFacts | None:
        generation = self.rooms.generation(room)
        self.counters["room_reads"] += 1
        try:
            raw = await self.dbs[WORDS_DB].get(facts_key(room))
        except FlatDBError as error:
            self.counters["room_read_failures"] += 1
            log.warning("room %s: its facts could not be read (%s); not counted", room, error)
            return None
        facts = facts_from_store(room, raw)
        if facts is None:
            log.warning("room %s: no room.updated seen and none stored; not counted", room)
            return None
        if not self.rooms.from_store(facts, generation):
            return self.rooms.get(room) or facts  # a room.updated came meanwhile
        return facts

    # -- flushing --------------------------------------------------------------------
    async def flush(self, force: bool = False) -> bool:
        """Write what is due (everything when `force`); True when nothing failed."""
        async with self._flush_lock:
            ok = True
            try:  # first: the buckets it lowers may need their stored values read below
                await self.erasures.uncount_stored()
            except FlatDBError as error:
                ok = self._failed(error)
            for db, keys in self.tally.keys_needing_base(force).items():
                if not keys:
                    continue
                try:
                    self.tally.apply_base(db, await self.dbs[db].get_many(keys))
                except FlatDBError as error:
                    ok = self._failed(error)
            ok = await self._write_facts() and ok
            writes = self.tally.plan(force)
            done: list[PlannedWrite] = []
            for db in (WORDS_DB, TICKS_DB):
                mine = [write for write in writes if write.db == db]
                by_key = {write.key: write for write in mine}
                for batch in split_batches([(write.key, write.value) for write in mine]):
                    try:
                        await self.dbs[db].put_batch(batch)
                    except FlatDBError as error:
                        ok = self._failed(error)
                        break  # this db is in trouble; try again next time
                    written = [by_key[key] for key, _ in batch]
                    self.tally.written(written)
                    done.extend(written)
            try:
                await self.erasures.keep_traces(buckets_written=ok)
            except FlatDBError as error:
                ok = self._failed(error)
            self.tally.forget_old()
            if ok:
                self.counters["flushes"] += 1
            if self.charts is not None:
                await self.charts.written(done)
            return ok

    async def _write_facts(self) -> bool:
        """Keep the room facts of the room.updated events since the last flush."""
        if not self._facts_to_write:
            return True
        taken, self._facts_to_write = self._facts_to_write, {}
        try:
            await self.dbs[WORDS_DB].put_batch(
                [(facts_key(room), stored_facts(facts)) for room, facts in taken.items()])
        except FlatDBError as error:
            self._facts_to_write = {**taken, **self._facts_to_write}  # the next try
            return self._failed(error)
        return True

    # -- expiry of shared events' counts -------------------------------------------
    async def expire_events(self) -> int:
        """Delete every shared event's counts older than `event_days` from both flatdbs
        (docs/retention.md, sotu/expiry.py); how many keys went. Without the flush lock:
        what it deletes is far older than anything a flush writes."""
        cutoff = iso_second(int(self.clock() - self.config.event_days * 24 * 3600))
        expired = 0
        for db in self.dbs.values():
            expired += await expire_events(db, cutoff)
        self.counters["event_keys_expired"] += expired
        if expired:
            log.info("deleted %d keys of shared events' counts from before %s", expired,
                     cutoff)
        return expired

    async def sweep_loop(self) -> None:
        """Expire at start, then every `sweep_interval`."""
        while True:
            try:
                await self.expire_events()
            except FlatDBError as error:  # the next sweep tries again
                log.warning("expiring shared events' counts failed: %s", error)
            await asyncio.sleep(self.config.sweep_interval)

    def _failed(self, error: Exception) -> bool:
        self.counters["flush_failures"] += 1
        message = str(error)
        if message != self.last_flush_error:
            log.warning("flatdb write failed, counts kept for the next try: %s", message)
        self.last_flush_error = message
        return False

    async def flush_loop(self) -> None:
        delay = self.config.flush_interval
        while True:
            await asyncio.sleep(delay)
            if await self.flush():
                delay = self.config.flush_interval
            else:  # back off while flatdb is down; counts wait in memory (bounded)
                delay = min(max(delay * 2, self.config.flush_interval), self.config.retry_max)

    async def final_flush(self) -> bool:
        """Shutdown: write everything held, retrying until `stop_timeout`."""
        deadline = time.monotonic() + self.config.stop_timeout
        delay = 0.1
        while True:
            if await self.flush(force=True) and self.tally.pending() == 0:
                self.unflushed_at_stop = 0
                return True
            if time.monotonic() + delay > deadline:
                self.unflushed_at_stop = self.tally.pending()
                log.error("stopping with %d buckets/ticks not written to flatdb: %s",
                          self.unflushed_at_stop, self.last_flush_error)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def stats(self) -> dict[str, Any]:
        tally = self.tally
        charts = self.charts.counters if self.charts is not None else {}
        return {"ok": True, **self.counters, **self.erasures.counters, **charts,
                "pending": tally.pending(), "traces_dropped": tally.stats.traces_dropped,
                "entries": tally.entries, "rooms_cached": len(self.rooms),
                "words_over_cap": tally.stats.words_over_cap,
                "dropped_entries": tally.stats.dropped_entries,
                "dropped_buckets": tally.stats.dropped_buckets,
                "last_flush_error": self.last_flush_error}


COLLECTOR = web.AppKey("collector", Collector)


# -- handlers --------------------------------------------------------------------------
internal = Internal(lambda request: request.app[COLLECTOR].config.secret)


@internal.event
async def post_event(request: web.Request, event: dict[str, Any]) -> web.Response:
    outcome = await request.app[COLLECTOR].handle(event)
    return web.json_response({"ok": True, "outcome": outcome}, status=202)


@internal.deletion
async def delete_room(request: web.Request, deleted_at: str) -> web.Response:
    try:
        purged = await request.app[COLLECTOR].purge_room(request.match_info["room"],
                                                         deleted_at)
    except FlatDBError as error:  # 503: reflektor tries again later
        return error_response(503, "flatdb_unavailable", str(error))
    return web.json_response({"ok": True, **purged})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(request.app[COLLECTOR].stats())


async def not_found(request: web.Request) -> web.Response:
    return error_response(404, "not_found", "no such endpoint")


def create_app(config: Config, clock: Callable[[], float] = time.time) -> web.Application:
    # Every unknown path or method is a 404 (reflektor counts it as done).
    app = web.Application(middlewares=[json_errors(not_allowed_is_not_found=True)],
                          client_max_size=1024 * 1024)
    collector = app[COLLECTOR] = Collector(config, clock)
    app.router.add_post("/internal/rooms/{room}/events", post_event)
    app.router.add_delete("/internal/rooms/{room}", delete_room)
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", not_found)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await collector.start()
        loop = asyncio.get_running_loop()
        flusher = loop.create_task(collector.flush_loop())
        sweeper = loop.create_task(collector.sweep_loop())
        yield
        # Runs after the server stopped accepting and the requests under way finished.
        for task in (flusher, sweeper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await collector.final_flush()
        finally:
            await collector.close()

    app.cleanup_ctx.append(lifecycle)
    return app


async def serve(config: Config, host: str, port: int,
                announce: Callable[[str, int], None] | None = None) -> int:
    """Run until SIGTERM or SIGINT; 0 when every count reached flatdb, else 1."""
    app = create_app(config)
    collector = app[COLLECTOR]
    # Leaving the block cleans the runner up: it stops the site, waits for requests in
    # flight, and the app's cleanup makes the final flush.
    async with serving(app, host, port, announce=announce,
                       shutdown_timeout=5.0) as (_runner, stop):
        await stop.wait()
        log.info("stopping: writing %d pending buckets/ticks", collector.tally.pending())
    unflushed = collector.unflushed_at_stop
    log.info("stopped: counted=%d unflushed=%s", collector.counters["counted"], unflushed)
    return 0 if unflushed == 0 else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Config(secret="", clouddb="", tickdb="")
    parser = argparse.ArgumentParser(prog="python -m sotu.collector",
                                     description="sotu collector: words and ticks to flatdb")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400, help="0 picks a free port")
    parser.add_argument("--clouddb", default="http://127.0.0.1:8301",
                        help="flatdb for word buckets")
    parser.add_argument("--tickdb", default="http://127.0.0.1:8302",
                        help="flatdb for per-second ticks")
    parser.add_argument("--publish", default="", metavar="URL",
                        help="reflektor's URL: chart updates go through it to the push "
                             "nodes (without it: no live charts)")
    parser.add_argument("--chart-full-every", type=float, default=defaults.chart_full_every,
                        help="seconds between full updates of a live chart")
    parser.add_argument("--secret-env", default="TM_INTERNAL_SECRET", metavar="NAME",
                        help="environment variable holding the shared internal secret")
    parser.add_argument("--flush-interval", type=float, default=defaults.flush_interval)
    parser.add_argument("--retention", type=float, default=defaults.retention,
                        help="seconds a closed bucket stays in memory for late messages")
    parser.add_argument("--max-entries", type=int, default=defaults.max_entries,
                        help="words and ticks held in memory at most (flatdb down)")
    parser.add_argument("--max-words-written", type=int, default=defaults.max_words_written,
                        help="most used words kept in each clouddb value")
    parser.add_argument("--retry-max", type=float, default=defaults.retry_max,
                        help="longest wait between flush attempts while flatdb fails")
    parser.add_argument("--stop-timeout", type=float, default=defaults.stop_timeout,
                        help="seconds shutdown keeps trying to write to flatdb")
    parser.add_argument("--event-days", type=float, default=defaults.event_days,
                        help="days a shared event's counts are kept (docs/retention.md)")
    parser.add_argument("--sweep-interval", type=float, default=defaults.sweep_interval,
                        help="seconds between sweeps that delete expired event counts")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_logging(args.log_level)
    secret = secret_from_env("collector", args.secret_env, "the shared secret that signs "
                             "internal calls (tm's TM_INTERNAL_SECRET)")
    if secret is None:
        return 2
    if (args.flush_interval <= 0 or args.max_entries < 1 or args.max_words_written < 1
            or args.event_days <= 0 or args.sweep_interval <= 0):
        print("collector: --flush-interval, --max-entries, --max-words-written, "
              "--event-days and --sweep-interval must be positive", file=sys.stderr)
        return 2
    config = Config(secret=secret, clouddb=args.clouddb, tickdb=args.tickdb,
                    publish=args.publish, chart_full_every=args.chart_full_every,
                    flush_interval=args.flush_interval, retention=args.retention,
                    max_entries=args.max_entries, max_words_written=args.max_words_written,
                    retry_max=args.retry_max, stop_timeout=args.stop_timeout,
                    event_days=args.event_days, sweep_interval=args.sweep_interval)

    def announce(host: str, port: int) -> None:
        print(f"collector listening on {host}:{port}", flush=True)

    return asyncio.run(serve(config, args.host, args.port, announce))


if __name__ == "__main__":
    sys.exit(main())
