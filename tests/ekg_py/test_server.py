"""ekg as it runs: `python -m ekg_py` in a subprocess on a free port, real clients.

Events arrive as reflektor replays them (signed POSTs); browsers are aiohttp WebSocket
clients, a small EventSource reader, and one raw socket that never reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from contract import events, signing
from testkit.rawstream import open_stream

from .support import (
    CLI_ORIGIN,
    ENV_ORIGIN,
    INCARNATION,
    ROOT,
    SECRET,
    UNIT,
    SseReader,
    delete_room,
    eventually,
    make_event,
    next_json,
    next_seqs,
    nothing_more,
    post_event,
    publish,
    stream_url,
    ticket,
)


def run(coro):
    return asyncio.run(coro)


async def health(session: aiohttp.ClientSession, base: str) -> dict:
    async with session.get(base + "/healthz") as response:
        return await response.json()


# -- fan-out ---------------------------------------------------------------------------
def test_websocket_and_sse_clients_receive_signed_events_in_order(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(stream_url(ekg.base, "ws", room)) for _ in range(5)]
            streams = []
            for _ in range(2):
                response = await session.get(stream_url(ekg.base, "sse", room))
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/event-stream")
                streams.append(SseReader(response))
            await eventually(lambda: _count(session, ekg.base, room, 7))
            await publish(session, ekg.base, room, range(1, 21))
            for ws in sockets:
                assert await next_seqs(ws, 20) == list(range(1, 21))
            for stream in streams:
                received = [await stream.next_event() for _ in range(20)]
                assert [event_id for event_id, _ in received] == [str(s) for s in range(1, 21)]
                assert [data["seq"] for _, data in received] == list(range(1, 21))
                assert received[0][1] == {**received[0][1], "type": "message.created",
                                          "room": room, "v": 1}
                stream.response.close()
            for ws in sockets:
                await ws.close()

    run(scenario())


def test_events_that_arrive_during_a_flush_round_share_its_writes(start_ekg, room):
    """A round over a room writes FLUSH_SLICE connections per loop turn; events taken
    in between join the writes still to come, so one write carries several (counted
    on /healthz), and every client still gets every event once, in order."""
    # A long reorder window: on a slow machine concurrent posts may arrive far apart.
    node = start_ekg("--reorder-ms", "3000")
    clients = 300  # ten slices

    async def scenario():
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            sockets = await asyncio.gather(*(session.ws_connect(stream_url(node.base, "ws", room))
                                             for _ in range(clients)))
            await eventually(lambda: _count(session, node.base, room, clients))
            before = await health(session, node.base)
            await publish(session, node.base, room, [1])  # then the node knows what is next
            await asyncio.gather(*(publish(session, node.base, room, [seq])
                                   for seq in range(2, 41)))
            received = await asyncio.gather(*(next_seqs(ws, 40) for ws in sockets))
            # Concurrent posts may reach the node in any order; it sends them in order.
            assert all(seqs == list(range(1, 41)) for seqs in received)
            after = await health(session, node.base)
            writes = after["stream_writes"] - before["stream_writes"]
            frames = after["stream_frames"] - before["stream_frames"]
            assert frames >= clients * 40
            assert writes < frames, "no write carried more than one event"
            await asyncio.gather(*(ws.close() for ws in sockets))

    run(scenario())


async def _count(session: aiohttp.ClientSession, base: str, room: str, expected: int) -> bool:
    # The count of one room is not exposed; with rooms of their own, tests watch presence
    # instead. Here: the node-wide count has at least the expected connections.
    return (await health(session, base))["connections"] >= expected


def test_a_redelivered_event_is_acknowledged_and_not_sent_twice(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room))
            await next_json(ws, skip_presence=False)  # connected: its presence arrives
            event = make_event(room, 1)
            assert await post_event(session, ekg.base, event) == (
                202, {"ok": True, "duplicate": False})
            assert await post_event(session, ekg.base, event) == (
                202, {"ok": True, "duplicate": True})
            await publish(session, ekg.base, room, [2])
            assert await next_seqs(ws, 2) == [1, 2]
            await ws.close()

    run(scenario())


# -- replay and resync -----------------------------------------------------------------
def test_resume_with_after_replays_from_the_ring_buffer_then_goes_live(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, ekg.base, room, range(1, 11))
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room, after=4))
            assert await next_seqs(ws, 6) == [5, 6, 7, 8, 9, 10]
            await publish(session, ekg.base, room, [11])
            assert await next_seqs(ws, 1) == [11]
            await ws.close()
            async with session.get(stream_url(ekg.base, "sse", room, after=8)) as response:
                stream = SseReader(response)
                assert [(await stream.next_event())[0] for _ in range(3)] == ["9", "10", "11"]

    run(scenario())


def test_resync_when_the_node_no_longer_holds_the_events(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, ekg.base, room, range(1, 61))  # the ring holds 50
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room, after=3))
            assert await next_json(ws) == {"type": "resync", "room": room, "after": 3}
            await publish(session, ekg.base, room, [61])
            assert await next_seqs(ws, 1) == [61]
            await ws.close()
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room, after=11))
            assert await next_seqs(ws, 50) == list(range(12, 62))  # 12..61 still held
            await ws.close()

    run(scenario())


@pytest.mark.parametrize("after", [0, 5])
def test_resync_when_the_node_has_no_history_for_the_room(ekg, room, after):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room, after=after))
            assert await next_json(ws) == {"type": "resync", "room": room, "after": after}
            await ws.close()

    run(scenario())


def test_an_event_ahead_of_a_gap_waits_for_it_and_all_go_out_in_order(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, ekg.base, room, [1, 2, 4])
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room, after=1))
            assert await next_seqs(ws, 1) == [2]  # replayed; 4 waits for 3
            await publish(session, ekg.base, room, [3])
            assert await next_seqs(ws, 2) == [3, 4]
            await ws.close()

    run(scenario())


def test_resync_when_an_event_in_between_never_arrived(start_ekg, room):
    node = start_ekg("--reorder-ms", "20")

    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, node.base, room, [1, 2, 4])
            await asyncio.sleep(0.2)  # the window passes: 4 is held with a hole before it
            ws = await session.ws_connect(stream_url(node.base, "ws", room, after=1))
            assert await next_json(ws) == {"type": "resync", "room": room, "after": 1}
            await publish(session, node.base, room, [3])  # late, still delivered live
            assert await next_seqs(ws, 1) == [3]
            await ws.close()

    run(scenario())


def test_sse_honours_last_event_id_taking_the_larger_of_it_and_after(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, ekg.base, room, range(1, 11))
            for after, last_id, first in [(None, "6", 7), (3, "6", 7),
                                          (8, "6", 9), (2, "junk", 3)]:
                async with session.get(stream_url(ekg.base, "sse", room, after=after),
                                       headers={"Last-Event-ID": last_id}) as response:
                    event_id, data = await SseReader(response).next_event()
                    assert (event_id, data["seq"]) == (str(first), first), (after, last_id)

    run(scenario())


def test_sse_over_http_1_0_is_a_bare_stream_that_the_close_ends(ekg, room):
    """HTTP/1.0 has no chunked framing: the events go out as they are."""

    async def scenario():
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, ("127.0.0.1", ekg.port))
            path = stream_url("", "sse", room)
            await loop.sock_sendall(sock, f"GET {path} HTTP/1.0\r\n\r\n".encode())
            received = b""
            async with aiohttp.ClientSession() as session:
                await eventually(lambda: _count(session, ekg.base, room, 1))
                await publish(session, ekg.base, room, [1, 2])
            async with asyncio.timeout(5 * UNIT):
                while received.count(b"data: {\"v\"") < 2:
                    chunk = await loop.sock_recv(sock, 65536)
                    assert chunk, received
                    received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.0 200") and b"chunked" not in head.lower()
            assert b"id: 1\ndata: {" in body and b"id: 2\ndata: {" in body
            assert b"\r\n" not in body  # no chunk framing
        finally:
            sock.close()

    run(scenario())


def test_sse_sends_keep_alive_comments(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.get(stream_url(ekg.base, "sse", room)) as response:
                lines = []
                async with asyncio.timeout(5 * UNIT):  # keep-alive every 0.3 s here
                    while lines.count(b": keep-alive\n") < 2:
                        lines.append(await response.content.readline())
                others = set(lines) - {b": keep-alive\n", b"\n"}
                assert all(b'"type":"presence"' in line for line in others)

    run(scenario())


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", "9" * 19])
def test_a_bad_after_is_a_400(ekg, room, after):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            for kind in ("ws", "sse"):
                async with session.get(stream_url(ekg.base, kind, room, after=after)) as response:
                    assert response.status == 400
                    assert (await response.json())["error"]["code"] == "bad_request"

    run(scenario())


# -- the internal endpoint ---------------------------------------------------------------
@pytest.mark.parametrize("case", ["missing", "wrong", "other-secret", "stale", "future",
                                  "tampered", "other-path", "malformed"])
def test_internal_endpoint_refuses_bad_signatures_with_401(ekg, room, case):
    event = make_event(room, 1)
    body = json.dumps(event).encode()
    path = f"/internal/rooms/{room}/events"
    kwargs: dict = {
        "missing": {"signature": None},
        "wrong": {"signature": f"t={int(time.time())},v1={'0' * 64}"},
        "other-secret": {"secret": "not-the-secret"},
        "stale": {"now": time.time() - 61},
        "future": {"now": time.time() + 61},
        "tampered": {"sign_body": body.replace(b"hello", b"HELLO")},
        "other-path": {"signature": signing.sign(SECRET, "POST", "/internal/rooms/x/events",
                                                 body)},
        "malformed": {"signature": "v1=abc"},
    }[case]

    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room))
            status, answer = await post_event(session, ekg.base, body=body, path=path, **kwargs)
            assert status == 401
            assert answer["error"]["code"] == "bad_signature"
            await nothing_more(ws)
            await ws.close()

    run(scenario())


@pytest.mark.parametrize("body", [
    b"not json",
    b"\xff\xfe",
    b"[]",
    json.dumps({"v": 1, "type": "message.created", "room": "x", "seq": 1}).encode(),
    json.dumps({**make_event("x", 1), "seq": 0}).encode(),
    json.dumps({**make_event("x", 1), "type": "presence"}).encode(),
])
def test_internal_endpoint_refuses_a_bad_envelope_with_400(ekg, body):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            status, answer = await post_event(session, ekg.base, body=body, room="x")
            assert status == 400
            assert answer["error"]["code"] == "bad_event"

    run(scenario())


def test_internal_endpoint_refuses_an_event_for_another_room_with_400(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room))
            status, answer = await post_event(session, ekg.base, make_event("elsewhere", 1),
                                              room=room)
            assert status == 400
            assert answer["error"]["code"] == "room_mismatch"
            await nothing_more(ws)
            await ws.close()

    run(scenario())


def test_a_room_tm_deleted_is_forgotten_at_once(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, ekg.base, room, [1, 2], text="said before the delete")
            path = f"/internal/rooms/{room}"

            async def delete(secret: str, deleted_at: str = "2026-11-24T00:00:00.000Z",
                             raw: bytes | None = None) -> tuple[int, dict]:
                body = json.dumps({"deleted_at": deleted_at}).encode() if raw is None else raw
                headers = {signing.HEADER: signing.sign(secret, "DELETE", path, body)}
                async with session.delete(ekg.base + path, data=body,
                                          headers=headers) as response:
                    return response.status, await response.json()

            assert (await delete("wrong"))[0] == 401
            assert (await delete(SECRET, raw=b"{}"))[0] == 400
            assert (await delete(SECRET, deleted_at="yesterday"))[0] == 400
            # Deleted before these events were made: they are a new room's; kept.
            assert await delete(SECRET, deleted_at="2026-11-23T09:00:00.000Z") == (
                200, {"ok": True, "forgot": False})
            assert await delete(SECRET) == (200, {"ok": True, "forgot": True})
            assert await delete(SECRET) == (200, {"ok": True, "forgot": False})
            # The room made again after the deletion has nothing of the old one.
            ws = await session.ws_connect(stream_url(
                ekg.base, "ws", room, after=0, incarnation=datetime(2026, 11, 24, 1, tzinfo=UTC)))
            assert await next_json(ws) == {"type": "resync", "room": room, "after": 0}
            await ws.close()

    run(scenario())


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/internal/rooms/r/messages"),
    ("POST", "/internal/flush"),
    ("GET", "/internal/rooms/r/events"),
    ("DELETE", "/internal/rooms/r/events"),
    ("POST", "/internal/rooms/r/events/extra"),
])
def test_unknown_internal_calls_are_404_which_reflektor_counts_as_done(ekg, method, path):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            body = b"{}"
            headers = {signing.HEADER: signing.sign(SECRET, method, path, body)}
            async with session.request(method, ekg.base + path, data=body,
                                       headers=headers) as response:
                assert response.status == 404
                assert (await response.json())["error"]["code"] == "not_found"

    run(scenario())


# -- origins and moderators ---------------------------------------------------------------
def test_a_websocket_handshake_from_an_unlisted_origin_is_refused_with_403(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(stream_url(ekg.base, "ws", room),
                                         headers={"Origin": "http://evil.example"})
            assert refused.value.status == 403
            async with session.get(stream_url(ekg.base, "sse", room),
                                   headers={"Origin": "http://evil.example"}) as response:
                assert response.status == 403
            # Listed origins (from the flag and from EKG_ALLOWED_ORIGINS) and
            # origin-less clients (not browsers) connect.
            for headers in ({"Origin": CLI_ORIGIN}, {"Origin": ENV_ORIGIN + "/"}, {}):
                ws = await session.ws_connect(stream_url(ekg.base, "ws", room), headers=headers)
                await ws.close()
            async with session.get(stream_url(ekg.base, "sse", room),
                                   headers={"Origin": CLI_ORIGIN}) as response:
                assert response.status == 200
                assert response.headers["Access-Control-Allow-Origin"] == CLI_ORIGIN
            # The SSE preflight answers listed origins only.
            async with session.options(stream_url(ekg.base, "sse", room),
                                       headers={"Origin": CLI_ORIGIN}) as response:
                assert response.status == 204
                assert response.headers["Access-Control-Allow-Origin"] == CLI_ORIGIN
                assert "Last-Event-ID" in response.headers["Access-Control-Allow-Headers"]
            async with session.options(stream_url(ekg.base, "sse", room),
                                       headers={"Origin": "http://evil.example"}) as response:
                assert response.status == 403

    run(scenario())


def test_pending_messages_reach_moderator_connections_only(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            student = await session.ws_connect(stream_url(ekg.base, "ws", room))
            moderator = await session.ws_connect(
                stream_url(ekg.base, "ws", room, role="moderator"))
            moderator_sse = await session.get(
                stream_url(ekg.base, "sse", room, role="moderator"))
            student_sse = await session.get(stream_url(ekg.base, "sse", room))
            await publish(session, ekg.base, room, [1])
            await publish(session, ekg.base, room, [2], event_type=events.MESSAGE_PENDING)
            await publish(session, ekg.base, room, [3])
            assert [m["type"] for m in [await next_json(moderator) for _ in range(3)]] == [
                "message.created", "message.pending", "message.created"]
            student_got = [await next_json(student) for _ in range(3)]
            assert [(m["type"], m["seq"]) for m in student_got] == [
                ("message.created", 1), ("skip", 2), ("message.created", 3)]
            assert "data" not in student_got[1]
            moderator_stream, student_stream = SseReader(moderator_sse), SseReader(student_sse)
            assert [(await moderator_stream.next_event())[1]["seq"] for _ in range(3)] == [1, 2, 3]
            student_sse_got = [(await student_stream.next_event())[1] for _ in range(3)]
            assert [m["type"] for m in student_sse_got] == [
                "message.created", "skip", "message.created"]
            # A replay holds the skip, not the pending message, for students and
            # read-only viewers (a projector) too.
            late = await session.ws_connect(stream_url(ekg.base, "ws", room, after=0))
            late_got = [await next_json(late) for _ in range(3)]
            assert [m["type"] for m in late_got] == ["message.created", "skip", "message.created"]
            viewer = await session.ws_connect(
                stream_url(ekg.base, "ws", room, after=0, role="viewer"))
            assert [(await next_json(viewer))["type"] for _ in range(3)] == [
                "message.created", "skip", "message.created"]
            for ws in (student, moderator, late, viewer):
                await ws.close()
            moderator_sse.close()
            student_sse.close()

    run(scenario())


# -- follow tickets --------------------------------------------------------------------
def _forged(room: str) -> str:
    real = ticket(room, role="student")
    return real.replace(".student.", ".moderator.")  # the MAC no longer matches


BAD_TICKETS = {
    "junk": lambda room: "a.b.c",
    "forged role": _forged,
    "other secret": lambda room: signing.follow_ticket(
        "not-the-secret", room, signing.incarnation_ms(INCARNATION), "moderator"),
    "other room": lambda room: ticket("other-room"),
    "expired": lambda room: ticket(room, now=time.time() - 10, ttl=5),
    "huge incarnation": lambda room: ticket(room).replace(
        f".{signing.incarnation_ms(INCARNATION)}.", "." + "9" * 400 + "."),
    "unicode": lambda room: "ft1.١٢.1.student.1.x",
}


@pytest.mark.parametrize("kind", ["ws", "sse"])
def test_a_stream_without_a_ticket_is_refused_with_401_before_any_event(ekg, room, kind):
    """The hole this closes: `?after=0` with no Origin and no credential replayed a
    password room's messages to anyone."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, ekg.base, room, [1, 2])
            for query in ("", "?after=0", "?ticket=&after=0"):
                async with session.get(f"{ekg.base}/{kind}/{room}{query}") as response:
                    assert response.status == 401
                    body = await response.json()
                    assert body["error"]["code"] == "unauthorized"
                    assert "hello" not in json.dumps(body)

    run(scenario())


