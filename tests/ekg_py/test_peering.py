"""Presence across nodes as it runs: real `python -m ekg_py` processes that report their
counts to each other (`--peer`), real WebSocket clients on each."""

from __future__ import annotations

import asyncio
import json
import signal

import aiohttp
import pytest

from contract import events, signing
from testkit.ports import free_port

from .support import SECRET, UNIT, eventually, stream_url

PATH = "/internal/presence"


def run(coro):
    return asyncio.run(coro)


async def post_report(session: aiohttp.ClientSession, base: str, body: object, *,
                      sign: bool = True, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if sign:
        headers[signing.HEADER] = signing.sign(SECRET, "POST", PATH, data)
    async with session.post(base + PATH, data=data, headers=headers) as response:
        return response.status, await response.json(content_type=None)


class PresenceWatcher:
    """A WebSocket client of a room that keeps the latest presence count it was sent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.count: int | None = None

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, base: str, room: str):
        return cls(await session.ws_connect(stream_url(base, "ws", room)))

    async def count_is(self, expected: int) -> bool:
        try:
            message = await self.ws.receive(timeout=0.05)
        except TimeoutError:
            return self.count == expected
        if message.type is aiohttp.WSMsgType.TEXT:
            decoded = json.loads(message.data)
            if decoded.get("type") == events.PRESENCE:
                self.count = decoded["count"]
        return self.count == expected


def start_pair(start_ekg, *flags: str):
    """Two nodes, each the other's peer (the second one's port chosen up front)."""
    second_port = free_port()
    first = start_ekg("--peer", f"http://127.0.0.1:{second_port}", *flags)
    second = start_ekg("--port", str(second_port), "--peer", first.base, *flags)
    return first, second


# -- the internal endpoint ------------------------------------------------------------
def test_a_presence_report_needs_a_good_signature_and_body(ekg):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            good = {"node": "other", "n": 1, "full": True, "ttl": 30, "rooms": {"r": 2}}
            status, answer = await post_report(session, ekg.base, good, sign=False)
            assert (status, answer["error"]["code"]) == (401, "bad_signature")
            for bad in (b"not json", b"\xff\xfe", b"[]",
                        json.dumps({**good, "rooms": {"r": -2}}).encode(),
                        json.dumps({**good, "ttl": "forever"}).encode()):
                status, answer = await post_report(session, ekg.base, None, raw=bad)
                assert status == 400, bad
                assert answer["error"]["code"] == "bad_report" and answer["error"]["message"]
            status, answer = await post_report(session, ekg.base, good)
            assert (status, answer) == (202, {"ok": True, "taken": True, "full_wanted": False})
            status, answer = await post_report(session, ekg.base, good)  # replayed
            assert (status, answer["taken"]) == (202, False)
            async with session.get(ekg.base + "/healthz") as response:
                assert (await response.json())["peers_reporting"] >= 1

    run(scenario())


def test_a_node_listed_among_its_own_peers_finds_out_and_skips_itself(start_ekg):
    port = free_port()
    node = start_ekg("--port", str(port), "--peer", f"http://127.0.0.1:{port}",
                     "--presence-interval", str(0.1 * UNIT))

    async def scenario():
        async with aiohttp.ClientSession() as session:
            watcher = await PresenceWatcher.open(session, node.base, "alone")
            await eventually(lambda: watcher.count_is(1))

            async def told_itself() -> bool:
                return "is this node" in node.log()

            await eventually(told_itself)
            await asyncio.sleep(0.5 * UNIT)
            assert watcher.count == 1  # not counted twice
            async with session.get(node.base + "/healthz") as response:
                assert (await response.json())["peers_reporting"] == 0

    run(scenario())


def test_two_nodes_under_one_id_are_refused_with_409_and_say_so(start_ekg):
    """Two hosts of the same name on the same port get the same default id: each would
    take the other's reports for its own. They are refused, and both logs tell the
    operator what to do; neither node counts the other's clients twice."""
    first, second = start_pair(start_ekg, "--node-id", "push-a", "--presence-interval",
                               str(0.1 * UNIT))

    async def scenario():
        async with aiohttp.ClientSession() as session:
            watcher = await PresenceWatcher.open(session, first.base, "r")

            async def both_logged() -> bool:
                return all("give each node its own --node-id" in node.log()
                           for node in (first, second))

            await eventually(both_logged)
            await eventually(lambda: watcher.count_is(1))
            status, answer = await post_report(session, first.base, {
                "node": "push-a", "instance": "someone-else", "n": 1, "full": True,
                "ttl": 30, "rooms": {"r": 5}})
            assert (status, answer["error"]["code"]) == (409, "duplicate_node_id")
            await asyncio.sleep(0.3 * UNIT)
            assert not await watcher.count_is(6) and watcher.count == 1
            # Logged once per other instance (the second node's, then this post's), not
            # once per report.
            assert first.log().count("another node reports under this node's id") == 2
            assert first.log().count("has this node's id") == 1
            await watcher.ws.close()

    run(scenario())


