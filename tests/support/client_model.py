"""A Python client that follows a room the way the browser does, for end-to-end tests.

It mirrors tm/static/tm/live.js (ordering and connection) and the parts of
tm/static/tm/room.js that keep the page's state, so that what the integration tests
prove about it holds for the pages too:

- `SeqTracker` is live.js's SeqTracker, line for line: apply the next seq, ignore a
  duplicate, hold what comes after a gap (and everything while a fill is under way).
- `LiveClient` is the Follower plus room.js's handlers: WebSocket (falling back to SSE
  after two failed opens) or SSE from the start; reconnects with back-off and
  jitter and `?after=<last applied seq>`, to the next push node in its list after an
  open that failed; honours `resync` (fill from tm's history API) and `reconnect`
  (come back after the delay, to the next node); fills on a gap; checks the room's
  seq periodically (GET /api/v1/rooms/<room>) and fills when the room is ahead.
  It follows with a ticket from tm (POST /api/v1/rooms/<room>/ticket, with `auth` as
  its bearer token: a participant's token, an owner key for a moderator, none for a
  viewer of a room without a password), renewed before a connect when it is about to
  run out or, after an open that failed, when it is not brand new (live.js
  TicketHolder); a `gone` message ends the following for good (the page reloads).
  A fill reads `GET /messages?after=N&limit=L` page by page (`has_more`), removes the
  `deleted` ids and adds the messages it does not show yet, then refreshes the room.

Differences, all for test speed, determinism and observability, none in the logic: it
starts at the first push URL of its list (live.js: a random one); the back-off
starts at `backoff_base` instead of 500 ms and is capped at `backoff_cap`; a node's
`reconnect` delay is capped at `max_reconnect_delay`; the periodic check runs every
`check_interval` seconds instead of 30 (None: never); `answer_delay` holds back every
answer from tm (a slow network); and the client counts what it does (`stats`) and keeps
everything it was ever sent (`received`, `seen_texts`).

`cut_off()` / `restore()` model the network going away: the connection is dropped and
no request leaves (fills and checks wait) until it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from typing import Any
from urllib.parse import quote

import aiohttp

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, ValueError)
TICKET_MARGIN_SECONDS = 60.0  # live.js TICKET_MARGIN_MS
TICKET_SUSPECT_SECONDS = 30.0  # live.js TICKET_SUSPECT_MS


class SeqTracker:
    """live.js SeqTracker: given the last seq applied, what to do with an event."""

    def __init__(self, last: int = 0):
        self.last = last
        self.held: list[dict] = []  # events after a gap, or during a fill
        self.filling = False

    def offer(self, event: dict) -> str:
        """"apply" (it is now the last), "ignore" (a duplicate), "hold", or "other"
        for messages without a seq (presence, resync, reconnect)."""
        seq = event.get("seq")
        if not isinstance(seq, int):
            return "other"
        if seq <= self.last:
            return "ignore"
        # While history is being read, what arrives is held and applied after it: the
        # history answer may predate the event, and applied after it would undo it.
        if seq == self.last + 1 and not self.held and not self.filling:
            self.last = seq
            return "apply"
        self.held.append(event)
        return "hold"

    def filled(self, seq: int) -> list[dict]:
        """History has been applied up to `seq`: the held events that now apply, in order."""
        self.filling = False
        self.last = max(self.last, seq)
        ready: list[dict] = []
        rest: list[dict] = []
        for event in sorted(self.held, key=lambda e: e["seq"]):
            if event["seq"] <= self.last:
                continue  # the fill covered it
            if not rest and event["seq"] == self.last + 1:
                self.last = event["seq"]
                ready.append(event)
            elif not any(e["seq"] == event["seq"] for e in rest):
                rest.append(event)
        self.held = rest
        return ready

    def has_gap(self) -> bool:
        return bool(self.held)


def backoff(attempt: int, base: float, cap: float) -> float:
    """live.js backoff: doubling from `base`, capped, with jitter (half to whole)."""
    return min(cap, base * 2 ** attempt) * (0.5 + random.random() / 2)


class LiveClient:
    """One browser following one room (see the module docstring)."""

    def __init__(self, session: aiohttp.ClientSession, tm_url: str,
                 push_url: str | list[str], room: str, *, name: str = "client",
                 transport: str = "ws",
                 auth: str | None = None, check_interval: float | None = 1.0,
                 backoff_base: float = 0.05, backoff_cap: float = 1.0,
                 max_reconnect_delay: float = 0.5, history_limit: int = 500,
                 answer_delay: float = 0.0):
        assert transport in ("ws", "sse")
        self.session = session
        self.tm_url = tm_url.rstrip("/")
        # Push nodes, tried in turn (live.js nextNode); `push_url` is the current one.
        self.push_urls = [url.rstrip("/") for url in
                          ([push_url] if isinstance(push_url, str) else push_url)]
        self._node = 0
        self.room = room
        self.name = name
        self.use_sse = transport == "sse"
        self.auth = auth
        # The follow ticket (live.js TicketHolder): when it came, how long it lasts.
        self.ticket: str | None = None
        self.ticket_role: str | None = None
        self._ticket_at = 0.0
        self._ticket_life = 0.0
        self._ticket_suspect = False
        self.gone = False  # the node said the room is gone
        self.check_interval = check_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_reconnect_delay = max_reconnect_delay
        self.history_limit = history_limit
        # A slow network: every answer from tm arrives this long after tm wrote it.
        self.answer_delay = answer_delay
        self.tracker = SeqTracker(0)
        # What the page shows: messages by id, the room's topic and state.
        self.messages: dict[int, dict] = {}
        self.topic: str | None = None
        self.state: str | None = None
        self.room_seq = 0  # the seq the topic and state shown are from
        self.pending: dict[int, dict] = {}  # moderators: posts waiting for approval
        # What happened, for the tests.
        self.received: list[dict] = []  # every seq event off the wire, as it came
        self.applied: list[int] = []  # seqs of pushed events applied, in order
        self.seen_texts: set[str] = set()  # every message text it was ever sent
        self.stats: Counter[str] = Counter()
        self.presence: int | None = None
        self.online = asyncio.Event()
        self.online.set()
        self.connected = asyncio.Event()
        self._stopped = False
        self._attempt = 0
        self._ws_failures_before_open = 0
        self._reconnect_delay: float | None = None
        self._last_heard = 0.0  # loop time of the last message or connect
        self._conn: Any = None
        self._filling: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- life cycle ------------------------------------------------------------------
    async def start(self) -> LiveClient:
        """Load the page (history and room: the snapshot), then follow from its seq."""
        seq = await self._read_history(0)
        await self._refresh_room()
        self.tracker = SeqTracker(seq)
        self._spawn(self._follow())
        if self.check_interval is not None:
            self._spawn(self._check_loop())
        return self

    async def stop(self) -> None:
        self._stopped = True
        self.online.set()  # release anything waiting for the network
        tasks = [*self._tasks, *([self._filling] if self._filling else [])]
        for task in tasks:
            task.cancel()
        await self._drop_connection()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, *NETWORK_ERRORS):
                await task

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cut_off(self) -> None:
        """The network goes away: the connection drops, no request leaves."""
        self.online.clear()
        await self._drop_connection()

    def restore(self) -> None:
        """The network is back: reconnect (as live.js does on `online`) and carry on."""
        self._attempt = 0
        self.online.set()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if isinstance(conn, aiohttp.ClientWebSocketResponse):
            await conn.close()
        elif conn is not None:
            conn.close()

    @property
    def filling(self) -> bool:
        return self._filling is not None and not self._filling.done()

    async def settled(self, quiet: float = 0.05) -> None:
        """Connected, no history read under way (e.g. the resync a new room gets), and
        nothing heard for `quiet` seconds: what the node sends at connect (a resync, a
        replay) may land just after the handshake, and must not count as later news."""
        loop = asyncio.get_running_loop()
        while (not self.connected.is_set() or self.filling
               or loop.time() - self._last_heard < quiet):
            await asyncio.sleep(0.01)

    # -- what the page shows -----------------------------------------------------------
    def visible(self) -> list[tuple[int, int, str]]:
        """(id, seq, text) of the messages shown, in the page's (seq) order."""
        shown = sorted(self.messages.values(), key=lambda m: m["seq"])
        return [(m["id"], m["seq"], m["text"]) for m in shown]

    def _add(self, message: dict) -> None:
        self.seen_texts.add(message["text"])
        self.pending.pop(message["id"], None)
        if message["id"] in self.messages:
            return  # room.js addMessage: already shown
        self.messages[message["id"]] = {
            key: message[key] for key in ("id", "seq", "nickname", "text", "html")}

    def _remove(self, message_id: int) -> None:
        self.messages.pop(message_id, None)
        self.pending.pop(message_id, None)

    def _apply_room(self, room: dict, seq: int) -> None:
        """room.js applyRoom: a room read or room.updated event, unless older than what
        is shown (a slow answer that arrives after a newer event)."""
        if seq < self.room_seq:
            self.stats["stale_room_answers"] += 1
            return
        self.room_seq = seq
        self.topic = room["topic"]
        self.state = room["state"]

    def _apply(self, event: dict) -> None:
        """room.js applyEvent: one pushed event, in seq order."""
        self.applied.append(event["seq"])
        data = event.get("data") or {}
        kind = event["type"]
        if kind == "message.created":
            self._add({**data, "seq": event["seq"]})
        elif kind == "message.deleted":
            self._remove(data["id"])
        elif kind == "room.updated":
            self._apply_room(data, event["seq"])
        elif kind == "message.pending":
            self.seen_texts.add(data["text"])
            self.pending[data["id"]] = data
        # "skip": a held post this client may not see; it only advances the seq.

    # -- the push connection (live.js Follower) ---------------------------------------
    @property
    def push_url(self) -> str:
        return self.push_urls[self._node]

    def _next_node(self) -> None:
        self._node = (self._node + 1) % len(self.push_urls)

    def _query(self) -> str:
        return f"?ticket={quote(self.ticket or '', safe='')}&after={self.tracker.last}"

    def _ticket_fresh(self) -> bool:
        """live.js TicketHolder.fresh: there is one, not about to run out, and not
        suspect after a failed open unless it is brand new."""
        if not self.ticket:
            return False
        age = asyncio.get_running_loop().time() - self._ticket_at
        if self._ticket_suspect and age > TICKET_SUSPECT_SECONDS:
            return False
        return age < self._ticket_life - TICKET_MARGIN_SECONDS

    async def _renew_ticket(self) -> None:
        await self.online.wait()
        headers = {"Accept": "application/json"}
        if self.auth:
            headers["Authorization"] = f"Bearer {self.auth}"
        self.stats["tickets"] += 1
        async with self.session.post(f"{self.tm_url}/api/v1/rooms/{quote(self.room)}/ticket",
                                     headers=headers, timeout=HTTP_TIMEOUT) as response:
            if response.status in (404, 410):
                self.gone = True
            if response.status != 200:
                raise aiohttp.ClientResponseError(response.request_info, (),
                                                  status=response.status)
            body = await response.json()
        self.ticket, self.ticket_role = body["ticket"], body["role"]
        self._ticket_at = asyncio.get_running_loop().time()
        self._ticket_life = body["expires_in"]
        self._ticket_suspect = False

    async def _follow(self) -> None:
        while not self._stopped and not self.gone:
            await self.online.wait()
            self._reconnect_delay = None
            try:
                if not self._ticket_fresh():
                    await self._renew_ticket()
                if self.gone:
                    return
                if self.use_sse:
                    await self._run_sse()
                else:
                    await self._run_ws()
            except NETWORK_ERRORS:
                self.stats["connection_errors"] += 1
            finally:
                self.connected.clear()
            if self._stopped:
                return
            if self._reconnect_delay is not None:
                delay = self._reconnect_delay
            else:
                delay = backoff(self._attempt, self.backoff_base, self.backoff_cap)
                self._attempt += 1
            await asyncio.sleep(delay)

    def _opened(self, conn: Any) -> None:
        self._last_heard = asyncio.get_running_loop().time()
        self._conn = conn
        self._attempt = 0
        self.stats["connects"] += 1
        self.connected.set()

    async def _run_ws(self) -> None:
        url = self.push_url.replace("http", "ws", 1) + f"/ws/{quote(self.room)}" + self._query()
        try:
            ws = await self.session.ws_connect(url, autoping=True)
        except NETWORK_ERRORS:
            self._ticket_suspect = True
            self._next_node()  # this one is down or unreachable: try another
            # Blocked by a proxy or firewall, says live.js: after two tries, use SSE.
            self._ws_failures_before_open += 1
            if self._ws_failures_before_open >= 2:
                self.use_sse = True
                self.stats["fell_back_to_sse"] += 1
            raise
        self._ws_failures_before_open = 0
        self._opened(ws)
        try:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._receive(message.data)
                if self._reconnect_delay is not None:
                    break
        finally:
            self._conn = None
            await ws.close()

    async def _run_sse(self) -> None:
        url = self.push_url + f"/sse/{quote(self.room)}" + self._query()
        try:
            response = await self.session.get(url, timeout=aiohttp.ClientTimeout(total=None))
        except NETWORK_ERRORS:
            self._ticket_suspect = True
            self._next_node()
            raise
        async with response:
            if response.status != 200:
                self.stats[f"refused_{response.status}"] += 1
                self._ticket_suspect = True
                self._next_node()
                raise aiohttp.ClientResponseError(response.request_info, (),
                                                  status=response.status)
            self._opened(response)
            data: list[str] = []
            try:
                async for raw in response.content:
                    line = raw.decode("utf-8").rstrip("\n")
                    if line == "":
                        if data:
                            self._receive("\n".join(data))
                            data = []
                        if self._reconnect_delay is not None:
                            return
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
            finally:
                self._conn = None

    def _receive(self, text: str) -> None:
        self._last_heard = asyncio.get_running_loop().time()
        event = json.loads(text)
        kind = event.get("type")
        if kind == "resync":
            self.stats["resyncs"] += 1
            self._fill()
            return
        if kind == "gone":
            self.stats["gone"] += 1
            self.gone = True
            self._reconnect_delay = 0.0  # leave the read loop; _follow ends
            return
        if kind == "reconnect":
            self.stats["reconnect_messages"] += 1
            self._next_node()  # that node is shutting down
            delay = event.get("delay_ms")
            self._reconnect_delay = min(
                delay / 1000 if isinstance(delay, int) else self.backoff_base,
                self.max_reconnect_delay)
            return
        if isinstance(event.get("seq"), int):
            self.received.append(event)
        verdict = self.tracker.offer(event)
        self.stats[verdict] += 1
        if verdict == "apply":
            self._apply(event)
        elif verdict == "hold":
            self._fill()
        elif verdict == "other" and kind == "presence":
            self.presence = event["count"]

    # -- filling from history -----------------------------------------------------------
    def _fill(self) -> asyncio.Task:
        """Read history after the last applied seq, then apply what was held; one at a time."""
        if self._filling is None or self._filling.done():
            self.tracker.filling = True
            self._filling = asyncio.get_running_loop().create_task(self._fill_until_whole())
        return self._filling

    async def _fill_until_whole(self) -> None:
        attempt = 1
        while True:
            self.tracker.filling = True
            try:
                seq = await self._read_history(self.tracker.last)
            except NETWORK_ERRORS:
                self.stats["fill_errors"] += 1
                await asyncio.sleep(backoff(attempt, self.backoff_base, self.backoff_cap))
                attempt += 1
                continue
            for event in self.tracker.filled(seq):
                self._apply(event)
            if not self.tracker.has_gap():
                return

    async def _read_history(self, after: int) -> int:
        """room.js fill: apply the history above `after`, page by page; the seq reached."""
        while True:
            self.stats["history_reads"] += 1
            body = await self._get(f"/rooms/{quote(self.room)}/messages",
                                   {"after": after, "limit": self.history_limit})
            for message_id in body["deleted"]:
                self._remove(message_id)
            for message in body["messages"]:
                if message["status"] == "visible":
                    self._add(message)
            self._spawn(self._refresh_room())  # room.js does not wait for it either
            if not body["has_more"]:
                return body["seq"]
            after = body["seq"]

    async def _refresh_room(self) -> None:
        with contextlib.suppress(*NETWORK_ERRORS):
            room = await self._get(f"/rooms/{quote(self.room)}")
            self._apply_room(room, room["seq"])

    async def _check_loop(self) -> None:
        """live.js check: the room is ahead of us (an event lost after reflektor took it)."""
        assert self.check_interval is not None
        while True:
            await asyncio.sleep(self.check_interval)
            with contextlib.suppress(*NETWORK_ERRORS):
                room = await self._get(f"/rooms/{quote(self.room)}")
                if room["seq"] > self.tracker.last:
                    self.stats["check_fills"] += 1
                    self._fill()

    async def _get(self, path: str, params: dict | None = None) -> dict:
        await self.online.wait()
        async with self.session.get(f"{self.tm_url}/api/v1{path}", params=params,
                                    headers={"Accept": "application/json"},
                                    timeout=HTTP_TIMEOUT) as response:
            if response.status != 200:
                raise aiohttp.ClientResponseError(response.request_info, (),
                                                  status=response.status)
            body = await response.json()
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        return body
