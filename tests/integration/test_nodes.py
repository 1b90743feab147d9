"""Two push nodes side by side, as production runs them: reflektor sends every event to
both, each node is the other's `--peer` for presence, and tm gives the pages both URLs.
Clients (testkit/pages.py, the pages' own scripts under Node) start on one node or the
other; a client whose node goes away moves to the next node in its list and resumes
by seq there.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from testkit.pages import Page
from tests.support.stack import Stack, running_stack

from .helpers import UNIT, Api, Burst, converged, eventually, stop_all

# Presence reports every 0.1 s, so a silent node's counts go after 3 s (30 intervals).
PRESENCE_INTERVAL = "0.1"
# Two tm workers publish a burst concurrently; on a busy 2-core machine one of them can
# be held up past the default 0.1 s, and the node then sends on across the gap (the
# client fills it from history, correctly, but the test checks that all came by push).
REORDER_MS = str(int(1000 * UNIT))


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("two-nodes"), ekg_nodes=2,
                       ekg_args=("--presence-interval", PRESENCE_INTERVAL,
                                 "--reorder-ms", REORDER_MS)) as stack:
        yield stack


def run(coro):
    return asyncio.run(coro)


async def clients_on(stack: Stack, room: str, first: int, count: int, *,
                     sse: bool = False) -> list[Page]:
    """`count` clients that start on node `first` and know every node after it. They
    do no periodic seq check: in a burst the room is often a post ahead of what has
    reached them, and the fill a check starts would take events off the push path
    that these tests show to be whole."""
    urls = [node.url for node in stack.ekgs]
    urls = urls[first:] + urls[:first]
    clients = [Page(stack.tm_url, urls, room,
                    name=f"node{first}-{'sse' if sse else 'ws'}-{i}",
                    transport="sse" if sse else "ws", periodic_check=False)
               for i in range(count)]
    await asyncio.gather(*(client.start() for client in clients))
    async with asyncio.timeout(10 * UNIT):
        await asyncio.gather(*(client.settled() for client in clients))
    return clients


def test_clients_on_either_node_get_every_event_and_count_the_whole_room(
        two_nodes: Stack):
    room = "nodes-both"

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, two_nodes)
            await api.create_room(room)
            tokens = [await api.join(room, f"s{i}") for i in range(3)]
            clients = [*await clients_on(two_nodes, room, 0, 2),
                       *await clients_on(two_nodes, room, 1, 2),
                       *await clients_on(two_nodes, room, 1, 1, sse=True)]
            assert {c.push_url for c in clients} == {n.url for n in two_nodes.ekgs}
            burst = await Burst(api, room, tokens, 30, "both").run()
            assert burst.accepted() == set(burst.texts)
            expected = await converged(api, room, clients)
            assert {text for _, _, text in expected} == set(burst.texts)
            for client in clients:
                # Nothing broke: all of it by push, in order, from the client's own node.
                # seq 1 is the room's first event (its settings), before the pages.
                assert client.applied == list(range(2, 32)), client.name
                assert client.stats["connects"] == 1, client.name
            await eventually(lambda: all(c.presence == 5 for c in clients),
                             message="presence does not add up both nodes' clients: "
                                     f"{[c.presence for c in clients]}")
            await stop_all(clients)

    run(scenario())


def test_a_node_killed_mid_burst_its_clients_move_to_the_other(two_nodes: Stack):
    """kill -9 the second node while students post: its clients fail to reconnect
    there, move to the first node and resume by seq; nobody misses or repeats a
    message. The first node stops counting the dead node's clients once its reports
    stop (the ttl) and counts them as they arrive."""
    room = "nodes-kill"
    dead = two_nodes.ekgs[1]

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, two_nodes)
            await api.create_room(room)
            tokens = [await api.join(room, f"s{i}") for i in range(3)]
            staying = await clients_on(two_nodes, room, 0, 2)
            moving = [*await clients_on(two_nodes, room, 1, 2),
                      *await clients_on(two_nodes, room, 1, 1, sse=True)]
            clients = staying + moving
            await eventually(lambda: all(c.presence == 5 for c in clients))
            burst = Burst(api, room, tokens, 60, "crash", pace=0.01)
            posting = asyncio.create_task(burst.run())
            await burst.reached(20)
            dead.kill()
            await posting
            assert burst.accepted() == set(burst.texts)
            await eventually(lambda: all(c.push_url == two_nodes.ekgs[0].url
                                         and c.connected for c in moving),
                             timeout=15 * UNIT, message="a client did not move")
            expected = await converged(api, room, clients, timeout=15 * UNIT)
            assert {text for _, _, text in expected} == set(burst.texts)
            for client in clients:
                assert client.applied == sorted(set(client.applied)), client.name
                assert client.held == []
            await eventually(lambda: all(c.presence == 5 for c in clients),
                             timeout=15 * UNIT,
                             message=f"presence after the move: {[c.presence for c in clients]}")
            await stop_all(clients)

    try:
        run(scenario())
    finally:
        if dead.process is None or dead.process.poll() is not None:
            dead.start()
