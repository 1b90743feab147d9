"""sotu fixtures: real flatdb processes (clouddb, tickdb), a fake tm, a collector."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.services import Service

from .support import start_collector, start_flatdb

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def _clear_cache():
    # Replaces tests/conftest.py's fixture of this name: sotu has no Django cache.
    yield


@dataclass
class Stores:
    clouddb: Service
    tickdb: Service


def _start_stores(root: Path) -> Stores:
    clouddb = start_flatdb("clouddb", root / "clouddb", root)
    try:
        tickdb = start_flatdb("tickdb", root / "tickdb", root)
    except Exception:
        clouddb.stop()
        raise
    return Stores(clouddb, tickdb)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Iterator[Stores]:
    """clouddb and tickdb shared by a module's tests (they use rooms of their own)."""
    started = _start_stores(tmp_path_factory.mktemp("flatdb"))
    yield started
    started.clouddb.stop()
    started.tickdb.stop()


@pytest.fixture
def own_stores(tmp_path) -> Iterator[Stores]:
    """A test's own clouddb and tickdb, for tests that stop or restart them."""
    started = _start_stores(tmp_path)
    yield started
    started.clouddb.stop()
    started.tickdb.stop()


class FakeTm:
    """tm's `GET /api/v1/rooms/<room>` from a dict; other rooms are 404."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict] = {}
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                room = fake.rooms.get(name)
                status, body = (200, room) if room is not None else (
                    404, {"error": {"code": "not_found", "message": "no such room"}})
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def fake_tm() -> Iterator[FakeTm]:
    tm = FakeTm()
    yield tm
    tm.close()


@pytest.fixture(scope="module")
def collector(stores: Stores, fake_tm: FakeTm, tmp_path_factory) -> Iterator[Service]:
    service = start_collector(tmp_path_factory.mktemp("collector"), stores.clouddb.url,
                              stores.tickdb.url, "--tm", fake_tm.url)
    yield service
    service.stop()


@pytest.fixture
def name() -> str:
    """A name no other test uses: tests that share processes keep to their own rooms."""
    return f"t{next(_names)}"
