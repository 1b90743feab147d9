"""Fixtures for reflektor: fake downstream targets and real reflektor subprocesses.

`reflektor(*target_urls, *options)` starts `python -m reflektor` on port 0 (intake and
admin), reads the bound ports from its "listening on" line, and stops it after the
test, checking that its log holds no traceback. Every wait polls a condition for at
most a number of time units (tests/conftest.py TIME_SCALE).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testkit.services import PYTHON, Service

from .client import FAST_RETRIES, Reflektor
from .fakes import FakeTargets


@pytest.fixture
def fake_targets() -> Iterator[FakeTargets]:
    fakes = FakeTargets().start()
    yield fakes
    fakes.stop()


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A target nobody listens on: every attempt is refused.

    The port stays bound (not listening) for the test's length, so no process started
    meanwhile on port 0 (the reflektor under test included) can be given it and
    answer in the dead target's place. It is bound with SO_REUSEADDR, so a test can
    still bring the target to life there (FakeTargets(port=...))."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"
    finally:
        holder.close()


@pytest.fixture
def reflektor(tmp_path: Path) -> Iterator[Callable[..., Reflektor]]:
    started: list[Reflektor] = []

    def start(*targets: str, options: tuple[str, ...] = FAST_RETRIES) -> Reflektor:
        args = [PYTHON, "-m", "reflektor", "--port", "0", "--admin-port", "0"]
        for url in targets:
            args += ["--target", url]
        name = f"reflektor-{len(started)}"
        service = Service(name, [*args, *options], tmp_path, ready_timeout=10)
        started.append(Reflektor(service.start()))
        return started[-1]

    yield start
    for process in started:
        process.service.kill()  # tests that care how it stops stop it themselves
        assert "Traceback" not in process.log(), process.log()
