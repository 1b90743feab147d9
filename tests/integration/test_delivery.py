"""Delivery on a healthy stack: what tm commits reaches every client, once, in order.

Posts, deletions, approvals and room changes go through tm's HTTP API; clients
(testkit/pages.py: the pages' own live.js and feed.js under Node) hold WebSockets and SSE streams to
the ekg node. Nothing is broken here, so every event must arrive by push, off the
wire, exactly once and in seq order, and no client may need the history API beyond
loading the page (and the one resync a node answers for a room it holds nothing of).
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.support.stack import Stack

from .helpers import Api, converged, follow, stop_all

K = 3  # WebSocket clients, and as many SSE clients


def run(coro):
    return asyncio.run(coro)


def wire_seqs(client) -> list[int]:
    return [event["seq"] for event in client.received]


async def caught_up(clients, seq: int) -> None:
    async with asyncio.timeout(10):
        while any(client.last < seq for client in clients):
            await asyncio.sleep(0.02)


def test_every_client_gets_every_event_once_in_seq_order(stack: Stack, room_name: str):
    """N posts, some deletions and a topic change, one after another (so tm publishes
    them in order): every client's stream off the wire is exactly seq 1..last."""
    posts = 30

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, stack)
            owner = await api.create_room(room_name, topic="cells")
            students = [await api.join(room_name, name) for name in ("ann", "bob")]
            # No periodic check: a fill it started would hide a missed push.
            clients = await follow(stack, room_name, ws=K, sse=K,
                                   periodic_check=False)
            sent = [await api.posted(room_name, students[i % 2], f"message {i}")
                    for i in range(posts)]
            for message in sent[::10]:
                assert await api.delete(room_name, owner, message["id"]) == 204
            await api.patch(room_name, owner, topic="mitochondria")
            last = (await api.room(room_name))["seq"]
            # The room's own first event (its settings, seq 1) came before the pages.
            assert last == 1 + posts + 3 + 1
            await caught_up(clients, last)
            expected = await converged(api, room_name, clients)
            assert len(expected) == posts - 3
            for client in clients:
                assert wire_seqs(client) == list(range(2, last + 1)), client.name
                assert client.applied == list(range(2, last + 1)), client.name
                types = [event["type"] for event in client.received]
                assert types == (["message.created"] * posts + ["message.deleted"] * 3
                                 + ["room.updated"])
                assert client.received[0]["data"]["text"] == "message 0"
                assert client.topic == "mitochondria"
                # Loading the page, and at most the new room's resync: nothing else.
                assert client.stats["history_reads"] <= 2, (client.name, client.stats)
                assert client.stats["ignore"] == 0 and client.stats["hold"] == 0
            await stop_all(clients)

    run(scenario())