@pytest.mark.parametrize("which", sorted(BAD_TICKETS))
def test_a_bad_ticket_is_refused_with_403_before_any_event(ekg, room, which):
    value = BAD_TICKETS[which](room)

    async def scenario():
        async with aiohttp.ClientSession() as session:
            await publish(session, ekg.base, room, [1])
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{ekg.base}/ws/{room}", params={"ticket": value,
                                                                          "after": "0"})
            assert refused.value.status == 403
            async with session.get(f"{ekg.base}/sse/{room}",
                                   params={"ticket": value, "after": "0"}) as response:
                assert response.status == 403
                assert (await response.json())["error"]["code"] == "forbidden"

    run(scenario())


def test_a_deleted_rooms_tickets_are_refused_and_its_streams_end_with_gone(ekg, room):
    """tm deletes the room (or it expires): its followers get `gone` and their streams
    close; tickets of that incarnation no longer open one; the room made again under
    the name is followed with its own."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(stream_url(ekg.base, "ws", room))
            sse = await session.get(stream_url(ekg.base, "sse", room))
            reader = SseReader(sse)
            await publish(session, ekg.base, room, [1])
            assert (await next_json(ws))["seq"] == 1
            assert (await reader.next_event())[1]["seq"] == 1
            status, _ = await delete_room(session, ekg.base, room,
                                          INCARNATION + timedelta(hours=2))
            assert status == 200
            assert await next_json(ws) == {"type": "gone", "room": room}
            closing = await ws.receive(timeout=5 * UNIT)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4410
            assert (await reader.next_event())[1] == {"type": "gone", "room": room}
            with pytest.raises(EOFError):
                await reader.next_event()
            sse.close()
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(stream_url(ekg.base, "ws", room))
            assert refused.value.status == 403
            # The new room of that name (created after the deletion) is followed.
            again = INCARNATION + timedelta(hours=3)
            fresh = await session.ws_connect(stream_url(ekg.base, "ws", room, after=0,
                                                        incarnation=again))
            assert (await next_json(fresh))["type"] == "resync"  # the old events are gone
            await fresh.close()
            assert (await health(session, ekg.base))["streams_ended"] == 2

    run(scenario())


def test_a_newer_incarnation_ends_the_older_ones_streams_and_tickets(ekg, room):
    """The deletion's announcement may come late (or to a node restarted since): the
    first ticket of the room made again tells the node that the old room is gone."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            old = await session.ws_connect(stream_url(ekg.base, "ws", room))
            await publish(session, ekg.base, room, [1, 2])
            assert await next_seqs(old, 2) == [1, 2]
            again = datetime.now(UTC)
            new = await session.ws_connect(stream_url(ekg.base, "ws", room, after=0,
                                                      incarnation=again))
            assert await next_json(old) == {"type": "gone", "room": room}
            # The old room's events are not the new room's: they are dropped.
            assert (await next_json(new))["type"] == "resync"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(stream_url(ekg.base, "ws", room))
            assert refused.value.status == 403
            await new.close()
            await old.close()

    run(scenario())