# -- two nodes ------------------------------------------------------------------------
def test_two_nodes_show_a_rooms_clients_on_both_and_drop_a_killed_node(start_ekg):
    first, second = start_pair(start_ekg, "--presence-interval", str(0.1 * UNIT))

    async def scenario():
        async with aiohttp.ClientSession() as session:
            on_first = [await PresenceWatcher.open(session, first.base, "bio-101")
                        for _ in range(2)]
            on_second = await PresenceWatcher.open(session, second.base, "bio-101")
            elsewhere = await PresenceWatcher.open(session, second.base, "chem-2")
            for watcher in (*on_first, on_second):
                await eventually(lambda w=watcher: w.count_is(3))
            await eventually(lambda: elsewhere.count_is(1))
            await on_first[1].ws.close()
            for watcher in (on_first[0], on_second):
                await eventually(lambda w=watcher: w.count_is(2))
            # kill -9: no goodbye; the second node's count goes when its ttl runs out
            # (30 presence intervals).
            second.signal(signal.SIGKILL)
            await eventually(lambda: on_first[0].count_is(1), timeout=20 * UNIT)

    run(scenario())


def test_a_node_that_shuts_down_takes_its_count_with_it_at_once(start_ekg):
    # A presence interval of 1 s puts the ttl at 30 s: the drop must come from the
    # shutting-down node's last report, not from the ttl.
    first, second = start_pair(start_ekg, "--presence-interval", "1", "--shutdown-grace",
                               str(1 * UNIT))

    async def scenario():
        async with aiohttp.ClientSession() as session:
            here = await PresenceWatcher.open(session, first.base, "r")
            there = await PresenceWatcher.open(session, second.base, "r")
            await eventually(lambda: here.count_is(2), timeout=15 * UNIT)
            second.signal(signal.SIGTERM)
            await there.ws.receive(timeout=5 * UNIT)  # the reconnect message
            await eventually(lambda: here.count_is(1), timeout=10 * UNIT)
            assert second.process.wait(timeout=10 * UNIT) == 0

    run(scenario())


def test_a_node_restarted_after_a_crash_replaces_its_old_counts_at_once(start_ekg):
    """Same host and port, so the same reporter: its first full report replaces what it
    reported before the crash, rather than adding to it until the old counts' ttl (15 s
    at a presence interval of 0.5 s) runs out."""
    flags = ("--presence-interval", "0.5")
    first, second = start_pair(start_ekg, *flags)

    async def scenario():
        async with aiohttp.ClientSession() as session:
            here = await PresenceWatcher.open(session, first.base, "r")
            there = [await PresenceWatcher.open(session, second.base, "r") for _ in range(2)]
            await eventually(lambda: here.count_is(3), timeout=10 * UNIT)
            second.signal(signal.SIGKILL)
            second.process.wait()
            restarted = start_ekg("--port", str(second.port), "--peer", first.base, *flags)
            back = await PresenceWatcher.open(session, restarted.base, "r")
            await eventually(lambda: back.count_is(2), timeout=10 * UNIT)
            # Well inside the old counts' ttl: they were replaced, not expired.
            await eventually(lambda: here.count_is(2), timeout=8 * UNIT)
            for watcher in (here, back, *there):
                await watcher.ws.close()

    run(scenario())


@pytest.mark.parametrize("peer", ["ftp://x:1", "http://", "127.0.0.1:8200",
                                  "http://10.0.0.2:8200/path"])
def test_a_peer_that_is_not_a_base_url_stops_the_node_at_start(start_ekg, peer):
    with pytest.raises(RuntimeError, match="not a base URL"):
        start_ekg("--peer", peer)
