"""The aiohttp layer of an ekg push node: HTTP routes, flush rounds, shutdown.

It owns sockets and tasks and nothing else: each browser connection is a sink in
`clients.py`, and who gets which event is decided by the pure registry in `rooms.py`.
Routes (README.md has the protocol):

    POST /internal/rooms/<room>/events   signed event from reflektor -> 202
    DELETE /internal/rooms/<room>        signed: tm deleted the room, forget its events -> 200
    POST /internal/presence              signed: a peer node's presence counts -> 202
    *    /internal/...                   anything else internal -> 404 (reflektor: done)
    GET  /ws/<room>?ticket=&after=           WebSocket, one JSON event per text frame
    GET  /sse/<room>?ticket=&after=          the same stream as Server-Sent Events
    GET  /healthz                        rooms, connections, evictions on this node
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from contract import charts, signing
from contract.addresses import client_address, limit_key, parse_networks
from contract.names import is_room_name, parse_scope, room_scope
from contract.service import (
    Internal,
    error_response,
    json_errors,
    origin_allowed,
    serving,
    sse_headers,
    sse_preflight_headers,
)

from .charts import ChartTable
from .clients import Client, FlushRounds, SseClient, WebSocketClient
from .connections import DEFAULT_MAX_QUEUE_BYTES, Connection
from .idle import DEFAULT_MAX_IDLE_SECONDS
from .outgoing import Encoded
from .peering import PresenceReporter
from .peers import InvalidReport, parse_report
from .presence import DEFAULT_PRESENCE_INTERVAL
from .reorder import DEFAULT_REORDER_WINDOW
from .ring import DEFAULT_RING_SIZE
from .rooms import Registry

log = logging.getLogger("ekg")

RECONNECT_DELAY_MS = (500, 5000)
HEARTBEAT_JITTER = 0.2  # each connection pings every --ws-heartbeat x (0.8 .. 1.2)
ERROR_CODES = {429: "too_many_streams"}  # beside the shell's (contract/service.py)


@dataclass(frozen=True)
class Config:
    secret: str
    # Browser origins allowed to connect; "*" allows any. A request without an Origin
    # header (not a browser) is always allowed: README.md, "Origins".
    allowed_origins: frozenset[str] = frozenset()
    ring_size: int = DEFAULT_RING_SIZE
    max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES
    presence_interval: float = DEFAULT_PRESENCE_INTERVAL
    reorder_window: float = DEFAULT_REORDER_WINDOW
    idle_room_seconds: float = DEFAULT_MAX_IDLE_SECONDS
    sse_keepalive: float = 15.0
    ws_heartbeat: float = 30.0
    shutdown_grace: float = 5.0
    # A connection that has not sent a whole request (a WebSocket upgrade, an SSE GET,
    # reflektor's next POST) this long after it opened or after its last request is
    # closed: a client trickling half a header holds nothing for minutes.
    request_timeout: float = 5.0
    # Open streams one client address may hold, and the proxies in front whose
    # X-Forwarded-For names the client (contract/addresses.py).
    max_streams_per_address: int = 5000
    trusted_proxies: tuple[str, ...] = ()
    # Other nodes' base URLs, to add up presence across nodes (peers.py); this node's
    # id in its reports.
    peers: tuple[str, ...] = ()
    node_id: str = ""
    instance: str = field(default_factory=lambda: secrets.token_hex(6))


class Node:
    """One push node: the registry, its configuration and the live clients."""

    def __init__(self, config: Config, registry: Registry | None = None):
        self.config = config
        self.registry = registry or Registry(
            ring_size=config.ring_size, max_queue_bytes=config.max_queue_bytes,
            presence_interval=config.presence_interval,
            reorder_window=config.reorder_window,
            max_idle_seconds=config.idle_room_seconds,
            share_presence=bool(config.peers))
        self.charts = ChartTable(max_queue_bytes=config.max_queue_bytes,
                                 presence_interval=config.presence_interval)
        self.reporter = (PresenceReporter(
            self.registry, list(config.peers), secret=config.secret,
            node_id=config.node_id, instance=config.instance,
            interval=config.presence_interval)
            if config.peers else None)
        self.clients: set[Client] = set()
        # Open streams per client address, by a keyed hash of it: no address in clear,
        # and the key dies with the process.
        self.streams_by_address: Counter[bytes] = Counter()
        self._address_key = secrets.token_bytes(16)
        self._trusted = parse_networks(config.trusted_proxies)
        self.rounds = FlushRounds()  # writes the woken clients' queues (clients.py)
        self.refused_streams = 0  # 429s: an address over --max-streams-per-address
        self._tasks: set[asyncio.Task[Any]] = set()
        self.duplicates_logged: set[str] = set()  # instances reporting under our node id
        self._no_clients = asyncio.Event()
        self._no_clients.set()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def address_of(self, request: web.Request) -> bytes:
        """The keyed hash of the request's client address (behind trusted proxies, the
        one in X-Forwarded-For)."""
        # Every X-Forwarded-For line, joined: a proxy that adds a line of its own must
        # not leave the client's own line to be read as the truth.
        forwarded = ", ".join(request.headers.getall("X-Forwarded-For", []))
        address = limit_key(client_address(request.remote or "", forwarded, self._trusted))
        return hashlib.blake2b(address.encode(), key=self._address_key, digest_size=16).digest()

    def check_stream_room(self, address: bytes) -> None:
        """429 when the address holds --max-streams-per-address streams already."""
        if self.streams_by_address[address] >= self.config.max_streams_per_address:
            self.refused_streams += 1
            raise web.HTTPTooManyRequests(reason="too many streams from one address")

    def add_client(self, client: Client) -> None:
        self.clients.add(client)
        self.streams_by_address[client.address] += 1
        self._no_clients.clear()

    # -- clients.ClientHost ------------------------------------------------------------
    def send_alone(self, conn: Connection, item: Encoded) -> None:
        self.registry.send(conn, item)

    def client_gone(self, client: Client) -> None:
        if client in self.clients:
            self.streams_by_address[client.address] -= 1
            if self.streams_by_address[client.address] <= 0:
                del self.streams_by_address[client.address]
        self.clients.discard(client)
        if client.conn is not None:
            client.table.disconnect(client.conn)
        if not self.clients:
            self._no_clients.set()

    async def presence_ticker(self) -> None:
        """Drives the registry's timers: trailing presence counts, reorder windows."""
        period = min(max(self.config.presence_interval / 4, 0.02), 0.25)
        if self.config.reorder_window > 0:
            period = min(period, max(self.config.reorder_window / 4, 0.005))
        while True:
            self.registry.tick()
            self.charts.tick()
            await asyncio.sleep(period)

    async def close_clients(self) -> None:
        """Tell every client to reconnect after a random delay, then close them all."""
        for client in list(self.clients):
            client.finish(random.randint(*RECONNECT_DELAY_MS))
        try:
            async with asyncio.timeout(self.config.shutdown_grace):
                await self._no_clients.wait()
        except TimeoutError:
            log.warning("%d clients did not close in time; aborting them", len(self.clients))
            for client in list(self.clients):
                client.abort()