def test_held_posts_reach_moderators_and_others_get_a_skip(stack: Stack, room_name: str):
    """In a moderated room, a held post is `message.pending` for moderator connections
    (their follow ticket, from tm, says moderator) and `skip` with the same seq for everyone
    else, whose seq count stays unbroken; approving shows it to all, deleting and
    rejecting take it away."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, stack)
            owner = await api.create_room(room_name, moderated=True)
            student = await api.join(room_name, "ann")
            clients = await follow(stack, room_name, ws=2, sse=2, moderators=2,
                                   periodic_check=False)
            moderators = [c for c in clients if c.ticket_role == "moderator"]
            others = [c for c in clients if c.ticket_role != "moderator"]
            assert len(moderators) == 2 and {c.ticket_role for c in others} == {"viewer"}
            held = [await api.posted(room_name, student, f"held {i}") for i in range(5)]
            assert {m["status"] for m in held} == {"pending"}
            for message in held[:3]:
                assert await api.approve(room_name, owner, message["id"]) == 200
            assert await api.delete(room_name, owner, held[0]["id"]) == 204  # approved
            status, _ = await api.call(
                "POST", f"/rooms/{room_name}/messages/{held[3]['id']}/reject", owner)
            assert status == 204
            last = (await api.room(room_name))["seq"]
            assert last == 1 + 5 + 3 + 2  # the room's first event (its settings) first
            await caught_up(clients, last)
            await converged(api, room_name, clients)
            for client in clients:
                assert wire_seqs(client) == list(range(2, last + 1)), client.name
                assert client.stats["history_reads"] <= 2
            for client in moderators:
                assert [e["type"] for e in client.received] == (
                    ["message.pending"] * 5 + ["message.created"] * 3
                    + ["message.deleted"] * 2)
                assert [e["data"]["text"] for e in client.received[:5]] == [
                    f"held {i}" for i in range(5)]
                # Still waiting: the one neither approved nor rejected.
                assert set(client.pending) == {held[4]["id"]}
            for client in others:
                assert [e["type"] for e in client.received] == (
                    ["skip"] * 5 + ["message.created"] * 3 + ["message.deleted"] * 2)
                assert client.received[0] == {"type": "skip", "room": room_name, "seq": 2}
                # Held text reaches nobody but moderators until it is approved.
                assert not client.seen_texts & {"held 3", "held 4"}
                assert client.pending == {}
            # Approved posts carry the seq of their approval, not of their posting.
            assert [m[1] for m in clients[0].visible()] == [8, 9]
            await stop_all(clients)

    run(scenario())


def test_concurrent_posters_and_a_moderator_converge_exactly_once(stack: Stack,
                                                                  room_name: str):
    """Several students post at once (tm's workers publish concurrently, so events can
    reach the node out of order) while the teacher deletes: clients hold what comes
    after a gap, fill it from history, and end with the database's list, each
    message once, applied in rising seq order."""
    students, each = 4, 12

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, stack)
            owner = await api.create_room(room_name)
            tokens = [await api.join(room_name, f"s{i}") for i in range(students)]
            clients = await follow(stack, room_name, ws=K, sse=K)

            async def student(index: int) -> None:
                for n in range(each):
                    await api.posted(room_name, tokens[index], f"s{index} says {n}")

            async def teacher() -> None:
                for _ in range(6):
                    await asyncio.sleep(0.05)
                    history = await api.history(room_name)
                    if history:
                        await api.delete(room_name, owner, history[len(history) // 2]["id"])

            await asyncio.gather(*(student(i) for i in range(students)), teacher())
            expected = await converged(api, room_name, clients)
            assert len(expected) >= students * each - 6
            for client in clients:
                assert client.applied == sorted(set(client.applied)), client.name
                assert len({e["seq"] for e in client.received}) == len(client.received)
            await stop_all(clients)

    run(scenario())


def test_a_room_deleted_and_created_again_under_its_name_shows_nothing_of_the_old_one(
        stack: Stack, room_name: str):
    """The node still holds the deleted room's events when a new room takes its name
    (a teacher clearing a room by deleting it and creating it again): the new room's
    clients must never see the old messages, and its own posts go out by push at once
    rather than being dropped as redeliveries of the old seqs."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, stack)
            owner = await api.create_room(room_name)
            token = await api.join(room_name, "ann")
            old = await follow(stack, room_name, ws=1)
            for n in range(3):
                await api.posted(room_name, token, f"deleted with its room {n}")
            await caught_up(old, 4)  # the room's settings, then three posts
            await stop_all(old)
            status, _ = await api.call("DELETE", f"/rooms/{room_name}", owner)
            assert status == 204

            async def node_forgot() -> bool:  # tm -> reflektor -> ekg: DELETE, signed
                async with session.get(stack.ekg_url + "/healthz") as answer:
                    return (await answer.json())["rooms_deleted"] >= 1

            async with asyncio.timeout(10):
                while not await node_forgot():
                    await asyncio.sleep(0.05)

            await api.create_room(room_name)
            token = await api.join(room_name, "bo")
            clients = await follow(stack, room_name, ws=K, sse=K)
            posted = [await api.posted(room_name, token, f"new room {n}") for n in range(2)]
            await caught_up(clients, 3)
            for client in clients:
                assert not any(text.startswith("deleted with") for text in client.seen_texts)
                assert [m[2] for m in client.visible()] == ["new room 0", "new room 1"]
                # By push, off the wire: the node did not drop them as old seqs.
                assert wire_seqs(client)[-2:] == [p["seq"] for p in posted]
            await stop_all(clients)

    run(scenario())
