"""Browser pages that follow a room, for the end-to-end tests: the shipped scripts
(tm/static/tm/live.js and feed.js) run under Node, one process a page
(testkit/pages/host.js explains the page and how it differs from a browser's), and a
`Page` here starts it, steers it and mirrors what it shows.

What a page shows and did arrives as snapshots, each taken between two of the page's
turns, so what a test reads of one page at one moment is consistent: its messages,
topic and state with the seq it has applied up to (`last`). The mirror is updated by a
task on the event loop the page was started on.

    page = await Page(tm_url, [push_url], "bio").start()
    page.visible()          # (id, seq, text) of the messages shown, in seq order
    await page.cut_off(); await page.restore()
    await page.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections import Counter, deque
from typing import Any

from .services import ROOT
from .timing import TIME_SCALE

HOST = ROOT / "testkit" / "pages" / "host.js"
NODE_MODULES = ROOT / "testkit" / "pages" / "node_modules"
# The page's clock runs this much faster than the wall's (host.js), slower on a slow
# machine, where every wait of the tests is longer too.
PAGE_CLOCK_SPEED = 30.0
LINE_LIMIT = 64 * 1024 * 1024  # a snapshot of a big room is one line


class PageError(RuntimeError):
    pass


class Page:
    """One page following `room`: `transport` "ws" (a browser with WebSocket, which falls
    back to SSE as live.js does) or "sse" (a browser without); `auth`, a bearer token (a
    participant's, or an owner key for a moderator's page); `periodic_check` False turns
    off live.js's seq check; `history_limit`, messages per history read; `answer_delay`,
    seconds every GET answer from tm takes on top (a slow network)."""

    def __init__(self, tm_url: str, push_urls: str | list[str], room: str, *,
                 name: str = "page", transport: str = "ws", auth: str | None = None,
                 periodic_check: bool = True, history_limit: int = 500,
                 answer_delay: float = 0.0):
        assert transport in ("ws", "sse")
        self.name = name
        self.room = room
        self.config = {
            "tm_url": tm_url, "room": room, "transport": transport, "auth": auth,
            "push_urls": [push_urls] if isinstance(push_urls, str) else list(push_urls),
            "periodic_check": periodic_check, "history_limit": history_limit,
            "answer_delay_ms": round(answer_delay * 1000),
            "speed": PAGE_CLOCK_SPEED / TIME_SCALE,
        }
        # What the page shows (the latest snapshot).
        self.messages: list[tuple[int, int, str]] = []
        self.pending: dict[int, str] = {}  # a moderator's page: held posts, id -> text
        self.topic: str | None = None
        self.state: str | None = None
        self.presence: int | None = None
        self.gone = False  # the room was deleted or expired
        # How it follows.
        self.connected = False
        self.push_url: str | None = None
        self.ticket: str | None = None
        self.ticket_role: str | None = None
        self.last = 0  # the seq applied up to
        self.held: list[int] = []  # seqs held after a gap, or while a fill is under way
        self.filling = False
        self.stats: Counter[str] = Counter()
        # Everything, since it started.
        self.received: list[dict[str, Any]] = []  # every event with a seq, off the wire
        self.applied: list[int] = []  # the seqs of pushed events applied, in order
        self.seen_texts: set[str] = set()  # every message text it was ever given
        self._heard = -1
        self._heard_at = 0.0
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._commands: deque[asyncio.Future[None]] = deque()  # sent, not yet done
        # What the page's process said on stderr (its errors), the last lines.
        self.errors: deque[str] = deque(maxlen=40)

    def __repr__(self) -> str:
        errors = f" errors={list(self.errors)[-3:]}" if self.errors else ""
        return (f"<Page {self.name} last={self.last} held={len(self.held)} "
                f"topic={self.topic!r} state={self.state} stats={dict(self.stats)}{errors}>")

    # -- life cycle ---------------------------------------------------------------------
    async def start(self) -> Page:
        """Open the page: it reads the room's history, then follows it (returns then)."""
        node = shutil.which("node")
        if node is None:
            raise PageError("the tests need Node.js: apt-get install nodejs")
        if not NODE_MODULES.is_dir():
            raise PageError("testkit/pages has no node_modules: "
                            "run `npm ci` in testkit/pages (make test does)")
        self._started = asyncio.get_running_loop().create_future()
        self._process = await asyncio.create_subprocess_exec(
            # undici's EventSource says it is experimental on every start: noise here.
            node, "--disable-warning=ExperimentalWarning", str(HOST),
            json.dumps(self.config), cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=LINE_LIMIT)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        async with asyncio.timeout(30 * TIME_SCALE):
            await self._started
        return self

    async def stop(self) -> None:
        """Close the page (its connections go with it)."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ConnectionError):
            await self._command("stop")
        try:
            async with asyncio.timeout(10 * TIME_SCALE):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def cut_off(self) -> None:
        """The network goes away: every connection drops, and none opens until restore."""
        await self._command("cut_off")

    async def restore(self) -> None:
        """The network is back (the page hears the browser's `online` event)."""
        await self._command("restore")

    async def settled(self, quiet: float = 0.05) -> None:
        """Connected, no history read under way (e.g. the resync a new room gets), and
        nothing heard for `quiet` seconds: what the node sends at connect (a resync, a
        replay) may land just after the handshake, and must not count as later news."""
        while (not self.connected or self.filling
               or time.monotonic() - self._heard_at < quiet):
            await asyncio.sleep(0.01)

    # -- what the page shows --------------------------------------------------------------
    def visible(self) -> list[tuple[int, int, str]]:
        """(id, seq, text) of the messages shown, in the page's (seq) order."""
        return list(self.messages)

    # -- the process ----------------------------------------------------------------------
    async def _command(self, command: str) -> None:
        """Send `command` and wait until the page has carried it out (not for "stop",
        which ends the process)."""
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise ConnectionError(f"page {self.name} is not running")
        done = asyncio.get_running_loop().create_future()
        if command != "stop":
            self._commands.append(done)
        process.stdin.write(command.encode() + b"\n")
        await process.stdin.drain()
        if command != "stop":
            async with asyncio.timeout(10 * TIME_SCALE):
                await done

    async def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        assert process.stderr is not None and self._started is not None
        errors = asyncio.get_running_loop().create_task(self._read_errors(process.stderr))
        async for line in process.stdout:
            answer = json.loads(line)
            if "page" in answer:
                self._apply(answer)
            elif "done" in answer:
                if self._commands:
                    self._commands.popleft().set_result(None)
            elif answer.get("started"):
                self._started.set_result(None)
            elif "error" in answer:
                self.errors.append(answer["error"])
        await errors
        for waiting in self._commands:  # the process ended: nothing more will be done
            if not waiting.done():
                waiting.set_exception(ConnectionError(f"page {self.name} has ended"))
        if not self._started.done():
            self._started.set_exception(PageError(
                f"page {self.name} did not open the room:\n" + "\n".join(self.errors)))

    async def _read_errors(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.errors.append(line.decode(errors="replace").rstrip())

    def _apply(self, answer: dict[str, Any]) -> None:
        page = answer["page"]
        self.messages = [(m[0], m[1], m[2]) for m in page["messages"]]
        self.pending = {int(k): v for k, v in page["pending"].items()}
        self.topic, self.state = page["topic"], page["state"]
        self.presence, self.gone = page["presence"], page["gone"]
        self.connected, self.push_url = page["connected"], page["push_url"]
        self.ticket, self.ticket_role = page["ticket"], page["ticket_role"]
        self.last, self.held, self.filling = page["last"], page["held"], page["filling"]
        self.stats = Counter(page["stats"])
        self.received += answer["received"]
        self.applied += answer["applied"]
        self.seen_texts.update(answer["seen"])
        if page["heard"] != self._heard:
            self._heard, self._heard_at = page["heard"], time.monotonic()