NODE = web.AppKey("node", Node)


# -- handlers ----------------------------------------------------------------------
internal = Internal(lambda request: request.app[NODE].config.secret)


@internal.event
async def post_event(request: web.Request, event: dict[str, Any]) -> web.Response:
    fresh = request.app[NODE].registry.publish(event)
    return web.json_response({"ok": True, "duplicate": not fresh}, status=202)


@internal.deletion
async def delete_room(request: web.Request, deleted_at: str) -> web.Response:
    """tm deleted the room: forget what the node holds of it, now rather than when a
    new room of the name shows up or the room has sat idle long enough."""
    node = request.app[NODE]
    room = request.match_info["room"]
    forgot = node.registry.forget_room(room, deleted_at)
    node.charts.forget(room_scope(room))  # the teacher's live view of it ends too
    return web.json_response({"ok": True, "forgot": forgot})


@internal
async def post_chart(request: web.Request, body: bytes) -> web.Response:
    """sotu's collector, through reflektor: a chart's changes or its whole state."""
    try:
        scope, messages, full = charts.check_update(json.loads(body))
    except (ValueError, RecursionError, charts.InvalidChartUpdate) as error:
        return error_response(400, "bad_chart_update", str(error))
    posted_to = request.match_info["scope"]
    if scope != posted_to:
        return error_response(400, "scope_mismatch",
                              f"update for {scope!r} posted to chart {posted_to!r}")
    request.app[NODE].charts.update(scope, messages, full=full)
    return web.json_response({"ok": True}, status=202)


@internal
async def post_presence(request: web.Request, body: bytes) -> web.Response:
    """A peer node's presence counts (peers.py), added to this node's own."""
    node = request.app[NODE]
    try:
        report = parse_report(json.loads(body))
    except (ValueError, RecursionError, InvalidReport) as error:  # JSON, UTF-8, depth
        return error_response(400, "bad_report", str(error))
    if report.node == node.config.node_id:
        if report.instance == node.config.instance:
            return web.json_response({"ok": True, "self": True}, status=202)
        if report.instance not in node.duplicates_logged:  # once per impostor, not per report
            node.duplicates_logged.add(report.instance)
            log.error("another node reports under this node's id %r: give each node its "
                      "own --node-id", report.node)
        return error_response(409, "duplicate_node_id",
                              f"{report.node!r} is this node's id: give each node its own")
    taken, full_wanted = node.registry.take_peer_report(report)
    return web.json_response({"ok": True, "taken": taken, "full_wanted": full_wanted},
                             status=202)


