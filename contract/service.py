"""The aiohttp service shell: serving an app until SIGTERM or SIGINT, signed bodies, SSE
headers, start-up logging; what ekg_py, sotu's collector and pulse share. Pure asyncio
and aiohttp, no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from contract import signing
from contract.logs import keep_addresses_out


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
    extra = {} if keepalive_timeout is None else {"keepalive_timeout": keepalive_timeout}
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


# -- Server-Sent Events across origins ---------------------------------------------------
# Browsers open an SSE stream from the page's origin (tm) to the service's: answer with
# CORS headers for an origin the caller has already checked.
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
