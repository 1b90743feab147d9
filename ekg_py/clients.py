"""The browser connections of an ekg node: the `connections.Sink` of each WebSocket and
SSE stream, the flush rounds that write their queues, and how those go on the wire
(wire.py). What a client needs of its node is `ClientHost`, which server.Node
implements: this module does not import the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

from .connections import CLOSE_SERVICE_RESTART, Connection
from .outgoing import Encoded
from .wire import sse_bare, sse_chunks, with_sse_retry, ws_frames

log = logging.getLogger("ekg")

# An evicted client that does not read will never take the close frame: give up soon.
EVICT_CLOSE_SECONDS = 1.0
# Connections written per loop turn in a flush round, about 0.1-0.2 ms of sends: between
# slices the loop takes in new events (and answers reflektor), which then join the writes
# still to come, and a big room's round never holds up a small room's event for long.
FLUSH_SLICE = 32


class FlushRounds:
    """Writes the queues of woken connections, a slice of them per loop turn.

    An event fanned out to a room costs one callback per slice of connections, not one
    task wake-up per connection. A round writes each listed connection's whole queue at
    once, FLUSH_SLICE connections per loop turn, so a round over a big room never holds
    the loop for long: the 202 to reflektor goes out at once and events that arrive
    meanwhile join the writes still to come. That is the batching: under a stream of
    events each write carries several, and the kernel's cost of a send barely depends
    on its size (BENCHMARKS.md, fan-out). A round starts at the end of the loop turn in
    which the first connection was woken."""

    def __init__(self) -> None:
        self._to_flush: list[Client] = []
        self._handle: asyncio.Handle | None = None
        self._round: list[Client] | None = None  # the round under way
        self._position = 0
        # For /healthz and the benchmarks: batched writes (WebSocket and SSE), the
        # events they carried, and of the writes those a writer task made (the socket
        # was backed up).
        self.writes = 0
        self.frames = 0
        self.backed_up_writes = 0

    def soon(self, client: Client) -> None:
        """Write `client`'s queue in the next round."""
        self._to_flush.append(client)
        if self._handle is None and self._round is None:
            self._handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write one slice of the current round (starting a round if none is under way)."""
        self._handle = None
        loop = asyncio.get_running_loop()
        if self._round is None:
            self._round, self._to_flush = self._to_flush, []
            self._position = 0
        start = self._position
        self._position = end = start + FLUSH_SLICE
        for client in self._round[start:end]:
            try:  # inline: this loop runs once per connection of the room
                client.flush()
            except Exception:
                client.write_failed()
        if end < len(self._round):
            self._handle = loop.call_soon(self._flush)
            return
        self._round = None
        if self._to_flush:  # woken during the round: they make the next one
            self._handle = loop.call_soon(self._flush)


class ClientHost(Protocol):
    """What a client needs of the node it belongs to."""

    rounds: FlushRounds

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` as a task the node keeps (and cancels on shutdown)."""

    def client_gone(self, client: Client) -> None:
        """The client's handler has ended: forget it and its connection."""

    def send_alone(self, conn: Connection, item: Encoded) -> None:
        """Queue one message for this connection alone."""


