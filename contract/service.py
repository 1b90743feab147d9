"""The aiohttp service shell: serving an app until SIGTERM or SIGINT, JSON errors, signed
internal calls and the events they carry, browser origins, SSE headers, start-up logging;
what ekg_py and sotu's collector share. Pure asyncio and aiohttp, no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Any

from aiohttp import web

from contract import events, signing
from contract.logs import keep_addresses_out
from contract.names import is_room_name


@contextlib.asynccontextmanager
async def serving(
    app: web.Application, host: str, port: int, *,
    announce: Callable[[str, int], None] | None = None, backlog: int = 1024,
    handler_cancellation: bool = False, shutdown_timeout: float = 1.0,
    quiet_cleanup: bool = False, keepalive_timeout: float | None = None,
) -> AsyncIterator[tuple[web.AppRunner, asyncio.Event]]:
    """Listen on host:port (0 picks a port, told to `announce`), and yield the runner
    and an event that SIGTERM or SIGINT sets. The caller waits on it and winds down;
    leaving the block removes the handlers and cleans the runner up.

    `keepalive_timeout`: aiohttp closes a connection that has not sent a whole request
    this long after it opened, or after its last request (its default is an hour)."""
    extra: dict[str, Any] = ({} if keepalive_timeout is None
                             else {"keepalive_timeout": keepalive_timeout})
    runner = web.AppRunner(app, handler_cancellation=handler_cancellation, access_log=None,
                           shutdown_timeout=shutdown_timeout, handle_signals=False, **extra)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=backlog)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    if announce is not None:
        announce(bound_host, bound_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield runner, stop
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if quiet_cleanup:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        else:
            await runner.cleanup()


# -- JSON errors ----------------------------------------------------------------------------
# ARCHITECTURE.md's error shape, the one every service answers with.
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large",
               429: "too_many_requests", 503: "unavailable"}


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_errors(codes: Mapping[int, str] | None = None, *,
                not_allowed_is_not_found: bool = False) -> Any:
    """Middleware answering every HTTP error (the router's own 404 and 405 included) in
    the JSON shape; `codes` names a service's own statuses. `not_allowed_is_not_found`:
    a wrong method is a 404 too, for endpoints only reflektor calls (it counts a 404 as
    done and any other 4xx as dropped)."""
    names = {**ERROR_CODES, **(codes or {})}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            status = 404 if error.status == 405 and not_allowed_is_not_found else error.status
            headers = ({"Allow": error.headers["Allow"]}
                       if status == 405 and "Allow" in error.headers else None)
            return error_response(status, names.get(status, "error"), error.reason, headers)

    return middleware


# -- browser origins --------------------------------------------------------------------------
def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origins_from(*sources: str | Collection[str]) -> frozenset[str]:
    """Allowed origins from comma-separated strings and lists of them, normalized."""
    found: set[str] = set()
    for source in sources:
        items = source.split(",") if isinstance(source, str) else source
        found.update(normalize_origin(o) for o in items if o.strip())
    return frozenset(found)


def origin_allowed(request: web.Request, allowed: Collection[str]) -> bool:
    """A browser stream's Origin is one of `allowed` ("*": any). A request without one is
    not from a browser, which is what origins protect: it is allowed."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return "*" in allowed or normalize_origin(origin) in allowed


# -- Server-Sent Events across origins ---------------------------------------------------
# Browsers open an SSE stream from the page's origin (tm) to the service's: answer with
# CORS headers for an origin the caller has already checked.
def sse_headers(request: web.Request) -> dict[str, str]:
    """The headers of an SSE stream: never cached, never buffered by a proxy, CORS."""
    return {"Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no",
            **cors_headers(request)}


def cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def sse_preflight_headers(request: web.Request) -> dict[str, str]:
    """The answer to an allowed origin's OPTIONS preflight of an SSE stream."""
    return {**cors_headers(request),
            "Access-Control-Allow-Methods": "GET",
            "Access-Control-Allow-Headers": "Last-Event-ID, Cache-Control",
            "Access-Control-Max-Age": "600"}


# -- start-up -----------------------------------------------------------------------------
def start_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    keep_addresses_out()


def secret_from_env(program: str, env_name: str, purpose: str) -> str | None:
    """The shared secret from the environment, or None after saying what is missing."""
    secret = os.environ.get(env_name, "")
    if not secret:
        print(f"{program}: {env_name} is not set: {purpose}", file=sys.stderr)
    return secret or None


# -- internal calls ---------------------------------------------------------------------
async def read_signed(request: web.Request, secret: str) -> tuple[bytes, str | None]:
    """An internal request's body, and why its X-TM-Signature is refused (None: good)."""
    body = await request.read()
    reason = signing.verify(secret, request.headers.get(signing.HEADER), request.method,
                            request.rel_url.raw_path, body)
    return body, reason


SignedHandler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]
EventHandler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]
DeletionHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


class Internal:
    """A service's internal endpoints, signed with the secret `secret_of(request)` gives.

    Every one has its X-TM-Signature checked before anything reads the body (401 when
    it is missing, wrong or stale), and a `{room}` in its route must be a room name
    (400 otherwise). Decorate a handler with the instance itself to get the body, with
    `.event` for `POST /internal/rooms/<room>/events` (the event, checked once by
    contract.events.check and posted to its own room, or a 400 before the handler
    runs), with `.deletion` for `DELETE /internal/rooms/<room>` (its `deleted_at`)."""

    def __init__(self, secret_of: Callable[[web.Request], str]):
        self.secret_of = secret_of

    def __call__(self, handler: SignedHandler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            body, reason = await read_signed(request, self.secret_of(request))
            if reason is not None:
                return error_response(401, "bad_signature", reason)
            room = request.match_info.get("room")
            if room is not None and not is_room_name(room):
                return error_response(400, "bad_room", "not a room name")
            return await handler(request, body)

        return checked

    def event(self, handler: EventHandler) -> Handler:
        @functools.wraps(handler)
        async def with_event(request: web.Request, body: bytes) -> web.StreamResponse:
            event = event_of(request, body)
            if isinstance(event, web.Response):
                return event
            return await handler(request, event)

        return self(with_event)

    def deletion(self, handler: DeletionHandler) -> Handler:
        @functools.wraps(handler)
        async def with_deletion(request: web.Request, body: bytes) -> web.StreamResponse:
            deleted_at = events.deleted_at_of(body)
            if deleted_at is None:
                return error_response(
                    400, "bad_request",
                    'the body must be {"deleted_at": "<ISO 8601 UTC time>"}')
            return await handler(request, deleted_at)

        return self(with_deletion)


def event_of(request: web.Request, body: bytes) -> dict[str, Any] | web.Response:
    """The event a signed `POST /internal/rooms/<room>/events` carries, checked once
    (contract.events.check), or the 400 to answer."""
    try:
        event: dict[str, Any] = json.loads(body)
        events.check(event)
    except (ValueError, RecursionError, events.InvalidEvent) as error:  # JSON, UTF-8, depth
        return error_response(400, "bad_event", str(error))
    room = request.match_info["room"]
    if event["room"] != room:
        return error_response(400, "room_mismatch",
                              f"event for {event['room']!r} posted to room {room!r}")
    return event
