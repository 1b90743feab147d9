"""The analytics path as real processes on 127.0.0.1:

    tm --publish--> reflektor --replay--> sotu collector --flush--> clouddb, tickdb
                              --replay--> ekg <--WebSocket/SSE-- clients (rooms, charts)
    sotu collector --chart updates--> the same reflektor (and so on to ekg)

Subprocesses and blocking calls only, so browser tests can use it beside Playwright.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testkit.ports import free_port
from testkit.services import PYTHON, Service

from .tm_server import ApiSession, TmServer, running_tm


@dataclass
class AnalyticsStack:
    secret: str
    tm: TmServer
    reflektor: Service
    collector: Service
    ekg: Service
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
        # The collector sends its chart updates through the reflektor that replays tm's
        # events to it: the reflektor's port is chosen first.
        reflektor_port = free_port()
        collector = Service("collector", [
            PYTHON, "-m", "sotu.collector", "--port", "0", "--clouddb", clouddb.url,
            "--tickdb", tickdb.url,
            "--publish", f"http://127.0.0.1:{reflektor_port}",
            "--chart-full-every", "1"], tmp, env=env)
        ekg = Service("ekg", [PYTHON, "-m", "ekg_py", "--port", "0",
                              "--allowed-origin", tm_url], tmp, env=env)
        services += [collector, ekg]
        collector.start()
        ekg.start()
        reflektor = Service("reflektor", [PYTHON, "-m", "reflektor", "--port",
                                          str(reflektor_port), "--admin-port", "0",
                                          "--target", collector.url, "--target", ekg.url], tmp)
        services.append(reflektor)
        reflektor.start()
        tm_env = {**env, "TM_REFLEKTOR_URLS": reflektor.url, "TM_PUSH_URLS": ekg.url}
        with running_tm(tmp, tm_env, port=tm_port) as tm:
            yield AnalyticsStack(secret=secret, tm=tm, reflektor=reflektor,
                                 collector=collector, ekg=ekg, clouddb=clouddb,
                                 tickdb=tickdb)
    finally:
        for service in reversed(services):
            service.stop()
