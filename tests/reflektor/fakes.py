"""Downstream fakes for reflektor's tests: one aiohttp server, behaviour routed by path.

A target URL is `http://127.0.0.1:<port>/<name>`; reflektor appends the request's path,
so `/ok-a/internal/rooms/x/events` reaches target "ok-a". The part of the name before
the first "-" picks the behaviour, so one server can play several independent targets:

    ok      200
    slow    200 after SLOW_SECONDS
    crash   500 the first time a body arrives, then 200
    reset   drops the connection the first time a body arrives, then 200
    hang    never answers the first time a body arrives (the attempt times out), then 200
    gated   200 once the test calls `open_gate()` (until then every request waits)
    404     404 (reflektor counts it as done)
    400     400 (reflektor drops it)

The server runs on its own event loop in a thread, so tests stay plain sync functions.
Every attempt is recorded; `delivered` keeps the ones that were answered 2xx or 404.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from dataclasses import dataclass

from aiohttp import web

from testkit.timing import TIME_SCALE

SLOW_SECONDS = 0.05 * TIME_SCALE
HANG_SECONDS = 30.0


@dataclass(frozen=True)
class Hit:
    target: str
    method: str
    path: str  # after the target's name, with the query string as received
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int | None  # None: the connection was dropped or the attempt never answered


class FakeTargets:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._lock = threading.Lock()
        self._attempts: dict[str, list[Hit]] = defaultdict(list)
        self._seen: set[tuple[str, bytes]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._gate = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeTargets:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        # auto_decompress=False: record the body bytes exactly as reflektor sent them.
        app = web.Application(handler_args={"auto_decompress": False})
        app.router.add_route("*", "/{target}/{tail:.*}", self._handle)
        app.router.add_route("*", "/{target}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers whose client already left (a "hang" that timed out) outlive the server.
        orphans = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in orphans:
            task.cancel()
        await asyncio.gather(*orphans, return_exceptions=True)

    def open_gate(self) -> None:
        self._loop.call_soon_threadsafe(self._gate.set)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    # -- what arrived ------------------------------------------------------------------
    def attempts(self, name: str) -> list[Hit]:
        with self._lock:
            return list(self._attempts[name])

    def delivered(self, name: str) -> list[Hit]:
        return [hit for hit in self.attempts(name)
                if hit.status is not None and (200 <= hit.status < 300 or hit.status == 404)]

    def bodies(self, name: str) -> list[bytes]:
        return [hit.body for hit in self.delivered(name)]

    # -- behaviour ---------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["target"]
        behaviour = name.split("-", 1)[0]
        body = await request.read()
        path = request.raw_path[len(name) + 1:]
        with self._lock:
            first = (name, body) not in self._seen
            self._seen.add((name, body))
        status: int | None = 200
        if behaviour == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        elif behaviour == "gated":
            await self._gate.wait()
        elif behaviour == "crash" and first:
            status = 500
        elif behaviour in ("reset", "hang") and first:
            status = None
        elif behaviour in ("404", "400"):
            status = int(behaviour)
        with self._lock:
            self._attempts[name].append(Hit(name, request.method, path,
                                            tuple(request.headers.items()), body, status))
        if status is None:
            if behaviour == "hang":
                await asyncio.sleep(HANG_SECONDS)
            assert request.transport is not None
            request.transport.abort()  # the client sees the connection drop mid-request
            # Nothing to answer on a dropped connection; raising would log a traceback.
            return web.Response(status=500)
        return web.Response(status=status)
