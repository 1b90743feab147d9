"""The analytics path as real processes on 127.0.0.1:

    tm --publish--> reflektor --replay--> sotu collector --flush--> clouddb, tickdb
                                          sotu pulse <--poll-- clouddb, tickdb
                                          clients <--WebSocket/SSE-- pulse

Subprocesses and blocking calls only, so browser tests can use it beside Playwright.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .memcached_server import free_port
from .services import PYTHON, Service
from .tm_server import ApiSession, TmServer, running_tm


@dataclass
class AnalyticsStack:
    secret: str
    tm: TmServer
    reflektor: Service
    collector: Service
    pulse: Service
    clouddb: Service
    tickdb: Service

    def create_room(self, name: str, **fields) -> ApiSession:
        return self.tm.create_room(name, **fields)[1]


@contextlib.contextmanager
def running_analytics(tmp: Path) -> Iterator[AnalyticsStack]:
    secret = secrets.token_urlsafe(32)
    env = {"TM_INTERNAL_SECRET": secret}
    tm_port = free_port()
    tm_url = f"http://127.0.0.1:{tm_port}"
    flatdb = Path(PYTHON).parent / "flatdb"
    clouddb = Service("clouddb", [str(flatdb), "--port", "0", "--database",
                                  str(tmp / "clouddb")], tmp)
    tickdb = Service("tickdb", [str(flatdb), "--port", "0", "--database",
                                str(tmp / "tickdb")], tmp)
    services: list[Service] = [clouddb, tickdb]
    try:
        clouddb.start()
        tickdb.start()
        collector = Service("collector", [
            PYTHON, "-m", "sotu.collector", "--port", "0", "--clouddb", clouddb.url,
            "--tickdb", tickdb.url, "--tm", tm_url], tmp, env=env)
        pulse = Service("pulse", [
            PYTHON, "-m", "sotu.pulse", "--port", "0", "--clouddb", clouddb.url,
            "--tickdb", tickdb.url, "--allowed-origin", tm_url], tmp, env=env)
        services += [collector, pulse]
        collector.start()
        pulse.start()
        reflektor = Service("reflektor", [PYTHON, "-m", "reflektor", "--port", "0",
                                          "--admin-port", "0", "--target", collector.url], tmp)
        services.append(reflektor)
        reflektor.start()
        tm_env = {**env, "TM_REFLEKTOR_URLS": reflektor.url, "TM_PULSE_URL": pulse.url}
        with running_tm(tmp, tm_env, port=tm_port) as tm:
            yield AnalyticsStack(secret=secret, tm=tm, reflektor=reflektor,
                                 collector=collector, pulse=pulse, clouddb=clouddb,
                                 tickdb=tickdb)
    finally:
        for service in reversed(services):
            service.stop()
