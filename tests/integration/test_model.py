"""Model-based test of the real-time path: random sequences of what a class and its
teacher do, against the real stack, with Hypothesis's rule-based state machine.

Rules: post (valid, empty, over-long), delete, approve, pause, resume, close, change
the topic, and open another page (a client taking its snapshot at that moment). After
every step:

- tm agrees with a reference model of the room: which posts were refused (paused,
  closed, bad text) and which are visible or held, in order, with the room's topic and
  state;
- every client, a snapshot (history and room read when it started) followed by the
  events pushed over a real WebSocket or SSE stream since, shows exactly what a fresh
  read of the API shows: visible messages with ids, seqs and texts in order, topic,
  state, and for the moderator's client the held posts. It does so from pushed events
  alone: a client reads history again only when the push stream showed it a gap (a
  publish that timed out under load reaches the node later, through the outbox relay);
  the concurrent readers below can slow tm down that much;
- no client was ever sent the text of a refused post.

A failing run prints the steps that lead to it (Hypothesis shrinks them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import string

import aiohttp
import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from testkit.pages import Page
from tests.support.stack import Stack

from .helpers import UNIT, LoopThread

MAX_LENGTH = 140
_rooms = itertools.count(1)
_posts = itertools.count(1)

words = st.text(alphabet=string.ascii_letters + string.digits + " äß", max_size=40)
topics = st.text(alphabet=string.ascii_lowercase + " ", max_size=30)


def normalized(text: str) -> str:
    return " ".join(text.split())


class RoomMachine(RuleBasedStateMachine):
    messages = Bundle("messages")

    def __init__(self, stack: Stack, loop: LoopThread, session: aiohttp.ClientSession):
        super().__init__()
        self.stack = stack
        self.loop = loop
        self.session = session
        self.clients: list[Page] = []
        self.reads_at_start: dict[str, int] = {}
        self.resyncs_at_start: dict[str, int] = {}
        self.refused: set[str] = set()

    # -- set-up and tear-down -------------------------------------------------------------
    @initialize(moderated=st.booleans(), transport=st.sampled_from(["ws", "sse"]))
    def open_room(self, moderated: bool, transport: str) -> None:
        self.room = f"model-{next(_rooms)}"
        self.moderated = moderated
        self.owner = self.stack.create_room(self.room, moderated=moderated)
        self.students = [self.stack.join(self.room, name) for name in ("ann", "bob")]
        # The reference model: what tm should hold.
        self.state = "open"
        self.topic = ""
        self.visible: list[int] = []  # in seq order: posting and approving append
        self.pending: set[int] = set()
        self.texts: dict[int, str] = {}
        self._start_client(transport)
        self._start_client("ws", moderator=True)
        self.readers = self.loop.run(self._start_readers())

    def teardown(self) -> None:
        async def stop() -> None:
            if getattr(self, "readers", None) is not None:
                self.readers.cancel()
            await asyncio.gather(*(client.stop() for client in self.clients))

        self.loop.run(stop())

    async def _start_readers(self) -> asyncio.Task:
        """The rest of the class: pages reading the room and its history all the time
        (their periodic checks and fills), concurrently with every step, as they do
        while a teacher acts. Their reads race the writes (e.g. refill tm's cache)."""

        async def read() -> None:
            while True:
                for path in ("", "/messages?after=0"):
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with self.session.get(self._url(path)) as response:
                            await response.read()
                await asyncio.sleep(0.01)

        return asyncio.get_running_loop().create_task(read())

    def _start_client(self, transport: str, moderator: bool = False) -> None:
        auth = self.stack.owner_key(self.room) if moderator else None
        client = Page(self.stack.tm_url, self.stack.ekg_url, self.room,
                            name=f"{transport}-{len(self.clients)}", transport=transport,
                            auth=auth, periodic_check=False)

        async def start() -> None:
            await client.start()
            async with asyncio.timeout(10 * UNIT):
                await client.settled()

        self.loop.run(start())
        self.clients.append(client)
        # From here on, pushed events only (the start may include a new room's resync).
        self.reads_at_start[client.name] = client.stats["history_reads"]
        self.resyncs_at_start[client.name] = client.stats["resyncs"]

    def _url(self, path: str = "") -> str:
        return self.stack.api(f"/rooms/{self.room}{path}")

    # -- rules ----------------------------------------------------------------------------
    @rule(target=messages, student=st.integers(0, 1),
          kind=st.sampled_from(["valid", "valid", "valid", "empty", "too long"]), text=words)
    def post(self, student: int, kind: str, text: str):
        unique = f"#{next(_posts)}"
        body = {"valid": f"{text} {unique}", "empty": " \n ",
                "too long": "x" * MAX_LENGTH + unique}[kind]
        response = self.students[student].post(self._url("/messages"), json={"text": body})
        if self.state != "open":
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == f"room_{self.state}"
        elif kind != "valid":
            assert response.status_code in (400, 413), response.text
        else:
            assert response.status_code == 201, response.text
            message = response.json()
            assert message["text"] == normalized(body)
            self.texts[message["id"]] = message["text"]
            if self.moderated:
                assert message["status"] == "pending"
                self.pending.add(message["id"])
            else:
                assert message["status"] == "visible"
                self.visible.append(message["id"])
            return message["id"]
        self.refused.add(normalized(body))
        return multiple()

    @rule(message=messages)
    def delete(self, message: int) -> None:
        response = self.owner.delete(self._url(f"/messages/{message}"))
        if message in self.visible or message in self.pending:
            assert response.status_code == 204, response.text
            self.pending.discard(message)
            if message in self.visible:
                self.visible.remove(message)
        else:
            assert response.status_code == 404, response.text

    @rule(message=messages)
    def approve(self, message: int) -> None:
        response = self.owner.post(self._url(f"/messages/{message}/approve"))
        if message in self.pending:
            assert response.status_code == 200, response.text
            self.pending.remove(message)
            self.visible.append(message)  # numbered by its approval: the newest
        elif message in self.visible:
            assert response.status_code == 409, response.text
        else:
            assert response.status_code == 404, response.text

    @rule(state=st.sampled_from(["paused", "open", "closed"]))
    def set_state(self, state: str) -> None:
        """Pause, resume (open) or close the room."""
        response = self.owner.patch(self._url(), json={"state": state})
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state
        self.state = state

    @rule(topic=topics)
    def set_topic(self, topic: str) -> None:
        response = self.owner.patch(self._url(), json={"topic": topic})
        assert response.status_code == 200, response.text
        self.topic = normalized(topic)

    @precondition(lambda self: len(self.clients) < 4)
    @rule(transport=st.sampled_from(["ws", "sse"]))
    def open_another_page(self, transport: str) -> None:
        self._start_client(transport)

    # -- the property -----------------------------------------------------------------------
    @invariant()
    def every_client_shows_what_the_api_shows(self) -> None:
        room = requests.get(self._url(), timeout=10).json()
        history = requests.get(self._url("/messages"), params={"limit": 500},
                               timeout=10).json()
        assert not history["has_more"]
        api_view = [(m["id"], m["seq"], m["text"]) for m in history["messages"]]
        # tm agrees with the reference model...
        assert [m[0] for m in api_view] == self.visible
        assert [m[2] for m in api_view] == [self.texts[i] for i in self.visible]
        assert (room["topic"], room["state"]) == (self.topic, self.state)
        held = self.owner.get(self._url("/pending")).json()["messages"]
        assert {m["id"] for m in held} == self.pending
        # ...and every client agrees with tm, from pushed events alone.
        self.loop.run(self._caught_up(room["seq"]))
        for client in self.clients:
            shown = self.loop.run(self._view(client))
            assert shown["visible"] == api_view, client.name
            assert (shown["topic"], shown["state"]) == (room["topic"], room["state"])
            if client.ticket_role == "moderator":
                assert shown["pending"] == self.pending, client.name
            else:
                assert shown["pending"] == set()
            stats = shown["stats"]
            if stats["history_reads"] != self.reads_at_start[client.name]:
                assert stats.get("hold"), (client.name, stats)  # a gap it had to fill
            assert stats.get("resyncs", 0) == self.resyncs_at_start[client.name], (
                client.name, stats)
            assert not shown["seen"] & self.refused, client.name

    async def _caught_up(self, seq: int) -> None:
        try:
            async with asyncio.timeout(5 * UNIT):
                while any(client.last < seq for client in self.clients):
                    await asyncio.sleep(0.005)
        except TimeoutError:
            behind = {c.name: (c.last, dict(c.stats)) for c in self.clients}
            raise AssertionError(f"clients not at seq {seq}: {behind}") from None

    @staticmethod
    async def _view(client: Page) -> dict:
        """A copy of what the client shows, taken on its own loop."""
        return {"visible": client.visible(), "topic": client.topic, "state": client.state,
                "pending": set(client.pending), "seen": set(client.seen_texts),
                "stats": dict(client.stats)}


def test_pushed_events_applied_to_a_snapshot_equal_a_fresh_read(stack: Stack):
    loop = LoopThread()

    async def open_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = loop.run(open_session())
    try:
        run_state_machine_as_test(
            lambda: RoomMachine(stack, loop, session),
            settings=settings(max_examples=15, stateful_step_count=20, deadline=None,
                              database=None,
                              suppress_health_check=[HealthCheck.too_slow]))
    finally:
        loop.run(session.close())
        loop.close()
