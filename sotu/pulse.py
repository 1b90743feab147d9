"""Pulse: streams a scope's word cloud, ticks and viewer count to browsers.

    python -m sotu.pulse --port 8401 --clouddb http://127.0.0.1:8301 \
        --tickdb http://127.0.0.1:8302 --allowed-origin http://127.0.0.1:8000

The aiohttp layer: sockets, the poll task per watched scope, origin and token checks,
shutdown. What to send is decided by the pure `feeds.Feed`. Routes (README.md):

    GET /ws/<scope>?token=     WebSocket, one JSON message per text frame
    GET /sse/<scope>?token=    the same messages as Server-Sent Events
    GET /healthz               scopes and viewers on this node

A scope is `event:<name>` or `room:<room>`; a room scope is the teacher's live view and
needs `ticket=<a moderator's follow ticket>` for that room (contract.signing, as ekg
takes it). flatdb is polled once per `--poll-interval` for each scope that has viewers,
not per viewer.
Prints `pulse listening on HOST:PORT`; exits 0 after SIGTERM or SIGINT, having told
every client to reconnect after a random delay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from contract import signing
from contract.names import parse_scope
from contract.service import (
    error_response,
    json_errors,
    origin_allowed,
    origins_from,
    secret_from_env,
    serving,
    sse_headers,
    sse_preflight_headers,
    start_logging,
)

from .feeds import DEFAULT_HISTORY_SECONDS, DEFAULT_TOP, Feed, encode, scope_prefix, scope_stop
from .flatdb_client import FlatDB, FlatDBError

log = logging.getLogger("sotu.pulse")
RECONNECT_DELAY_MS = (500, 5000)
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class Config:
    secret: str
    clouddb: str
    tickdb: str
    # Browser origins allowed to connect; "*" allows any. No Origin header (not a
    # browser) is allowed, as in ekg.
    allowed_origins: frozenset[str] = frozenset()
    poll_interval: float = 1.0
    history_seconds: int = DEFAULT_HISTORY_SECONDS
    # Each poll re-reads this many seconds of ticks: the collector rewrites a tick
    # when a late message arrives, up to its retention (65 s) after the second.
    lookback_seconds: int = 70
    top: int = DEFAULT_TOP
    max_queue: int = 256          # messages waiting for one client before it is cut
    sse_keepalive: float = 15.0
    ws_heartbeat: float = 30.0
    shutdown_grace: float = 5.0
    flatdb_timeout: float = 5.0


class Viewer:
    """One browser connection: a bounded queue of encoded messages and a wake-up."""

    def __init__(self, transport: asyncio.BaseTransport | None):
        self.transport = transport
        self.queue: deque[str] = deque()
        self.woken = asyncio.Event()
        self.primed = False      # has had the snapshot; deltas only after it
        self.finishing = False   # shutdown: write out the queue, then close
        self.reconnect_ms = 0
        self.overflowed = False

    def send(self, text: str, limit: int) -> None:
        if self.overflowed:
            return
        if len(self.queue) >= limit:
            # A client this far behind is not reading; it reconnects and gets a fresh
            # snapshot, which is all a chart needs.
            self.overflowed = True
        else:
            self.queue.append(text)
        self.woken.set()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class ScopeFeed:
    """A feed, its viewers on this node and the task that polls flatdb for it."""

    def __init__(self, scope: str, config: Config):
        self.feed = Feed(scope, config.history_seconds, config.top)
        self.viewers: set[Viewer] = set()
        self.task: asyncio.Task[None] | None = None


class Pulse:
    def __init__(self, config: Config, clock: Callable[[], float] | None = None):
        self.config = config
        self.clock = clock or time.time
        self.feeds: dict[str, ScopeFeed] = {}
        self.session: aiohttp.ClientSession | None = None
        self.clouddb: FlatDB | None = None
        self.tickdb: FlatDB | None = None
        self._last_error: str | None = None
        self._no_viewers = asyncio.Event()
        self._no_viewers.set()

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        self.clouddb = FlatDB(self.config.clouddb, self.session, self.config.flatdb_timeout)
        self.tickdb = FlatDB(self.config.tickdb, self.session, self.config.flatdb_timeout)

    async def close(self) -> None:
        for scope_feed in list(self.feeds.values()):
            if scope_feed.task is not None:
                scope_feed.task.cancel()
        if self.session is not None:
            await self.session.close()

    def viewer_count(self) -> int:
        return sum(len(f.viewers) for f in self.feeds.values())

    # -- viewers ---------------------------------------------------------------------
    def _send(self, viewer: Viewer, message: dict[str, Any]) -> None:
        viewer.send(encode(message), self.config.max_queue)

    def join(self, scope: str, viewer: Viewer) -> ScopeFeed:
        scope_feed = self.feeds.get(scope)
        if scope_feed is None:
            scope_feed = self.feeds[scope] = ScopeFeed(scope, self.config)
            scope_feed.task = asyncio.get_running_loop().create_task(self._poll(scope_feed))
        scope_feed.viewers.add(viewer)
        self._no_viewers.clear()
        feed = scope_feed.feed
        self._send(viewer, feed.hello())
        self._send(viewer, feed.viewers(len(scope_feed.viewers)))
        if feed.loaded:
            self._prime(feed, viewer)
        return scope_feed

    def leave(self, scope_feed: ScopeFeed, viewer: Viewer) -> None:
        scope_feed.viewers.discard(viewer)
        if not scope_feed.viewers:
            # Nobody watches: stop polling; the next viewer starts afresh.
            if scope_feed.task is not None:
                scope_feed.task.cancel()
            if self.feeds.get(scope_feed.feed.scope) is scope_feed:
                del self.feeds[scope_feed.feed.scope]
        if not self.feeds:
            self._no_viewers.set()

    def _prime(self, feed: Feed, viewer: Viewer) -> None:
        for message in feed.snapshot(self.clock()):
            self._send(viewer, message)
        viewer.primed = True

    def _broadcast(self, scope_feed: ScopeFeed, message: dict[str, Any]) -> None:
        text = encode(message)  # encoded once for every viewer
        for viewer in scope_feed.viewers:
            if viewer.primed:
                viewer.send(text, self.config.max_queue)

    # -- polling ---------------------------------------------------------------------
    async def _poll(self, scope_feed: ScopeFeed) -> None:
        feed = scope_feed.feed
        while True:
            try:
                await self._poll_once(scope_feed)
                self._last_error = None
            except FlatDBError as error:
                if str(error) != self._last_error:
                    log.warning("flatdb read failed for %s: %s", feed.scope, error)
                self._last_error = str(error)
            update = feed.viewers_changed(len(scope_feed.viewers))
            if update is not None and feed.loaded:
                self._broadcast(scope_feed, update)
            await asyncio.sleep(self.config.poll_interval)

    async def _poll_once(self, scope_feed: ScopeFeed) -> None:
        assert self.clouddb is not None and self.tickdb is not None
        feed = scope_feed.feed
        now = self.clock()
        start = (feed.lookback_start(now, self.config.lookback_seconds) if feed.loaded
                 else feed.history_start(now))
        ticks, latest = await asyncio.gather(
            self.tickdb.scan(start=start, stop=scope_stop(feed.scope)),
            self.clouddb.scan(start=scope_prefix(feed.scope), stop=scope_stop(feed.scope),
                              reverse=True, limit=1))
        ticks_message = feed.take_ticks(ticks, now)
        words_message = feed.take_latest_bucket(latest[0] if latest else None)
        if not feed.loaded:
            feed.loaded = True
            feed.viewers_sent = len(scope_feed.viewers)
            for viewer in scope_feed.viewers:
                if not viewer.primed:
                    self._prime(feed, viewer)
            return
        for message in (words_message, ticks_message):
            if message is not None:
                self._broadcast(scope_feed, message)

    # -- shutdown --------------------------------------------------------------------
    async def send_everyone_away(self) -> None:
        viewers = [v for f in self.feeds.values() for v in f.viewers]
        for viewer in viewers:
            viewer.reconnect_ms = random.randint(*RECONNECT_DELAY_MS)
            viewer.finishing = True
            viewer.queue.append(encode({"type": "reconnect", "delay_ms": viewer.reconnect_ms}))
            viewer.woken.set()
        try:
            async with asyncio.timeout(self.config.shutdown_grace):
                await self._no_viewers.wait()
        except TimeoutError:
            log.warning("%d viewers did not close in time; cutting them", self.viewer_count())
            for viewer in viewers:
                viewer.abort()


PULSE = web.AppKey("pulse", Pulse)


def _scope_of(request: web.Request) -> str:
    """The scope of a stream request, or the HTTP error to answer."""
    pulse = request.app[PULSE]
    scope = request.match_info["scope"]
    parsed = parse_scope(scope)
    if parsed is None:
        raise web.HTTPNotFound(reason="no such scope: use event:<name> or room:<room>")
    if not origin_allowed(request, pulse.config.allowed_origins):
        raise web.HTTPForbidden(reason="origin not allowed")
    kind, room = parsed
    if kind == "room":
        ticket, _ = signing.check_follow_ticket(pulse.config.secret,
                                                request.query.get("ticket"), room)
        if ticket is None or not ticket.moderator:
            raise web.HTTPForbidden(reason="a room's live view needs a moderator's follow "
                                           "ticket for the room")
    return scope


async def websocket(request: web.Request) -> web.StreamResponse:
    pulse = request.app[PULSE]
    scope = _scope_of(request)
    ws = web.WebSocketResponse(compress=False, heartbeat=pulse.config.ws_heartbeat,
                               max_msg_size=4096)
    await ws.prepare(request)
    viewer = Viewer(request.transport)
    scope_feed = pulse.join(scope, viewer)

    async def write_loop() -> None:
        try:
            while True:
                await viewer.woken.wait()
                viewer.woken.clear()
                if viewer.overflowed:
                    await ws.close(code=CLOSE_TRY_AGAIN_LATER, message=b"slow consumer")
                    return
                while viewer.queue:
                    await ws.send_str(viewer.queue.popleft())
                if viewer.finishing:
                    await ws.close(code=CLOSE_SERVICE_RESTART, message=b"server restart")
                    return
        except (ConnectionError, RuntimeError):
            return

    writer = asyncio.get_running_loop().create_task(write_loop())
    try:
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break  # clients have nothing to say; reading handles pings and close
    finally:
        try:
            if viewer.finishing:
                # The writer is closing with 1012 after the reconnect message; the
                # shutdown grace bounds this wait.
                with contextlib.suppress(Exception):
                    await writer
            else:
                writer.cancel()
        finally:
            # Also when the handler is cancelled (the peer went away) mid-wait.
            pulse.leave(scope_feed, viewer)
    return ws


async def sse(request: web.Request) -> web.StreamResponse:
    pulse = request.app[PULSE]
    scope = _scope_of(request)
    response = web.StreamResponse(headers=sse_headers(request))
    await response.prepare(request)
    viewer = Viewer(request.transport)
    scope_feed = pulse.join(scope, viewer)
    try:
        while not viewer.overflowed:
            try:
                async with asyncio.timeout(pulse.config.sse_keepalive):
                    await viewer.woken.wait()
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            viewer.woken.clear()
            if viewer.overflowed:
                break
            chunks = []
            if viewer.finishing:
                chunks.append(b"retry: %d\n" % viewer.reconnect_ms)
            while viewer.queue:
                chunks.append(b"data: " + viewer.queue.popleft().encode() + b"\n\n")
            if chunks:
                await response.write(b"".join(chunks))
            if viewer.finishing:
                await response.write_eof()
                break
    except ConnectionError:
        pass
    finally:
        pulse.leave(scope_feed, viewer)
    return response


async def sse_preflight(request: web.Request) -> web.Response:
    if not origin_allowed(request, request.app[PULSE].config.allowed_origins):
        return error_response(403, "forbidden", "origin not allowed")
    return web.Response(status=204, headers=sse_preflight_headers(request))


async def healthz(request: web.Request) -> web.Response:
    pulse = request.app[PULSE]
    return web.json_response({"ok": True, "scopes": len(pulse.feeds),
                              "viewers": pulse.viewer_count()})


def create_app(config: Config, clock: Callable[[], float] | None = None) -> web.Application:
    app = web.Application(middlewares=[json_errors()])
    pulse = app[PULSE] = Pulse(config, clock)
    app.router.add_get("/ws/{scope}", websocket)
    app.router.add_get("/sse/{scope}", sse)
    app.router.add_route("OPTIONS", "/sse/{scope}", sse_preflight)
    app.router.add_get("/healthz", healthz)

    async def lifecycle(app: web.Application):
        await pulse.start()
        yield
        await pulse.close()

    app.cleanup_ctx.append(lifecycle)
    return app


async def serve(config: Config, host: str, port: int,
                announce: Callable[[str, int], None] | None = None) -> None:
    app = create_app(config)
    pulse = app[PULSE]
    # handler_cancellation ends an SSE handler as soon as its client goes away, so the
    # viewer count drops at once.
    async with serving(app, host, port, announce=announce, handler_cancellation=True,
                       quiet_cleanup=True) as (runner, stop):
        await stop.wait()
        log.info("shutting down: %d viewers to send away", pulse.viewer_count())
        for running_site in list(runner.sites):
            await running_site.stop()
        await pulse.send_everyone_away()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Config(secret="", clouddb="", tickdb="")
    parser = argparse.ArgumentParser(prog="python -m sotu.pulse",
                                     description="sotu pulse: live word clouds and ticks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8401, help="0 picks a free port")
    parser.add_argument("--clouddb", default="http://127.0.0.1:8301")
    parser.add_argument("--tickdb", default="http://127.0.0.1:8302")
    parser.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                        help="browser origin allowed to connect (repeatable; '*' for any); "
                             "added to the comma-separated PULSE_ALLOWED_ORIGINS")
    parser.add_argument("--secret-env", default="TM_INTERNAL_SECRET", metavar="NAME",
                        help="environment variable holding the secret of moderator tokens")
    parser.add_argument("--poll-interval", type=float, default=defaults.poll_interval)
    parser.add_argument("--history-seconds", type=int, default=defaults.history_seconds,
                        help="seconds of ticks a new viewer gets")
    parser.add_argument("--sse-keepalive", type=float, default=defaults.sse_keepalive)
    parser.add_argument("--ws-heartbeat", type=float, default=defaults.ws_heartbeat)
    parser.add_argument("--shutdown-grace", type=float, default=defaults.shutdown_grace)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_logging(args.log_level)
    secret = secret_from_env("pulse", args.secret_env, "the shared secret of tm's moderator "
                             "tokens (room scopes need one)")
    if secret is None:
        return 2
    if args.poll_interval <= 0 or args.history_seconds < 1:
        print("pulse: --poll-interval and --history-seconds must be positive",
              file=sys.stderr)
        return 2
    allowed = origins_from(os.environ.get("PULSE_ALLOWED_ORIGINS", ""), args.allowed_origin)
    if not allowed:
        log.warning("no --allowed-origin: browsers (which send Origin) cannot connect")
    config = Config(secret=secret, clouddb=args.clouddb, tickdb=args.tickdb,
                    allowed_origins=allowed, poll_interval=args.poll_interval,
                    history_seconds=args.history_seconds, sse_keepalive=args.sse_keepalive,
                    ws_heartbeat=args.ws_heartbeat, shutdown_grace=args.shutdown_grace)

    def announce(host: str, port: int) -> None:
        print(f"pulse listening on {host}:{port}", flush=True)

    asyncio.run(serve(config, args.host, args.port, announce))
    return 0


if __name__ == "__main__":
    sys.exit(main())
