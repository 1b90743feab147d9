"""Browser tests: tm in a gunicorn subprocess, and headless Chromium driving it.

The server gets its own SQLite file and a fixed cache key prefix (its two workers
must share cached rooms and rate-limit counters), and the memcached that
tests/support/memcached_server.py started. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from testkit.timing import TIME_SCALE
from tests.support.tm_server import ApiSession, TmServer, running_tm  # noqa: F401

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


# "package": one server and one browser for all of tests/browser, stopped when its last
# test is done. Playwright's sync API keeps its asyncio loop marked as running in this
# thread while it lives, so tests after these (asyncio.run) must not see it.
@pytest.fixture(scope="package")
def tm_server(tmp_path_factory) -> Iterator[TmServer]:
    """tm under gunicorn (two workers) on a free loopback port, with its own database."""
    with running_tm(tmp_path_factory.mktemp("tm-server")) as server:
        yield server


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
