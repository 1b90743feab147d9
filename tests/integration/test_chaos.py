"""The real-time path while things break: killed and stopped services, a tm that cannot
publish, clients cut off for a while, posts that never commit.

Every scenario ends with the same property, checked by `settle`: every client's list
of visible messages (ids, seqs and texts, in order, each once) and the room's topic and
state equal what the database holds, read through GET /api/v1/rooms/<room>/messages
page by page; and a post that was refused or rolled back reached nobody. Posts whose
HTTP call failed (tm killed under them) may or may not have been committed, so clients
are compared with the database, never with what the poster believes; a post answered
201 must be there.

Clients are pages (testkit/pages.py: the shipped live.js and feed.js under Node):
WebSocket and SSE, resume with ?after=<last seq>, fill gaps and resyncs from history,
a periodic seq check (every second here, 30 s in the browser).

Long cut-offs cannot be waited out in CI. What makes a long absence different from a
short one is what the node and the room did meanwhile, so it is simulated by doing
that (the stack's node keeps 20 events per room, `--ring-size 20`):

- "5 s": 5 real seconds, 10 posts (fewer than the ring). The client must resume from
  the node's ring: a replay after ?after=, no history read.
- "60 s": 30 posts go by, more than the ring holds (in production: a busy minute). The
  node answers `resync`; the client reads the gap from history.
- "15 minutes": 60 posts (three rings), deletions of messages the client shows, the
  room paused and resumed, topic changes, and the node restarted. The client resyncs,
  reads several history pages (`has_more`; its pages hold 20 here, 500 in the
  browser), drops what was deleted and shows the room's current state.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest

from testkit.pages import Page
from testkit.timing import wait_until
from tests.support.stack import Stack

from .helpers import (
    UNIT,
    Api,
    Burst,
    assert_never_seen,
    converged,
    eventually,
    follow,
    stop_all,
)


def run(coro):
    return asyncio.run(coro)


async def start_room(session: aiohttp.ClientSession, stack: Stack, room: str, *,
                     students: int = 3, **client_options):
    """A room, its students' tokens, and five clients: 2 WebSocket, 2 SSE, 1 moderator."""
    api = Api(session, stack)
    owner = await api.create_room(room)
    tokens = [await api.join(room, f"s{i}") for i in range(students)]
    clients = await follow(stack, room, ws=2, sse=2, moderators=1, **client_options)
    return api, owner, tokens, clients


async def settle(api: Api, room: str, clients: list[Page], *bursts: Burst,
                 never: set[str] = frozenset(),
                 deleted: set[str] = frozenset()) -> list[tuple[int, int, str]]:
    """The property every scenario ends with (module docstring). `deleted`: texts the
    test deleted on purpose."""
    expected = await converged(api, room, clients, timeout=15 * UNIT)
    texts = {text for _, _, text in expected}
    assert not texts & set(deleted)
    for burst in bursts:
        assert burst.accepted() - set(deleted) <= texts, "a post answered 201 is missing"
    assert texts <= {t for b in bursts for t in b.texts}, "a message nobody posted"
    for client in clients:
        # Applied once each, in rising seq order, whatever the path (push or history).
        assert client.applied == sorted(set(client.applied)), client.name
        assert client.held == []
    assert_never_seen(clients, set(never))
    assert not texts & set(never)
    await stop_all(clients)
    return expected


# -- the push node -----------------------------------------------------------------------
@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
def test_ekg_stopped_mid_burst_and_restarted(stack: Stack, room_name: str, stop: str):
    """Stop the node mid-burst (kill -9, or SIGTERM: it tells every client to come back
    after a delay, then exits 0) and start it again on its port: reflektor retries what
    it could not deliver meanwhile, clients reconnect with ?after=, and the new node,
    which starts with empty rings, replays what reflektor has re-delivered to it when
    that covers everything after their seq, or answers resync and they read the gap
    from history."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, _, tokens, clients = await start_room(session, stack, room_name)
            burst = Burst(api, room_name, tokens, 60, "ekg-stop")
            posting = asyncio.create_task(burst.run())
            await burst.reached(20)
            if stop == "kill -9":
                stack.ekg.kill()
            else:
                stack.ekg.signal(signal.SIGTERM)
                assert await asyncio.to_thread(stack.ekg.wait, 10) == 0
                await eventually(lambda: all(c.stats["reconnect_messages"] == 1
                                             for c in clients))
            await burst.reached(35)  # posted while no node runs: reflektor holds them
            await asyncio.to_thread(stack.start_ekg)
            await posting
            assert burst.accepted() == set(burst.texts)
            # Back on the node (a periodic check may have caught them up before that).
            await eventually(lambda: all(c.stats["connects"] >= 2 for c in clients),
                             message="a client did not reconnect to the restarted node")
            await settle(api, room_name, clients, burst)

    run(scenario())


# -- reflektor ---------------------------------------------------------------------------
def test_reflektor_killed_mid_burst_and_restarted(stack: Stack, room_name: str):
    """kill -9 reflektor mid-burst: what it held in memory is lost (already stamped as
    published, so the relay will not resend it); posts while it is down fail to publish
    and the outbox relay sends them once it is back; clients see the gaps in seq (or
    their periodic check does) and read what they missed from history."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, _, tokens, clients = await start_room(session, stack, room_name)
            burst = Burst(api, room_name, tokens, 60, "reflektor-crash")
            posting = asyncio.create_task(burst.run())
            await burst.reached(20)
            stack.reflektor.kill()
            await burst.reached(35)
            await asyncio.to_thread(stack.start_reflektor)
            await posting
            assert burst.accepted() == set(burst.texts)
            await settle(api, room_name, clients, burst)
            wait_until(lambda: stack.unpublished(room_name) == 0, timeout=10,
                       message="the outbox relay left events unpublished")

    run(scenario())


