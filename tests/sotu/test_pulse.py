"""Pulse as it runs: `python -m sotu.pulse` over real flatdb processes, real clients.

Buckets and ticks are written into flatdb directly (as the collector writes them), and
one test runs the whole pipeline: signed events into a collector, charts out of pulse.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from urllib.parse import quote

import aiohttp

from contract import signing
from sotu.buckets import iso_second

from .support import (
    ORIGIN,
    SECRET,
    UNIT,
    message,
    past_moment,
    post,
    put,
    start_collector,
    start_pulse,
)


def run(coro):
    return asyncio.run(coro)


async def next_message(ws: aiohttp.ClientWebSocketResponse, kind: str | None = None,
                       timeout: float = 5 * UNIT) -> dict:
    """The next JSON message (of `kind`, skipping others) on a WebSocket."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {kind or 'message'} in time")
        frame = await ws.receive(timeout=remaining)
        assert frame.type is aiohttp.WSMsgType.TEXT, (frame.type, frame.data)
        decoded = json.loads(frame.data)
        if kind is None or decoded["type"] == kind:
            return decoded


async def next_sse(response: aiohttp.ClientResponse, kind: str | None = None,
                   timeout: float = 5 * UNIT) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            line = (await response.content.readline()).decode()
            if not line:
                raise EOFError("stream ended")
            if line.startswith("data: "):
                decoded = json.loads(line[len("data: "):])
                if kind is None or decoded["type"] == kind:
                    return decoded


def _seconds_ago(seconds: int) -> str:
    return iso_second(int(time.time()) - seconds)


def test_websocket_viewers_get_words_ticks_and_viewer_counts(pulse, stores, name):
    scope = f"event:{name}"
    old, recent = _seconds_ago(20), _seconds_ago(5)
    put(stores.tickdb.url, {f"{scope}:{_seconds_ago(400)}": {"n": 9, "sentiment": 1.0},
                            f"{scope}:{old}": {"n": 2, "sentiment": -1.5},
                            f"{scope}:{recent}": {"n": 1, "sentiment": 3.0}})
    words = {f"w{i:02d}": 20 - i for i in range(15)}
    put(stores.clouddb.url, {f"{scope}:{_seconds_ago(60)}": {"older": 99},
                             f"{scope}:{_seconds_ago(30)}": words})

    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{pulse.url}/ws/{quote(scope, safe='')}",
                                          headers={"Origin": ORIGIN})
            hello = await next_message(ws)
            assert hello["type"] == "hello" and hello["scope"] == scope
            assert hello["bucket_seconds"] == 10 and "AFINN" in hello["attribution"]
            assert await next_message(ws) == {"type": "viewers", "scope": scope, "count": 1}
            latest = await next_message(ws, "words")
            assert latest["top"] == [[f"w{i:02d}", 20 - i] for i in range(10)]
            history = await next_message(ws, "ticks")
            assert history["ticks"] == [[old, 2, -1.5], [recent, 1, 3.0]]  # last 5 min only

            now = _seconds_ago(0)
            put(stores.tickdb.url, {f"{scope}:{now}": {"n": 4, "sentiment": 0.25}})
            assert (await next_message(ws, "ticks"))["ticks"] == [[now, 4, 0.25]]

            second = await session.ws_connect(f"{pulse.url}/ws/{scope}")
            assert (await next_message(ws, "viewers"))["count"] == 2
            await second.close()
            assert (await next_message(ws, "viewers"))["count"] == 1
            await ws.close()

    run(scenario())


def test_sse_viewers_get_the_same_stream(pulse, stores, name):
    scope = f"event:{name}"
    put(stores.clouddb.url, {f"{scope}:{_seconds_ago(15)}": {"vote": 3, "count": 1}})
    put(stores.tickdb.url, {f"{scope}:{_seconds_ago(15)}": {"n": 3, "sentiment": 2.0}})

    async def scenario():
        async with aiohttp.ClientSession() as session:
            response = await session.get(f"{pulse.url}/sse/{scope}", headers={"Origin": ORIGIN})
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
            assert (await next_sse(response))["type"] == "hello"
            assert (await next_sse(response, "viewers"))["count"] == 1
            assert (await next_sse(response, "words"))["top"] == [["vote", 3], ["count", 1]]
            ticks = (await next_sse(response, "ticks"))["ticks"]
            assert [t[1:] for t in ticks] == [[3, 2.0]]
            response.close()

    run(scenario())


def test_unlisted_origins_bad_scopes_and_room_scopes_without_a_moderators_ticket_are_refused(
        pulse, name):
    room = f"bio-{name}"

    async def scenario():
        async with aiohttp.ClientSession() as session:
            for path in (f"/ws/event:{name}", f"/sse/event:{name}"):
                async with session.get(pulse.url + path,
                                       headers={"Origin": "https://evil.example"}) as r:
                    assert r.status == 403
            for scope in ("nope", "event:", "event:UPPER", "room:", "other:x"):
                async with session.get(f"{pulse.url}/sse/{scope}") as r:
                    assert r.status == 404
            async with session.get(f"{pulse.url}/sse/room:{room}") as r:
                assert r.status == 403
            # Another room's ticket, and a student's (the charts are the teacher's view).
            for wrong in (signing.follow_ticket(SECRET, f"other-{name}", 1, "moderator"),
                          signing.follow_ticket(SECRET, room, 1, "student")):
                async with session.get(f"{pulse.url}/sse/room:{room}?ticket={wrong}") as r:
                    assert r.status == 403
            ticket = signing.follow_ticket(SECRET, room, 1, "moderator")
            ws = await session.ws_connect(f"{pulse.url}/ws/room:{room}?ticket={ticket}",
                                          headers={"Origin": ORIGIN})
            assert (await next_message(ws))["scope"] == f"room:{room}"
            await ws.close()

    run(scenario())


def test_the_pipeline_from_signed_events_to_a_chart(stores, tmp_path, name):
    """Events into a collector, words out of pulse; then pulse says goodbye on SIGTERM."""
    collector = start_collector(tmp_path, stores.clouddb.url, stores.tickdb.url,
                                name="collector-e2e")
    pulse = start_pulse(tmp_path, stores.clouddb.url, stores.tickdb.url, name="pulse-e2e")
    room = f"sotu-{name}"
    try:
        collector_events = [message(room, 1, f"{name}zebras are great", past_moment(12)),
                            message(room, 2, f"The {name}zebra!", past_moment(12))]
        for event in collector_events:
            assert post(collector.url, event).status_code == 202

        async def scenario():
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"{pulse.url}/ws/event:sotu",
                                              headers={"Origin": ORIGIN})
                deadline = time.monotonic() + 5 * UNIT
                while True:
                    words = await next_message(ws, "words",
                                               timeout=max(deadline - time.monotonic(), 0.1))
                    if [f"{name}zebra", 2] in words["top"]:
                        break
                pulse.signal(signal.SIGTERM)
                goodbye = await next_message(ws, "reconnect")
                assert 500 <= goodbye["delay_ms"] <= 5000
                closing = await ws.receive(timeout=5 * UNIT)
                assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1012

        run(scenario())
        assert pulse.wait(timeout=3) == 0, pulse.log_tail()  # no client left hanging
    finally:
        pulse.stop()
        collector.stop()