async def internal_not_found(request: web.Request) -> web.Response:
    return error_response(404, "not_found", "no such internal endpoint")


async def healthz(request: web.Request) -> web.Response:
    node = request.app[NODE]
    return web.json_response({"ok": True, **node.registry.stats(), **node.charts.stats(),
                              "stream_writes": node.rounds.writes,
                              "stream_frames": node.rounds.frames,
                              "backed_up_writes": node.rounds.backed_up_writes,
                              "refused_streams": node.refused_streams})


def _seq_param(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 18:
        raise web.HTTPBadRequest(reason=f"{name} must be a non-negative integer")
    return int(text)


def _ticket(request: web.Request, room: str) -> signing.Ticket:
    """The stream's follow ticket for `room`, or an HTTP error: 401 without one, 403 for
    one that is forged, expired, for another room or for a room of that name that was
    deleted (README.md, "Follow tickets")."""
    node = request.app[NODE]
    given = request.query.get("ticket")
    if not given:
        raise web.HTTPUnauthorized(reason="a follow ticket is required: tm hands one out "
                                          "with the room (POST /api/v1/rooms/<room>/ticket)")
    ticket, why = signing.check_follow_ticket(node.config.secret, given, room)
    if ticket is None:
        raise web.HTTPForbidden(reason=why)
    refused = node.registry.admit(room, ticket.incarnation)
    if refused is not None:
        raise web.HTTPForbidden(reason=refused)
    return ticket


def _stream_request(request: web.Request) -> tuple[str, int | None, signing.Ticket, bytes]:
    """Room, after and follow ticket of a browser stream, or an HTTP error: 401 without
    a ticket, 403 for one that is forged, expired, for another room or for a room of
    that name that was deleted (README.md, "Follow tickets"). Nothing is sent first."""
    node = request.app[NODE]
    room = request.match_info["room"]
    if not is_room_name(room):
        raise web.HTTPNotFound(reason="no such room")
    if not origin_allowed(request, node.config.allowed_origins):
        raise web.HTTPForbidden(reason="origin not allowed")
    after = _seq_param(request.query.get("after"), "after")
    ticket = _ticket(request, room)
    address = node.address_of(request)
    node.check_stream_room(address)
    return room, after, ticket, address


def _chart_request(request: web.Request) -> tuple[str, bytes]:
    """Scope and address of a chart stream, or an HTTP error. An event's chart is
    public, like the event's dashboard; a room's is its teachers' view: it needs a
    moderator's follow ticket for the room, as the room's held posts do."""
    node = request.app[NODE]
    scope = request.match_info["scope"]
    parsed = parse_scope(scope)
    if parsed is None:
        raise web.HTTPNotFound(reason="no such chart: use event:<name> or room:<room>")
    if not origin_allowed(request, node.config.allowed_origins):
        raise web.HTTPForbidden(reason="origin not allowed")
    kind, room = parsed
    if kind == "room" and not _ticket(request, room).moderator:
        raise web.HTTPForbidden(reason="a room's charts are its teachers' view: a "
                                       "moderator's ticket is needed")
    address = node.address_of(request)
    node.check_stream_room(address)
    return scope, address


Follow = Callable[[Client], Connection]


async def _serve_websocket(request: web.Request, address: bytes, table: Any,
                           follow: Follow) -> web.StreamResponse:
    """A WebSocket stream of `table` (the rooms' registry or the charts'): `follow`
    registers the client's connection."""
    node = request.app[NODE]
    # Jittered per connection: a class connects within a second or two, and pings that
    # all come due together (aiohttp rounds them to whole seconds) stall the node while
    # it handles thousands of pongs at once.
    heartbeat = node.config.ws_heartbeat * random.uniform(1 - HEARTBEAT_JITTER,
                                                          1 + HEARTBEAT_JITTER)
    ws = web.WebSocketResponse(compress=False, heartbeat=heartbeat, max_msg_size=64 * 1024)
    await ws.prepare(request)
    client = WebSocketClient(node, request, ws, address)
    client.table = table
    node.add_client(client)
    client.conn = follow(client)
    try:
        async for _message in ws:
            pass  # clients have nothing to say; reading handles pings and the close
    finally:
        await client.handler_done()
    return ws


async def _serve_sse(request: web.Request, address: bytes, table: Any,
                     follow: Follow) -> web.StreamResponse:
    """The same as Server-Sent Events."""
    node = request.app[NODE]
    response = web.StreamResponse(headers=sse_headers(request))
    await response.prepare(request)
    client = SseClient(node, request, response, address)
    client.table = table
    node.add_client(client)
    client.conn = follow(client)
    try:
        # Events go out in the node's flush rounds (Client); this handler only keeps a
        # quiet stream alive, until the client goes (the handler is cancelled then), is
        # evicted, or the stream is closed on shutdown.
        while not client.evicted:
            try:
                async with asyncio.timeout(node.config.sse_keepalive):
                    await client.ended.wait()
                break
            except TimeoutError:
                client.keep_alive()
    finally:
        await client.handler_done()
    return response


async def websocket(request: web.Request) -> web.StreamResponse:
    registry = request.app[NODE].registry
    room, after, ticket, address = _stream_request(request)
    return await _serve_websocket(request, address, registry, lambda client: registry.connect(
        room, client, moderator=ticket.moderator, after=after, incarnation=ticket.incarnation))


async def sse(request: web.Request) -> web.StreamResponse:
    registry = request.app[NODE].registry
    room, after, ticket, address = _stream_request(request)
    last_id = request.headers.get("Last-Event-ID", "").strip()
    if last_id.isdigit() and len(last_id) <= 18:
        after = max(after or 0, int(last_id))
    return await _serve_sse(request, address, registry, lambda client: registry.connect(
        room, client, moderator=ticket.moderator, after=after, incarnation=ticket.incarnation))


async def chart_websocket(request: web.Request) -> web.StreamResponse:
    table = request.app[NODE].charts
    scope, address = _chart_request(request)
    return await _serve_websocket(request, address, table,
                                  lambda client: table.connect(scope, client))


async def chart_sse(request: web.Request) -> web.StreamResponse:
    table = request.app[NODE].charts
    scope, address = _chart_request(request)
    return await _serve_sse(request, address, table,
                            lambda client: table.connect(scope, client))


async def sse_preflight(request: web.Request) -> web.Response:
    if not origin_allowed(request, request.app[NODE].config.allowed_origins):
        return error_response(403, "forbidden", "origin not allowed")
    return web.Response(status=204, headers=sse_preflight_headers(request))


def create_app(config: Config, registry: Registry | None = None) -> web.Application:
    app = web.Application(middlewares=[json_errors(ERROR_CODES)])
    node = app[NODE] = Node(config, registry)
    app.router.add_post("/internal/rooms/{room}/events", post_event)
    app.router.add_delete("/internal/rooms/{room}", delete_room)
    app.router.add_post("/internal/presence", post_presence)
    app.router.add_post("/internal/charts/{scope}", post_chart)
    # Registered after the events route: any other internal call (or method) is a 404,
    # which reflektor counts as done.
    app.router.add_route("*", "/internal/{tail:.*}", internal_not_found)
    app.router.add_get("/ws/{room}", websocket)
    app.router.add_get("/sse/{room}", sse)
    app.router.add_route("OPTIONS", "/sse/{room}", sse_preflight)
    app.router.add_get("/ws/charts/{scope}", chart_websocket)
    app.router.add_get("/sse/charts/{scope}", chart_sse)
    app.router.add_route("OPTIONS", "/sse/charts/{scope}", sse_preflight)
    app.router.add_get("/healthz", healthz)

    async def ticker(app: web.Application) -> AsyncIterator[None]:
        tasks = [node.spawn(node.presence_ticker())]
        if node.reporter is not None:
            tasks.append(node.spawn(node.reporter.run()))
        yield
        for task in tasks:
            task.cancel()

    app.cleanup_ctx.append(ticker)
    return app


async def serve(config: Config, host: str, port: int,
                announce: Callable[[str, int], None] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then tell clients to reconnect and close them."""
    app = create_app(config)
    node = app[NODE]
    # handler_cancellation ends an SSE handler as soon as its client disconnects, so
    # presence counts drop at once instead of at the next keep-alive.
    async with serving(app, host, port, announce=announce, backlog=2048,
                       handler_cancellation=True, quiet_cleanup=True,
                       keepalive_timeout=config.request_timeout) as (runner, stop):
        await stop.wait()
        log.info("shutting down: %d clients to send away", len(node.clients))
        for running_site in list(runner.sites):
            await running_site.stop()
        await node.close_clients()
        if node.reporter is not None:  # the peers drop this node's counts now
            await node.reporter.final_report()
