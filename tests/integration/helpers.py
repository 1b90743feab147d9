"""Helpers for the end-to-end tests: an async client of tm's API, following clients, and
the check every scenario ends with (every client shows what the database holds)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import aiohttp

from testkit.pages import Page
from testkit.timing import TIME_SCALE
from tests.support.stack import Stack

UNIT = TIME_SCALE  # seconds; every wait is a multiple of it
TIMEOUT = aiohttp.ClientTimeout(total=10 * UNIT)


class Api:
    """tm's public API over one aiohttp session; answers are (status, JSON or None)."""

    def __init__(self, session: aiohttp.ClientSession, stack: Stack):
        self.session = session
        self.stack = stack

    async def call(self, method: str, path: str, token: str | None = None,
                   body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.stack.api(path), json=body,
                                        headers=headers, timeout=TIMEOUT) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text) if text else None
            except ValueError:  # Django's own 500 page is HTML
                return response.status, None

    async def create_room(self, room: str, **fields: Any) -> str:
        """Create a room; returns the owner key (a moderator's bearer token)."""
        status, body = await self.call("POST", "/rooms", body={"name": room, **fields})
        assert status == 201, body
        self.stack.owner_keys[room] = body["owner_key"]  # for moderators' tickets
        return body["owner_key"]

    async def join(self, room: str, nickname: str) -> str:
        status, body = await self.call("POST", f"/rooms/{room}/join",
                                       body={"nickname": nickname})
        assert status == 201, body
        return body["token"]

    async def post(self, room: str, token: str, text: str) -> tuple[int, Any]:
        return await self.call("POST", f"/rooms/{room}/messages", token, {"text": text})

    async def posted(self, room: str, token: str, text: str) -> dict:
        status, body = await self.post(room, token, text)
        assert status == 201, body
        return body

    async def delete(self, room: str, owner: str, message_id: int) -> int:
        return (await self.call("DELETE", f"/rooms/{room}/messages/{message_id}", owner))[0]

    async def approve(self, room: str, owner: str, message_id: int) -> int:
        return (await self.call("POST", f"/rooms/{room}/messages/{message_id}/approve",
                                owner))[0]

    async def patch(self, room: str, owner: str, **fields: Any) -> dict:
        status, body = await self.call("PATCH", f"/rooms/{room}", owner, fields)
        assert status == 200, body
        return body

    async def room(self, room: str) -> dict:
        status, body = await self.call("GET", f"/rooms/{room}")
        assert status == 200, body
        return body

    async def history(self, room: str, limit: int = 500) -> list[dict]:
        """Every visible message, read page by page as the API serves them."""
        messages: list[dict] = []
        after = 0
        while True:
            status, body = await self.call("GET", f"/rooms/{room}/messages?after={after}"
                                                  f"&limit={limit}")
            assert status == 200, body
            messages += body["messages"]
            if not body["has_more"]:
                return messages
            after = body["seq"]


async def follow(stack: Stack, room: str, *,
                 ws: int = 0, sse: int = 0, moderators: int = 0,
                 **options: Any) -> list[Page]:
    """Start clients (WebSocket, SSE, moderator WebSocket) and wait until all are live."""
    specs = ([("ws", None)] * ws + [("sse", None)] * sse
             + [("ws", stack.owner_key(room))] * moderators)
    clients = [Page(stack.tm_url, stack.ekg_url, room, name=f"{kind}-{i}",
                    transport=kind, auth=auth, **options)
               for i, (kind, auth) in enumerate(specs)]
    await asyncio.gather(*(client.start() for client in clients))
    async with asyncio.timeout(10 * UNIT):
        await asyncio.gather(*(client.settled() for client in clients))
    return clients