class Client(ABC):
    """The `rooms.Sink` of one browser connection, WebSocket or SSE. Subclasses say how a
    batch of events goes on the wire (`encode`, a plain function: this is the hot path),
    what tells that their stream is over (`stream.closed`) and how it ends when the
    node shuts down (`close_stream`).

    Writes go straight to the socket: each event's bytes are built once per node
    (wire.py) and a connection's whole queue goes out in one write. The fast path takes
    no task: the registry's wake-up puts the connection in the next flush round, and one
    callback per loop turn writes every listed connection whose socket takes data
    (FlushRounds). Only a connection whose socket
    is backed up (the transport's buffer over its high-water mark), or that is shutting
    down, gets a writer task, for as long as that lasts: it waits for the socket, then
    writes everything queued meanwhile. While it runs, everything for that connection
    goes through it, so order holds. Nothing is woken per connection when a room is
    quiet.
    """

    def __init__(self, host: ClientHost, request: web.Request, address: bytes):
        self.host = host
        self.rounds = host.rounds
        self.address = address  # its client's, as counted against the stream cap
        self.transport = request.transport
        self.protocol = request.protocol
        self.conn: Connection | None = None
        # What the connection is of, for its disconnect: the rooms' registry or the
        # charts' table (whatever has `disconnect(conn)`).
        self.table: Any = None
        self.finishing = False  # shutting down: write out the queue, then close
        # How a finishing stream closes (WebSocket): a restart, or its room is gone.
        self.close_code = CLOSE_SERVICE_RESTART
        self.close_reason = b"server restart"
        self.evicted = False
        self.writer: asyncio.Task[None] | None = None
        self.writing = False  # a writer task owns the queue until it is written out

    # -- the wire format, set by subclasses ------------------------------------------
    encode: Callable[[list[Encoded]], bytes]
    stream: Any  # its `closed` is true once the stream was closed (no more writes)

    @abstractmethod
    async def close_stream(self) -> None:
        """After the last write on shutdown: end the stream the protocol's way."""

    # -- rooms.Sink ----------------------------------------------------------------
    def wake(self) -> None:
        if self.writing:
            return  # the running writer task takes it with the rest
        if self.finishing:
            self._start_writer()
        else:
            self.rounds.soon(self)

    def hurry(self) -> None:
        if self.writing or self.finishing:
            return  # a writer task has the queue
        try:
            self.flush()  # now, not in the next round
        except Exception:
            self.write_failed()

    def evict(self, code: int, reason: str) -> None:
        self.evicted = True
        log.info("evicting a slow client of %s", self.conn.room if self.conn else "?")

    def end(self, code: int, reason: str) -> None:
        """The room is gone: write out the queue (its `gone` message), then close."""
        self.close_code, self.close_reason = code, reason.encode()
        self.finishing = True
        self.wake()

    # -- writing -------------------------------------------------------------------
    def write_failed(self) -> None:
        """A write raised: this connection's trouble must not stop the room."""
        log.exception("writing to a client failed")
        self.abort()

    def flush(self) -> None:
        conn = self.conn
        if self.writing or conn is None or not conn.queue:
            return
        if self.finishing or self.protocol.writing_paused:
            self._start_writer()
            return
        transport = self.transport
        if transport is None or transport.is_closing() or self.stream.closed:
            return  # going away: the handler ends and forgets the connection
        batch = conn.take()
        transport.write(self.encode(batch))
        conn.done()
        rounds = self.rounds
        rounds.writes += 1
        rounds.frames += len(batch)

    def _start_writer(self) -> None:
        if not self.writing and self.conn is not None:
            self.writing = True
            self.writer = asyncio.get_running_loop().create_task(self._write_out(self.conn))

    async def _write_out(self, conn: Connection) -> None:
        protocol = self.protocol
        try:
            while conn.queue:
                if protocol.writing_paused:
                    # Offers meanwhile pile up in conn.queue, where they count against
                    # the bound: a client that never reads gets evicted.
                    await protocol._drain_helper()  # what aiohttp's own writer awaits
                transport = self.transport
                if transport is None or transport.is_closing() or self.stream.closed:
                    return
                batch = conn.take()
                transport.write(self.encode(batch))
                conn.done()
                self.rounds.writes += 1
                self.rounds.frames += len(batch)
                self.rounds.backed_up_writes += 1
            if self.finishing:
                await self.close_stream()
        except (ConnectionError, RuntimeError):
            return  # the peer went away or the socket closed; the handler ends
        finally:
            self.writing = False

    async def handler_done(self) -> None:
        """The connection's handler is ending: let a shutdown's writer finish (the
        shutdown grace period bounds the wait), stop any other, forget the client."""
        try:
            writer = self.writer
            if writer is not None and self.finishing:
                with contextlib.suppress(Exception):
                    await writer
            elif writer is not None:
                writer.cancel()
        finally:
            # Also when the handler is cancelled (the transport closed) mid-wait.
            self.host.client_gone(self)

    def finish(self, delay_ms: int) -> None:
        """Shutdown: tell the client when to come back, then close after the queue."""
        self.finishing = True
        if self.conn is not None:
            reconnect = Encoded({"type": "reconnect", "delay_ms": delay_ms})
            self.host.send_alone(self.conn, with_sse_retry(reconnect, delay_ms))
        self.wake()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class WebSocketClient(Client):
    """One JSON event per text frame; closes with 1012 on shutdown."""

    def __init__(self, host: ClientHost, request: web.Request, ws: web.WebSocketResponse,
                 address: bytes):
        super().__init__(host, request, address)
        self.ws = self.stream = ws
        self.encode = ws_frames

    async def close_stream(self) -> None:
        await self.ws.close(code=self.close_code, message=self.close_reason)

    def evict(self, code: int, reason: str) -> None:
        super().evict(code, reason)
        if self.writer is not None:
            self.writer.cancel()
        self.host.spawn(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(EVICT_CLOSE_SECONDS):
                await self.ws.close(code=code, message=reason.encode())
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self.abort()


class _SseStream:
    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False


class SseClient(Client):
    """Server-Sent Events on a prepared StreamResponse. Events are written to the
    transport directly, in the response's framing: HTTP/1.1 chunks (as aiohttp chose
    when it prepared the response), or the bare stream for HTTP/1.0. The handler only
    sends keep-alive comments while the stream is quiet."""

    def __init__(self, host: ClientHost, request: web.Request,
                 response: web.StreamResponse, address: bytes):
        super().__init__(host, request, address)
        self.response = response
        self.chunked = response.headers.get("Transfer-Encoding", "").lower() == "chunked"
        self.encode = sse_chunks if self.chunked else sse_bare
        self.stream = _SseStream()
        self.ended = asyncio.Event()  # the stream is over: closed on shutdown, or evicted

    def _end(self) -> None:
        self.stream.closed = True
        self.ended.set()

    async def close_stream(self) -> None:
        await self.response.write_eof()
        self._end()

    def keep_alive(self) -> None:
        """A comment line, so proxies and the browser see the stream is alive; skipped
        while a writer task holds the connection (its socket is backed up anyway)."""
        transport = self.transport
        if self.writing or transport is None or transport.is_closing() or self.stream.closed:
            return
        comment = b": keep-alive\n\n"
        transport.write(b"%x\r\n%s\r\n" % (len(comment), comment) if self.chunked
                        else comment)

    def evict(self, code: int, reason: str) -> None:
        super().evict(code, reason)
        # No close code in SSE: the stream just ends and EventSource comes back with
        # Last-Event-ID. The queue may be stuck behind a full socket, so abort.
        if self.writer is not None:
            self.writer.cancel()
        self._end()
        self.abort()
