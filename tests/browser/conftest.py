"""Browser tests: tm in a gunicorn subprocess, and headless Chromium driving it.

The server gets its own SQLite file and a fixed cache key prefix (its two workers
must share cached rooms and rate-limit counters), and the memcached that
tests/support/memcached_server.py started. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import TIME_SCALE
from tests.support.memcached_server import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("TM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# The one unit every wait is measured in (milliseconds, for Playwright).
UNIT_MS = 1000 * TIME_SCALE
# room.js polls the history API every 2 s: a change shows within one poll and a bit.
POLL_WAIT_MS = 4 * UNIT_MS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


class ApiSession:
    """A JSON API client that sends `token` (if any) as its bearer token. Each call
    opens and closes its own connection, so no socket outlives a test."""

    def __init__(self, token: str | None = None):
        self.token = token

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return requests.request(method, url, headers=headers, timeout=10, **kwargs)

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs) -> requests.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs) -> requests.Response:
        return self.request("DELETE", url, **kwargs)


@dataclass
class TmServer:
    url: str
    db_path: Path
    log_path: Path

    def create_room(self, name: str, **fields) -> tuple[dict, ApiSession]:
        """Create a room anonymously; returns its JSON (with owner_key) and the owner's
        client, which moderates with the owner key as its bearer token."""
        response = requests.post(f"{self.url}/api/v1/rooms", json={"name": name, **fields},
                                 timeout=10)
        assert response.status_code == 201, response.text
        return response.json(), ApiSession(response.json()["owner_key"])

    def join(self, room: str, nickname: str) -> ApiSession:
        """Join as a student through the API; returns a client holding the token."""
        response = requests.post(f"{self.url}/api/v1/rooms/{room}/join",
                                 json={"nickname": nickname}, timeout=10)
        assert response.status_code == 201, response.text
        return ApiSession(response.json()["token"])

    def post(self, student: ApiSession, room: str, text: str) -> dict:
        response = student.post(f"{self.url}/api/v1/rooms/{room}/messages",
                                json={"text": text})
        assert response.status_code == 201, response.text
        return response.json()

    def sql(self, statement: str, *params) -> None:
        """Change the server's database behind its back (e.g. to expire a room)."""
        with sqlite3.connect(self.db_path, timeout=20) as db:
            db.execute(statement, params)


def _wait_for_health(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 15 * TIME_SCALE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
    pytest.fail(f"tm did not answer {url}/healthz; the tail of {log_path}:\n{tail}")


# "package": one server and one browser for all of tests/browser, stopped when its last
# test is done. Playwright's sync API keeps its asyncio loop marked as running in this
# thread while it lives, so tests after these (asyncio.run) must not see it.
@pytest.fixture(scope="package")
def tm_server(tmp_path_factory) -> Iterator[TmServer]:
    """tm under gunicorn (two workers) on a free loopback port, with its own database."""
    tmp = tmp_path_factory.mktemp("tm-server")
    db_path = tmp / "tm.sqlite3"
    log_path = tmp / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings.test",
        "TM_DB_PATH": str(db_path),
        "TM_CACHE_PREFIX": "browser-" + secrets.token_hex(4),
        # Both workers sign sessions and hash client addresses with the same keys.
        "TM_SECRET_KEY": secrets.token_urlsafe(32),
        "TM_CLIENT_KEY_SECRET": secrets.token_urlsafe(32),
        "PYTHONUNBUFFERED": "1",
    }
    assert env.get("TM_MEMCACHED"), "tests/support/memcached_server.py sets TM_MEMCACHED"
    with log_path.open("w") as log:
        migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 timeout=60 * TIME_SCALE)
    if migrate.returncode != 0:
        pytest.fail(f"migrate failed:\n{log_path.read_text(errors='replace')[-4000:]}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_path.open("a")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "tm.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2",
         "--access-logfile", "-", "--graceful-timeout", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_health(url, process, log_path)
        yield TmServer(url=url, db_path=db_path, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(autouse=True)
def _server_had_no_errors(request, tm_server: TmServer) -> Iterator[None]:
    """Fail a test during which the server logged a 5xx or a traceback."""
    start = tm_server.log_path.stat().st_size
    yield
    with tm_server.log_path.open(errors="replace") as log:
        log.seek(start)
        new = log.read()
    bad = [line for line in new.splitlines()
           if "Traceback" in line or "Internal Server Error" in line or '" 50' in line]
    assert not bad, "the server logged errors:\n" + new[-4000:]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture
def new_context(request, browser: Browser,
                tm_server: TmServer) -> Iterator[Callable[..., BrowserContext]]:
    """Make fresh browser contexts (separate cookies: separate people); closed after.
    When the test failed, every page it left open is saved as failed-<test>-*.png."""
    contexts: list[BrowserContext] = []

    def make(viewport: dict | None = None, **options) -> BrowserContext:
        context = browser.new_context(base_url=tm_server.url, viewport=viewport or DESKTOP,
                                      **options)
        context.set_default_timeout(5 * UNIT_MS)
        contexts.append(context)
        return context

    yield make
    if request.node.stash.get(_CALL_FAILED, False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = "failed-" + re.sub(r"[^\w.-]+", "-", request.node.name)
        for index, page in enumerate(p for context in contexts for p in context.pages):
            with contextlib.suppress(PlaywrightError):
                page.screenshot(path=str(ARTIFACTS / f"{stem}-{index}.png"), full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture(scope="package", autouse=True)
def _expect_timeout() -> None:
    expect.set_options(timeout=5 * UNIT_MS)


@pytest.fixture(scope="session")
def shot() -> Callable[..., Path]:
    """Save a full-page screenshot as tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled",
                        caret="hide")
        return path

    return take


def flush_memcached() -> None:
    """Empty the shared memcached, so the server re-reads rooms from its database."""
    host, port = os.environ["TM_MEMCACHED"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.sendall(b"flush_all\r\n")
        assert sock.recv(64).startswith(b"OK"), "memcached refused flush_all"
