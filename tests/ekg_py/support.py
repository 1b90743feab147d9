"""Helpers for the ekg tests: events, signed posts, a node in a subprocess, waits.

Every wait is a multiple of one time unit, TIME_SCALE seconds (TM_TEST_TIME_SCALE).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from contract import events, signing
from testkit.services import Service
from testkit.timing import TIME_SCALE

UNIT = TIME_SCALE  # seconds
SECRET = "ekg-test-secret"
ROOT = Path(__file__).resolve().parents[2]
CLI_ORIGIN = "http://127.0.0.1:8000"
ENV_ORIGIN = "http://env.example"
EPOCH = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def make_event(room: str, seq: int, event_type: str = events.MESSAGE_CREATED,
               text: str = "hello") -> dict:
    data: dict[str, Any] = {"id": seq, "nickname": "ann", "text": text, "html": text,
                            "created": "2026-11-23T10:00:00.000Z"}
    if event_type == events.MESSAGE_PENDING:
        data["held_for"] = "moderation"
    elif event_type == events.MESSAGE_DELETED:
        data = {"id": seq}
    # A fixed time per seq, as tm's: a redelivery is the same event, ts and all.
    return events.make(event_type, room, seq, data, EPOCH + timedelta(milliseconds=seq))


# When the tests' rooms were created (their tickets' incarnation): before every event.
INCARNATION = EPOCH - timedelta(hours=1)


def ticket(room: str, role: str = "student", incarnation: datetime = INCARNATION,
           **kwargs: Any) -> str:
    """A follow ticket for `room`, as tm signs it (tm/tickets.py)."""
    return signing.follow_ticket(SECRET, room, signing.incarnation_ms(incarnation), role,
                                 **kwargs)


def stream_url(base: str, kind: str, room: str, after: int | None = None,
               role: str = "student", incarnation: datetime = INCARNATION) -> str:
    """A browser stream's URL (kind "ws" or "sse") with a ticket, as the pages build it."""
    url = f"{base}/{kind}/{room}?ticket={ticket(room, role, incarnation)}"
    return url if after is None else f"{url}&after={after}"


def event_path(room: str) -> str:
    return f"/internal/rooms/{room}/events"


async def post_event(session: aiohttp.ClientSession, base: str, event: Any = None, *,
                     room: str | None = None, body: bytes | None = None,
                     path: str | None = None, signature: str | None = "sign",
                     sign_body: bytes | None = None, now: float | None = None,
                     secret: str = SECRET) -> tuple[int, Any]:
    """POST an event as reflektor replays tm's request: signed over path and body."""
    if body is None:
        body = json.dumps(event, separators=(",", ":")).encode()
    if path is None:
        path = event_path(room if room is not None else event["room"])
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = signing.sign(secret, "POST", path,
                                 body if sign_body is None else sign_body, now=now)
    if signature is not None:
        headers[signing.HEADER] = signature
    async with session.post(base + path, data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def delete_room(session: aiohttp.ClientSession, base: str, room: str,
                      deleted_at: datetime) -> tuple[int, Any]:
    """tm's signed DELETE /internal/rooms/<room>, as reflektor replays it."""
    path = f"/internal/rooms/{room}"
    body = events.deletion_body(deleted_at)
    headers = {signing.HEADER: signing.sign(SECRET, "DELETE", path, body)}
    async with session.delete(base + path, data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def publish(session: aiohttp.ClientSession, base: str, room: str,
                  seqs: range | list[int], **kwargs: Any) -> None:
    for seq in seqs:
        status, answer = await post_event(session, base, make_event(room, seq, **kwargs))
        assert status == 202, answer


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5 * UNIT,
                     interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:.1f}s")
        await asyncio.sleep(interval)


async def next_json(ws: aiohttp.ClientWebSocketResponse, *, skip_presence: bool = True,
                    timeout: float = 5 * UNIT) -> dict:
    """The next JSON message on a WebSocket, presence messages left out by default."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no message in time")
        message = await ws.receive(timeout=remaining)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {message.type!r} {message.data}")
        decoded = json.loads(message.data)
        if skip_presence and decoded.get("type") == events.PRESENCE:
            continue
        return decoded


async def next_seqs(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[int]:
    return [(await next_json(ws))["seq"] for _ in range(count)]


async def nothing_more(ws: aiohttp.ClientWebSocketResponse, wait: float = 0.3 * UNIT) -> None:
    """No further non-presence message arrives within `wait`."""
    try:
        message = await next_json(ws, timeout=wait)
    except (AssertionError, TimeoutError):
        return
    raise AssertionError(f"unexpected message {message}")


class SseReader:
    """A minimal EventSource: parses `id:`, `data:`, `retry:` and comment lines."""

    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response
        self.comments: list[str] = []
        self.retry: int | None = None

    async def next_event(self, *, skip_presence: bool = True,
                         timeout: float = 5 * UNIT) -> tuple[str | None, dict]:
        """(id, decoded data) of the next event; raises EOFError at the stream's end."""
        async with asyncio.timeout(timeout):
            event_id: str | None = None
            data: list[str] = []
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("stream ended")
                line = raw.decode().rstrip("\n")
                if line == "":
                    if data:
                        decoded = json.loads("\n".join(data))
                        if skip_presence and decoded.get("type") == events.PRESENCE:
                            event_id, data = None, []
                            continue
                        return event_id, decoded
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "":
                    self.comments.append(value)
                elif field == "id":
                    event_id = value
                elif field == "data":
                    data.append(value)
                elif field == "retry":
                    self.retry = int(value)


class EkgProcess(Service):
    """`python -m ekg_py` on a free loopback port, as tests and operators start it."""

    def __init__(self, log_dir: Path, *args: str, env: dict[str, str] | None = None):
        super().__init__(f"ekg-{time.monotonic_ns()}", [
            sys.executable, "-m", "ekg_py", "--host", "127.0.0.1", "--port", "0",
            "--allowed-origin", CLI_ORIGIN, *args], log_dir,
            {"TM_INTERNAL_SECRET": SECRET, "EKG_ALLOWED_ORIGINS": ENV_ORIGIN, **(env or {})},
            ready=r"^ekg listening on 127\.0\.0\.1:(\d+)", ready_timeout=10)
        self.start()
        self.base = self.url

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