def test_reflektor_sigterm_mid_burst_drains_and_exits_0(stack: Stack, room_name: str):
    """SIGTERM reflektor mid-burst: it stops taking requests, delivers what it queued,
    exits 0; tm's publishes meanwhile fail over to the outbox relay."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, _, tokens, clients = await start_room(session, stack, room_name)
            burst = Burst(api, room_name, tokens, 60, "reflektor-term")
            posting = asyncio.create_task(burst.run())
            await burst.reached(20)
            stack.reflektor.signal(signal.SIGTERM)
            assert await asyncio.to_thread(stack.reflektor.wait, 10) == 0
            assert "drained=True" in stack.reflektor.log_tail(5)
            await burst.reached(35)
            await asyncio.to_thread(stack.start_reflektor)
            await posting
            await settle(api, room_name, clients, burst)

    run(scenario())


# -- tm --------------------------------------------------------------------------------------
def test_tm_cannot_publish_and_the_outbox_relay_delivers_later(stack: Stack, room_name: str):
    """No reflektor reachable: every post still answers 201 at once, its event stays in
    the outbox unstamped, nothing reaches the clients; when reflektor is back the relay
    sends the events in seq order and they arrive by push. The clients here do no
    periodic check, so they cannot have learned of the posts any other way."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, _, tokens, clients = await start_room(session, stack, room_name,
                                                       periodic_check=False)
            reads = {client.name: client.stats["history_reads"] for client in clients}
            # The room's first event (its settings) has gone out; then the reflektor dies.
            await eventually(lambda: stack.unpublished(room_name) == 0)
            stack.reflektor.kill()
            burst = await Burst(api, room_name, tokens, 20, "no-publish").run()
            assert burst.accepted() == set(burst.texts)
            await asyncio.sleep(1.5 * UNIT)  # the relay tries and fails meanwhile
            assert stack.unpublished(room_name) == 20
            assert all(client.visible() == [] for client in clients)
            await asyncio.to_thread(stack.start_reflektor)
            await settle(api, room_name, clients, burst)
            assert stack.unpublished(room_name) == 0
            assert "relayed" in stack.relay_log()
            for client in clients:
                assert client.stats["history_reads"] == reads[client.name], client.name
                # seq 1 is the room's first event (its settings), before the pages.
                assert client.applied == list(range(2, 22))

    run(scenario())


@pytest.mark.parametrize("between_commit_and_publish", [False, True],
                         ids=["mid-request", "between-commit-and-publish"])
