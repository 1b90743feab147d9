"""The process lifecycle: start senders and both listeners, wait for a signal, drain, stop.

On the first SIGTERM or SIGINT reflektor stops accepting (the intake socket closes, so
new connections are refused; a request on a connection that was already open gets 503),
keeps delivering for at most `drain_timeout` seconds, then stops and exits 0, logging
how many items it could not deliver. A second signal cuts the drain short. The admin
port stays up while draining so an operator can watch /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from .config import Config
from .sender import Dispatcher
from .server import make_admin_app, make_intake_app

log = logging.getLogger("reflektor")

# Connections still open when a listener shuts down get this long to finish a request.
LISTENER_SHUTDOWN_TIMEOUT = 1.0


def _address(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner,
                                                                        web.TCPSite]:
    # access_log=None: one line per event at classroom rates is noise, /metrics counts.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=LISTENER_SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site


async def serve(config: Config, announce: Callable[[str], None] | None = None) -> int:
    """Run until a signal; returns the exit status (0 after a drain, timed out or not)."""
    announce = announce or (lambda line: print(line, flush=True))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()

    def on_signal(name: str) -> None:
        if stop.is_set():
            log.warning("%s again: stopping without finishing the drain", name)
            hurry.set()
        else:
            log.info("%s: stop accepting, drain for up to %gs", name, config.drain_timeout)
            stop.set()

    dispatcher = Dispatcher(config)
    await dispatcher.start()
    runners: list[web.AppRunner] = []
    try:
        intake_runner, intake_site = await _listen(
            make_intake_app(dispatcher, config.max_body), config.host, config.port)
        runners.append(intake_runner)
        admin_runner, _ = await _listen(
            make_admin_app(dispatcher), config.admin_host, config.admin_port)
        runners.append(admin_runner)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum.name)
        # Tests and operators read the bound ports from this exact line (port 0 works).
        announce(f"reflektor listening on {_address(intake_runner)} "
                 f"admin {_address(admin_runner)}")
        log.info("targets: %s", ", ".join(config.targets))

        await stop.wait()
        dispatcher.accepting = False
        await intake_site.stop()
        drained = await _drain(dispatcher, config.drain_timeout, hurry)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        lost = await dispatcher.stop()
        for runner in runners:
            await runner.cleanup()
    log.info("reflektor stopped: drained=%s undelivered=%d received=%d",
             drained, lost, dispatcher.received)
    return 0


async def _drain(dispatcher: Dispatcher, timeout: float, hurry: asyncio.Event) -> bool:
    drain = asyncio.create_task(dispatcher.drain(timeout))
    interrupted = asyncio.create_task(hurry.wait())
    await asyncio.wait({drain, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    interrupted.cancel()
    if not drain.done():
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
        return False
    return drain.result()
