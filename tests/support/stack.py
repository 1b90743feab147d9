"""The whole real-time path as real processes on 127.0.0.1, for integration and browser tests.

    tm (gunicorn) --publish--> reflektor --replay--> ekg node <--WebSocket/SSE-- clients
    outbox relay (manage.py relay_outbox) --re-publish unstamped events--> reflektor

Every process shares one random internal secret. The services are started on port 0
and pinned to the port they got, so a test can kill one (kill -9 or SIGTERM) and start
it again at the same address: tm's TM_REFLEKTOR_URLS, reflektor's --target and the
clients' push URL stay valid, as they would for an operator restarting a service.
tm gets its port up front because the ekg node must allow its origin (browsers).

Subprocesses and blocking calls only (no asyncio): the browser tests use it from the
thread where Playwright's sync API keeps an event loop marked as running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from testkit.ports import free_port
from testkit.services import PYTHON, ROOT, Service
from testkit.timing import wait_until

from .tm_server import ApiSession, TmServer, running_tm

# reflektor retries a dead ekg quickly, so a restarted node gets its backlog at once.
REFLEKTOR_OPTIONS = ("--retry-base", "0.02", "--retry-max", "0.25", "--attempt-timeout", "2",
                     "--drain-timeout", "5")
RELAY_INTERVAL, RELAY_GRACE = "0.5", "1"


def _pin(service: Service) -> None:
    """Rewrite `--port 0` (and `--admin-port 0`) to the ports the service bound."""
    args = list(service.args)
    for flag, port in (("--port", service.port), ("--admin-port", service.admin_port)):
        if flag in args and port:
            args[args.index(flag) + 1] = str(port)
    service.args = args


@dataclass
class Stack:
    secret: str
    tm: TmServer
    ekg: Service  # the first push node
    reflektor: Service
    relay: subprocess.Popen
    relay_log_path: Path
    ekgs: list[Service] = dataclasses.field(default_factory=list)  # every push node
    owner_keys: dict[str, str] = dataclasses.field(default_factory=dict)  # room -> key

    @property
    def tm_url(self) -> str:
        return self.tm.url

    @property
    def ekg_url(self) -> str:
        return self.ekg.url

    @property
    def reflektor_url(self) -> str:
        return self.reflektor.url

    # -- rooms and people --------------------------------------------------------
    def create_room(self, name: str, **fields) -> ApiSession:
        """Create a room; returns its owner's (moderator's) API client."""
        owner = self.tm.create_room(name, **fields)[1]
        assert owner.token is not None
        self.owner_keys[name] = owner.token
        return owner

    def join(self, room: str, nickname: str) -> ApiSession:
        return self.tm.join(room, nickname)

    def owner_key(self, room: str) -> str:
        """The owner key of a room this stack created: a client that asks tm for its
        follow ticket with it follows as a moderator."""
        return self.owner_keys[room]

    def api(self, path: str) -> str:
        return f"{self.tm.url}/api/v1{path}"

    # -- what the database holds ---------------------------------------------------
    def query(self, statement: str, *params) -> list[tuple]:
        """Read tm's database directly (read-only), e.g. the outbox's published_at."""
        uri = f"file:{self.tm.db_path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=20)) as db:
            return db.execute(statement, params).fetchall()

    def unpublished(self, room: str) -> int:
        """Outbox rows of `room` that no reflektor has taken yet."""
        return self.query(
            "SELECT COUNT(*) FROM tm_event e JOIN tm_room r ON e.room_id = r.id "
            "WHERE r.name = ? AND e.published_at IS NULL", room)[0][0]

    def relay_log(self) -> str:
        return self.relay_log_path.read_text(errors="replace")

    # -- breaking things -----------------------------------------------------------
    def start_ekg(self) -> None:
        """(Re)start the push node on its port; it comes back with empty ring buffers."""
        self.ekg.start()

    def start_reflektor(self) -> None:
        self.reflektor.start()

    def gunicorn_workers(self) -> list[int]:
        """Pids of tm's gunicorn workers (children of the master)."""
        assert self.tm.process is not None
        master = self.tm.process.pid
        try:
            text = Path(f"/proc/{master}/task/{master}/children").read_text()
        except FileNotFoundError:
            return []
        return [int(pid) for pid in text.split()]

    def kill_worker(self, pid: int) -> None:
        """kill -9 one gunicorn worker; the master starts a new one."""
        os.kill(pid, signal.SIGKILL)

    def ensure_up(self, workers: int = 2) -> None:
        """After a test that broke something: every service is running and flowing."""
        for service in (*self.ekgs, self.reflektor):
            if service.process is None or service.process.poll() is not None:
                service.start()
        self.reflektor.signal(signal.SIGCONT)  # a test may have frozen it
        requests.post(f"{self.reflektor.admin_url}/resume", timeout=5)
        wait_until(lambda: len(self.gunicorn_workers()) >= workers, timeout=20,
                   message="tm's gunicorn master did not bring its workers back")
        assert self.relay.poll() is None, "the outbox relay died:\n" + self.relay_log()[-3000:]