def test_tm_worker_killed_mid_burst(stack: Stack, room_name: str,
                                    between_commit_and_publish: bool):
    """kill -9 tm's gunicorn workers mid-burst; the master starts new ones. The posts
    they were serving may or may not have committed; clients end with what did.

    between-commit-and-publish: reflektor is frozen (SIGSTOP), so each publish (made
    once a post's answer has gone out) waits out its timeout; the workers die in that
    wait, and the events they committed but never published are sent by the outbox
    relay."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, _, tokens, clients = await start_room(session, stack, room_name)
            burst = Burst(api, room_name, tokens, 45, "worker-crash")
            posting = asyncio.create_task(burst.run())
            await burst.reached(10)
            if between_commit_and_publish:
                stack.reflektor.signal(signal.SIGSTOP)
                # Not scaled: measured against tm's publish timeout (0.25 s), which the
                # posts under way now wait out after their commit.
                await asyncio.sleep(0.15)
            for pid in stack.gunicorn_workers():
                stack.kill_worker(pid)
            if between_commit_and_publish:
                # Committed, never published: only the relay (which waits 3 s before it
                # re-sends anything) can deliver these now.
                stranded = stack.unpublished(room_name)
                await asyncio.sleep(0.3)
                stack.reflektor.signal(signal.SIGCONT)
            await posting
            await asyncio.to_thread(stack.ensure_up)
            await settle(api, room_name, clients, burst)
            if between_commit_and_publish:
                assert stranded > 0, "no event was cut off between its commit and its publish"
            wait_until(lambda: stack.unpublished(room_name) == 0, timeout=10,
                       message="the outbox relay left events unpublished")

    run(scenario())


# -- clients cut off -----------------------------------------------------------------------
async def away_clients(stack: Stack, room: str, **options) -> list[Page]:
    """The clients that will be cut off: one WebSocket, one SSE, no periodic check (so
    what they get on return is the node's doing: replay or resync)."""
    return await follow(stack, room, ws=1, sse=1, periodic_check=False, **options)


async def cut_off(clients: list[Page]) -> None:
    await asyncio.gather(*(client.cut_off() for client in clients))


def test_clients_cut_off_for_5_seconds_resume_from_the_ring(stack: Stack, room_name: str):
    """Away for 5 s while 10 posts go by: the node still holds them all, so the clients
    resume with ?after= and get them replayed, in order, without a history read."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, _, tokens, clients = await start_room(session, stack, room_name)
            away = await away_clients(stack, room_name)
            reads = [client.stats["history_reads"] for client in away]
            await cut_off(away)
            burst = await Burst(api, room_name, tokens[:1], 10, "short", pace=0.5).run()
            await converged(api, room_name, clients)
            assert [client.last for client in away] == [1, 1]  # the room's settings
            for client in away:
                await client.restore()
            await settle(api, room_name, [*clients, *away], burst)
            for client, before in zip(away, reads, strict=True):
                assert client.stats["history_reads"] == before, client.name
                assert client.stats["resyncs"] <= 1  # the new room's, before it went away
                assert [e["seq"] for e in client.received] == list(range(2, 12))

    run(scenario())


def test_clients_cut_off_for_60_seconds_resync_from_history(stack: Stack, room_name: str):
    """"60 s" away: 30 posts go by, more than the node holds; on reconnecting the node
    answers resync and the clients read the gap from history."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, _, tokens, clients = await start_room(session, stack, room_name)
            away = await away_clients(stack, room_name)
            early = await Burst(api, room_name, tokens, 5, "early").run()
            await converged(api, room_name, away)
            before = [(c.stats["resyncs"], c.stats["history_reads"]) for c in away]
            await cut_off(away)
            burst = await Burst(api, room_name, tokens, 30, "long").run()
            for client in away:
                await client.restore()
            await settle(api, room_name, [*clients, *away], early, burst)
            for client, (resyncs, reads) in zip(away, before, strict=True):
                assert client.stats["resyncs"] == resyncs + 1, client.name
                assert client.stats["history_reads"] == reads + 1, client.name

    run(scenario())


def test_clients_cut_off_for_15_minutes_catch_up_on_everything(stack: Stack, room_name: str):
    """"15 minutes" away: three rings' worth of posts, messages they show deleted, the
    room paused and resumed and its topic changed, the node restarted. The clients
    resync and read several history pages (their pages hold 20 here)."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, owner, tokens, clients = await start_room(session, stack, room_name)
            away = await away_clients(stack, room_name, history_limit=20)
            early = await Burst(api, room_name, tokens, 10, "early").run()
            await converged(api, room_name, away)
            shown = away[0].visible()
            reads = [client.stats["history_reads"] for client in away]
            await cut_off(away)
            first = await Burst(api, room_name, tokens, 30, "first").run()
            for message_id, _, _ in shown[::3]:
                assert await api.delete(room_name, owner, message_id) == 204
            await api.patch(room_name, owner, state="paused")
            await api.patch(room_name, owner, state="open", topic="after the break")
            await asyncio.to_thread(stack.ekg.kill)
            await asyncio.to_thread(stack.start_ekg)
            second = await Burst(api, room_name, tokens, 30, "second").run()
            await api.patch(room_name, owner, topic="the last topic")
            for client in away:
                await client.restore()
            expected = await settle(api, room_name, [*clients, *away], early, first, second,
                                    deleted={text for _, _, text in shown[::3]})
            assert len(expected) == 70 - len(shown[::3])
            for client, before in zip(away, reads, strict=True):
                # 60 new messages in pages of 20
                assert client.stats["history_reads"] >= before + 3, client.name
                assert (client.topic, client.state) == ("the last topic", "open")

    run(scenario())


# -- posts that never commit ---------------------------------------------------------------
def test_refused_and_rolled_back_posts_reach_nobody(stack: Stack, room_name: str):
    """Posts refused before any write (paused room, over-long text) and one that rolls
    back after its message row and seq were written (the event's insert fails: a row
    planted in the outbox holds the seq it takes) commit nothing and publish nothing:
    no client ever sees their text, by push or by history, and the seq count goes on
    without a hole."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api, owner, tokens, clients = await start_room(session, stack, room_name)
            ok = await Burst(api, room_name, tokens, 5, "before").run()
            await api.patch(room_name, owner, state="paused")
            status, body = await api.post(room_name, tokens[0], "refused while paused")
            assert (status, body["error"]["code"]) == (403, "room_paused")
            await api.patch(room_name, owner, state="open")
            status, _ = await api.post(room_name, tokens[0], "too long " + "x" * 200)
            assert status in (400, 413)
            seq = (await api.room(room_name))["seq"]
            room_id = stack.query("SELECT id FROM tm_room WHERE name = ?", room_name)[0][0]
            stack.tm.sql("INSERT INTO tm_event (room_id, seq, type, envelope, created_at, "
                         "published_at) VALUES (?, ?, 'planted', '{}', datetime('now'), "
                         "datetime('now'))", room_id, seq + 1)
            try:
                status, _ = await api.post(room_name, tokens[1], "rolled back")
                assert status == 500
            finally:
                stack.tm.sql("DELETE FROM tm_event WHERE type = 'planted'")
            assert (await api.room(room_name))["seq"] == seq
            after = await Burst(api, room_name, tokens, 5, "after").run()
            never = {"refused while paused", "too long " + "x" * 200, "rolled back"}
            await settle(api, room_name, clients, ok, after, never=never)
            assert stack.query("SELECT COUNT(*) FROM tm_message WHERE text = 'rolled back'"
                               ) == [(0,)]
            for client in clients:
                assert client.applied == list(range(2, seq + 6)), client.name

    run(scenario())


# -- slow answers ------------------------------------------------------------------------
def test_slow_history_answers_do_not_undo_pushed_events(stack: Stack, room_name: str):
    """Clients on a slow network (every answer from tm takes two seconds) catch up
    after the node restarts (it answers everyone resync). The history they read shows
    a message that the teacher deletes while that answer is on its way, and both the
    message's and the deletion's events arrive before the answer (reflektor was frozen
    until then, so the message's event is late). Then the room they re-read is written
    just before a topic change and arrives after its event. Applied on top of those
    events, either answer would undo them: the deleted message back on screen, the old
    topic. Events that arrive during a history read wait for it (live.js SeqTracker),
    and a room answer older than the room's last event is not applied (feed.js
    applyRoom).

    The clients' network goes away while the node restarts and comes back for both at
    once: left to their back-off, they would come back up to a second apart, and the
    first one's slow read could be over before the second one's began. tm skips a
    reflektor that failed for a second (tm/publish.py DOWN_SECONDS): the deletion waits
    that out, so that its event goes out at once, while the answer is on its way."""
    slow = 2.0 * UNIT

    async def scenario():
        async with aiohttp.ClientSession() as session:
            api = Api(session, stack)
            owner = await api.create_room(room_name, topic="before")
            token = await api.join(room_name, "ann")
            clients = await follow(stack, room_name, ws=1, sse=1,
                                   periodic_check=False, answer_delay=slow)
            burst = await Burst(api, room_name, [token], 5, "slow").run()
            await converged(api, room_name, clients)
            stack.reflektor.signal(signal.SIGSTOP)
            resyncs = [c.stats["resyncs"] for c in clients]
            try:
                doomed = await api.posted(room_name, token, "doomed")  # not published
                doomed_at = time.monotonic()
                await cut_off(clients)
                await asyncio.to_thread(stack.ekg.kill)
                await asyncio.to_thread(stack.start_ekg)
                await asyncio.gather(*(client.restore() for client in clients))
                # The clients reconnect, get resync and read history (doomed in it).
                await eventually(lambda: all(c.stats["resyncs"] > before and c.filling
                                             for c, before in zip(clients, resyncs,
                                                                  strict=True)))
            finally:
                stack.reflektor.signal(signal.SIGCONT)  # doomed's event goes out
            await asyncio.sleep(max(0.0, doomed_at + 1.3 - time.monotonic()))
            assert await api.delete(room_name, owner, doomed["id"]) == 204
            await eventually(lambda: not any(c.filling for c in clients), timeout=2 * slow)
            await asyncio.sleep(0.1 * UNIT)  # the room re-read is under way
            await api.patch(room_name, owner, topic="after")
            await asyncio.sleep(slow + 0.3 * UNIT)  # every slow answer has arrived
            await settle(api, room_name, clients, burst, deleted={"doomed"})
            for client in clients:
                assert "doomed" in client.seen_texts  # it was shown, then taken away

    run(scenario())