# -- presence --------------------------------------------------------------------------
def test_presence_counts_follow_connections(ekg, room):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            watcher = await session.ws_connect(stream_url(ekg.base, "ws", room))
            latest = {"count": 0}

            async def count_is(expected: int) -> bool:
                try:
                    message = await next_json(watcher, skip_presence=False, timeout=0.05)
                except (AssertionError, TimeoutError):
                    return latest["count"] == expected
                assert message["type"] == "presence" and "seq" not in message
                latest["count"] = message["count"]
                return latest["count"] == expected

            await eventually(lambda: count_is(1))
            others = [await session.ws_connect(stream_url(ekg.base, "ws", room)) for _ in range(3)]
            stream = await session.get(stream_url(ekg.base, "sse", room))
            await eventually(lambda: count_is(5))
            for ws in others[:2]:
                await ws.close()
            stream.close()
            await eventually(lambda: count_is(2))
            for ws in (watcher, others[2]):
                await ws.close()

    run(scenario())


# -- slow clients ----------------------------------------------------------------------
async def raw_client_that_never_reads(port: int, room: str, transport: str) -> socket.socket:
    """A WebSocket or SSE client with a tiny receive buffer that stops reading after the
    handshake: the server's queue for it can only grow."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    # One byte at a time: nothing past the handshake lands in this process's buffers.
    await asyncio.wait_for(open_stream(sock, stream_url("", transport, room), port,
                                       transport, read_size=1), 5 * UNIT)
    return sock


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_a_slow_client_is_disconnected_while_the_others_keep_receiving(start_ekg, room,
                                                                       transport):
    node = start_ekg("--max-queue-bytes", str(64 * 1024))
    big = "x" * 16_000

    async def scenario():
        async with aiohttp.ClientSession() as session:
            slow = await raw_client_that_never_reads(node.port, room, transport)
            readers = [await session.ws_connect(stream_url(node.base, "ws", room), max_msg_size=0)
                       for _ in range(3)]
            received: list[list[int]] = [[] for _ in readers]

            async def read(ws, into):
                while True:
                    into.append((await next_json(ws, timeout=30 * UNIT))["seq"])

            reading = [asyncio.ensure_future(read(ws, into))
                       for ws, into in zip(readers, received, strict=True)]

            async def evicted() -> bool:
                return (await health(session, node.base))["evictions"] == 1

            # Publish until the socket buffers in between are full and the node's queue
            # for the slow client passes its bound (a few MB on loopback); bounded.
            published = 0
            while published < 800 and not await evicted():
                await publish(session, node.base, room, range(published + 1, published + 21),
                              text=big)
                published += 20
            assert await evicted(), "the slow client was never disconnected"
            await publish(session, node.base, room, [published + 1])
            published += 1

            async def all_read() -> bool:
                return all(len(into) == published for into in received)

            await eventually(all_read, timeout=10 * UNIT)
            assert received == [list(range(1, published + 1))] * 3
            assert (await health(session, node.base))["connections"] == 3
            for task in reading:
                task.cancel()
            slow.close()
            for ws in readers:
                await ws.close()

    run(scenario())
    assert "evicting a slow client" in node.log()


# -- shutdown and the command line --------------------------------------------------------
def test_sigterm_tells_clients_to_reconnect_closes_them_and_exits_0(start_ekg, room):
    node = start_ekg()

    async def scenario():
        async with aiohttp.ClientSession() as session:
            url = stream_url(node.base, "ws", room)
            sockets = [await session.ws_connect(url) for _ in range(3)]
            response = await session.get(stream_url(node.base, "sse", room))
            stream = SseReader(response)
            await eventually(lambda: _count(session, node.base, room, 4))
            node.signal(signal.SIGTERM)
            delays = set()
            for ws in sockets:
                message = await next_json(ws)
                assert message["type"] == "reconnect"
                assert 500 <= message["delay_ms"] <= 5000
                delays.add(message["delay_ms"])
                closing = await ws.receive(timeout=5 * UNIT)
                assert closing.type is aiohttp.WSMsgType.CLOSE
                assert closing.data == 1012
            _, message = await stream.next_event()
            assert message["type"] == "reconnect"
            assert stream.retry == message["delay_ms"]  # EventSource waits that long
            with pytest.raises(EOFError):
                await stream.next_event()
            response.close()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, lambda: node.process.wait(10 * UNIT))

    started = time.monotonic()
    assert run(scenario()) == 0
    assert time.monotonic() - started < 5 * UNIT  # no client was left to the grace timeout


def test_the_command_line_refuses_to_start_without_the_secret():
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TM_INTERNAL_SECRET", "EKG_SECRET")}
    result = subprocess.run(
        [sys.executable, "-m", "ekg_py", "--port", "0", "--secret-env", "EKG_SECRET"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=10 * UNIT)
    assert result.returncode == 2
    assert "EKG_SECRET is not set" in result.stderr


def test_the_secret_can_come_from_another_variable(start_ekg, room):
    node = start_ekg("--secret-env", "EKG_SECRET",
                     env={"TM_INTERNAL_SECRET": "", "EKG_SECRET": SECRET})

    async def scenario():
        async with aiohttp.ClientSession() as session:
            assert (await post_event(session, node.base, make_event(room, 1)))[0] == 202

    run(scenario())



# -- slow and greedy clients -----------------------------------------------------------
def test_a_client_trickling_half_a_request_is_closed_and_a_live_stream_is_not(start_ekg, room):
    """A connection that never finishes its upgrade (a header byte now and then) is
    closed after --request-timeout; an upgraded WebSocket quiet for longer stays."""
    node = start_ekg("--request-timeout", str(1 * UNIT))

    async def scenario():
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as session:
            live = await session.ws_connect(stream_url(node.base, "ws", room))
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, ("127.0.0.1", node.port))
                await loop.sock_sendall(sock, f"GET {stream_url('', 'ws', room)} HTTP/1.1\r\n"
                                              .encode())
                started = time.monotonic()
                closed_after = None
                for _ in range(int(10 / 0.2)):  # trickle for up to 10 s
                    try:
                        await loop.sock_sendall(sock, b"X")
                        data = await asyncio.wait_for(loop.sock_recv(sock, 1024), 0.2)
                    except TimeoutError:
                        continue
                    except OSError:
                        data = b""
                    if data == b"":
                        closed_after = time.monotonic() - started
                        break
                assert closed_after is not None, "the trickling client was never closed"
            finally:
                sock.close()
            # The upgraded stream outlived the timeout and still gets events.
            await publish(session, node.base, room, [1])
            assert (await next_json(live))["seq"] == 1
            await live.close()

    run(scenario())


def test_one_address_holds_at_most_its_share_of_streams(start_ekg, room):
    """--max-streams-per-address (default 5,000: a school of 2,000 with two tabs each is
    far off): past it a new stream gets 429 before the upgrade; one that closes makes
    room. Behind a trusted proxy each client in X-Forwarded-For has its own share, and
    a client cannot pick another share by writing the header itself."""
    node = start_ekg("--max-streams-per-address", "2", "--trusted-proxy", "127.0.0.1")

    async def scenario():
        async with aiohttp.ClientSession() as session:
            def via_proxy(client: str) -> dict[str, str]:
                return {"X-Forwarded-For": client}

            url = stream_url(node.base, "ws", room)
            first = [await session.ws_connect(url, headers=via_proxy("10.0.0.1"))
                     for _ in range(2)]
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url, headers=via_proxy("10.0.0.1"))
            assert refused.value.status == 429
            async with session.get(stream_url(node.base, "sse", room),
                                   headers=via_proxy("10.0.0.1")) as response:
                assert response.status == 429
                assert (await response.json())["error"]["code"] == "too_many_streams"
            # Written by the client in front of what the proxy appended: not believed.
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(url, headers=via_proxy("10.0.0.9, 10.0.0.1"))
            # Another client behind the same proxy has a share of its own.
            other = await session.ws_connect(url, headers=via_proxy("10.0.0.2"))
            await first[0].close()
            await eventually(lambda: _refused_then_open(session, url, via_proxy("10.0.0.1")))
            stats = await health(session, node.base)
            assert stats["refused_streams"] >= 3
            for ws in (*first, other):
                await ws.close()

    run(scenario())


async def _refused_then_open(session, url: str, headers: dict[str, str]) -> bool:
    try:
        ws = await session.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError:
        return False
    await ws.close()
    return True