@contextlib.contextmanager
def running_stack(tmp: Path, *, ring_size: int = 500, ekg_args: tuple[str, ...] = (),
                  ekg_nodes: int = 1) -> Iterator[Stack]:
    """Start ekg, reflektor, tm and the outbox relay; stop them all when the block ends.

    With `ekg_nodes` > 1 the push nodes run side by side as in production: each is
    every other's `--peer` (their ports are chosen up front for that), reflektor
    targets them all, and tm hands the pages all their URLs."""
    secret = secrets.token_urlsafe(32)
    secret_env = {"TM_INTERNAL_SECRET": secret}
    tm_port = free_port()
    tm_url = f"http://127.0.0.1:{tm_port}"
    ports = [0] if ekg_nodes == 1 else [free_port() for _ in range(ekg_nodes)]
    ekgs = []
    for i, port in enumerate(ports):
        peers = [arg for other in ports if other != port
                 for arg in ("--peer", f"http://127.0.0.1:{other}")]
        ekgs.append(Service(
            "ekg" if i == 0 else f"ekg-{i + 1}",
            [PYTHON, "-m", "ekg_py", "--host", "127.0.0.1", "--port", str(port),
             "--allowed-origin", tm_url, "--ring-size", str(ring_size), "--shutdown-grace",
             "1", *peers, *ekg_args], tmp, env=secret_env))
    reflektor = Service("reflektor", [PYTHON, "-m", "reflektor", "--port", "0",
                                      "--admin-port", "0", *REFLEKTOR_OPTIONS], tmp)
    relay: subprocess.Popen | None = None
    relay_log_path = tmp / "relay.log"
    ekg = ekgs[0]
    try:
        for node in ekgs:
            node.start()
            _pin(node)
            reflektor.args += ["--target", node.url]
        reflektor.start()
        _pin(reflektor)
        env = {"TM_REFLEKTOR_URLS": reflektor.url,
               "TM_PUSH_URLS": ",".join(node.url for node in ekgs), **secret_env,
               "DJANGO_SETTINGS_MODULE": "tests.support.stack_settings"}
        with running_tm(tmp, env, port=tm_port) as tm:
            assert tm.env is not None
            with relay_log_path.open("w") as log:
                relay = subprocess.Popen(
                    [PYTHON, "manage.py", "relay_outbox", "--interval", RELAY_INTERVAL,
                     "--grace", RELAY_GRACE], cwd=ROOT, env=tm.env,
                    stdout=log, stderr=subprocess.STDOUT)
            yield Stack(secret=secret, tm=tm, ekg=ekg, reflektor=reflektor, relay=relay,
                        relay_log_path=relay_log_path, ekgs=ekgs)
    finally:
        if relay is not None:
            relay.terminate()
            try:
                relay.wait(timeout=10)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()
        reflektor.stop()
        for node in ekgs:
            node.stop()