async def eventually(condition, timeout: float = 10 * UNIT, message: str = "") -> None:
    """Poll `condition` (a plain function) until it holds; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not met in time")
        await asyncio.sleep(0.02)


async def stop_all(clients: list[Page]) -> None:
    await asyncio.gather(*(client.stop() for client in clients))


def database_view(history: list[dict]) -> list[tuple[int, int, str]]:
    return [(m["id"], m["seq"], m["text"]) for m in history]


async def converged(api: Api, room: str, clients: list[Page],
                    timeout: float = 10 * UNIT) -> list[tuple[int, int, str]]:
    """Wait until every client shows exactly what the database holds (messages with
    ids, seqs and texts in order, topic, state) and has applied up to the room's seq.
    Returns the database's messages; fails with the differences if it never happens."""
    deadline = time.monotonic() + timeout
    while True:
        room_now = await api.room(room)
        expected = database_view(await api.history(room))
        # Exactly once and in order: no id twice, seqs strictly rising.
        assert len({m[0] for m in expected}) == len(expected)
        assert [m[1] for m in expected] == sorted({m[1] for m in expected})
        behind = [c for c in clients
                  if c.visible() != expected or c.last != room_now["seq"]
                  or (c.topic, c.state) != (room_now["topic"], room_now["state"])]
        if not behind:
            return expected
        if time.monotonic() > deadline:
            raise AssertionError(_differences(behind, expected, room_now))
        await asyncio.sleep(0.05)


def _differences(clients: list[Page], expected: list, room: dict) -> str:
    lines = [f"{len(clients)} client(s) never matched the database (room seq {room['seq']}, "
             f"topic {room['topic']!r}, state {room['state']})"]
    want = {m[0]: m for m in expected}
    for client in clients[:4]:
        shown = {m[0]: m for m in client.visible()}
        lines.append(
            f"  {client.name}: last={client.last} held={len(client.held)} "
            f"topic={client.topic!r} state={client.state} stats={dict(client.stats)}\n"
            f"    page errors={list(client.errors)[-5:]}\n"
            f"    missing={[want[i] for i in want.keys() - shown.keys()][:10]}\n"
            f"    extra={[shown[i] for i in shown.keys() - want.keys()][:10]}")
    return "\n".join(lines)


def assert_never_seen(clients: list[Page], texts: set[str]) -> None:
    """No client was ever sent any of `texts` (by push or by history)."""
    for client in clients:
        leaked = client.seen_texts & texts
        assert not leaked, f"{client.name} was sent {sorted(leaked)}"


class Burst:
    """Students posting at once, each its own messages one after another, through
    whatever goes wrong meanwhile: a call that fails (tm killed under it) is noted,
    not retried, since the poster cannot know whether it was committed."""

    def __init__(self, api: Api, room: str, tokens: list[str], count: int, prefix: str,
                 pace: float = 0.0):
        self.api = api
        self.room = room
        self.tokens = tokens
        self.texts = [f"{prefix} {n}" for n in range(count)]
        self.pace = pace
        self.results: dict[str, int | None] = {}  # text -> status, None: no answer

    async def run(self) -> Burst:
        await asyncio.gather(*(self._poster(i) for i in range(len(self.tokens))))
        return self

    async def _poster(self, index: int) -> None:
        for text in self.texts[index::len(self.tokens)]:
            try:
                status, _ = await self.api.post(self.room, self.tokens[index], text)
            except (aiohttp.ClientError, OSError, TimeoutError):
                status = None
            self.results[text] = status
            if self.pace:
                await asyncio.sleep(self.pace)

    async def reached(self, done: int) -> None:
        """Wait until `done` posts have been answered (or failed)."""
        async with asyncio.timeout(20 * UNIT):
            while len(self.results) < done:
                await asyncio.sleep(0.005)

    def accepted(self) -> set[str]:
        return {text for text, status in self.results.items() if status == 201}

    def unanswered(self) -> set[str]:
        return {text for text, status in self.results.items() if status is None}


class LoopThread:
    """An asyncio loop in a thread of its own, for tests whose driver is synchronous
    (a Hypothesis state machine) while clients must keep reading their sockets."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro, timeout: float = 30 * UNIT):
        """Run `coro` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_the_rest())
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
