"""The two aiohttp apps: intake (any request, answered 202) and admin (loopback only).

Intake takes every method and path, reads the body, strips hop-by-hop headers, hands
the request to the `Dispatcher` and answers 202 without waiting for any target. While
the process is stopping it answers 503, so tm tries a neighbour's reflektor.

Admin (see reflektor/README.md):
    POST /pause[?target=URL]    hold delivery (all targets, or one); intake still queues
    POST /resume[?target=URL]   release it
    POST /drain?timeout=S       resume and wait until everything queued before the call
                                is delivered or given up: 200, or 504 when S runs out
    GET  /metrics               JSON: per-target depth, sent, retried, dropped, latency
    GET  /healthz               200 while accepting, 503 while stopping
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from .queue import Request
from .sender import Dispatcher, TargetSender

log = logging.getLogger("reflektor.server")

DISPATCHER = web.AppKey("dispatcher", Dispatcher)

# RFC 9110 7.6.1 hop-by-hop headers, plus the ones the client recomputes for the target
# (Host, Content-Length) and Expect (the 100-continue handshake is per connection).
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "host", "content-length", "expect",
})
DRAIN_DEFAULT_TIMEOUT = 10.0
DRAIN_MAX_TIMEOUT = 600.0


def forwardable_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The headers to replay, in order and with repeats, minus hop-by-hop ones.

    Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1).
    """
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs if name.lower() == "connection"
        for token in value.split(",") if token.strip()
    }
    return tuple(
        (name, value) for name, value in pairs
        if name.lower() not in HOP_BY_HOP and name.lower() not in named
    )


def request_target(request: web.Request) -> str:
    """Path and query as received; an absolute-form target keeps only its path part."""
    raw = request.raw_path
    return raw if raw.startswith("/") else request.rel_url.raw_path_qs


# -- intake ----------------------------------------------------------------------------
async def intake(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER]
    if not dispatcher.accepting:
        return web.json_response({"error": "stopping"}, status=503,
                                 headers={"Connection": "close"})
    body = await request.read()
    queued = Request(
        method=request.method,
        path=request_target(request),
        headers=forwardable_headers(request.headers.items()),
        body=body,
    )
    await dispatcher.enqueue(queued)
    return web.json_response({"queued": len(dispatcher.senders)}, status=202)


def make_intake_app(dispatcher: Dispatcher, max_body: int) -> web.Application:
    # auto_decompress=False: replay the body bytes as received, Content-Encoding and all.
    app = web.Application(client_max_size=max_body, handler_args={"auto_decompress": False})
    app[DISPATCHER] = dispatcher
    app.router.add_route("*", "/{tail:.*}", intake)
    return app


# -- admin -----------------------------------------------------------------------------
def _selected(request: web.Request) -> list[TargetSender] | None:
    """The senders named by ?target= (all without it); None for an unknown target."""
    try:
        return request.app[DISPATCHER].select(request.query.get("target"))
    except KeyError:
        return None


def _no_such_target(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": "no such target", "targets": list(request.app[DISPATCHER].senders)},
        status=404,
    )


async def pause(request: web.Request) -> web.Response:
    senders = _selected(request)
    if senders is None:
        return _no_such_target(request)
    await request.app[DISPATCHER].pause(senders)
    log.info("paused %s", ", ".join(s.target for s in senders))
    return web.json_response({"paused": [s.target for s in senders]})


async def resume(request: web.Request) -> web.Response:
    senders = _selected(request)
    if senders is None:
        return _no_such_target(request)
    await request.app[DISPATCHER].resume(senders)
    log.info("resumed %s", ", ".join(s.target for s in senders))
    return web.json_response({"resumed": [s.target for s in senders]})


async def drain(request: web.Request) -> web.Response:
    raw = request.query.get("timeout", str(DRAIN_DEFAULT_TIMEOUT))
    try:
        timeout = float(raw)
    except ValueError:
        timeout = -1.0
    if not 0 <= timeout <= DRAIN_MAX_TIMEOUT:  # also refuses nan
        return web.json_response(
            {"error": f"timeout must be a number of seconds from 0 to {DRAIN_MAX_TIMEOUT:g}"},
            status=400,
        )
    dispatcher = request.app[DISPATCHER]
    drained = await dispatcher.drain(timeout)
    depth = {target: sender.queue.depth for target, sender in dispatcher.senders.items()}
    return web.json_response({"drained": drained, "depth": depth},
                             status=200 if drained else 504)


async def metrics(request: web.Request) -> web.Response:
    return web.json_response(request.app[DISPATCHER].snapshot())


async def healthz(request: web.Request) -> web.Response:
    accepting = request.app[DISPATCHER].accepting
    return web.json_response({"ok": accepting, "accepting": accepting},
                             status=200 if accepting else 503)


def make_admin_app(dispatcher: Dispatcher) -> web.Application:
    app = web.Application()
    app[DISPATCHER] = dispatcher
    app.router.add_post("/pause", pause)
    app.router.add_post("/resume", resume)
    app.router.add_post("/drain", drain)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app
