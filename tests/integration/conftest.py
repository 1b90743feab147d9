"""The real-time path end to end: tm, the outbox relay, reflektor and an ekg node as
real processes on 127.0.0.1 (tests/support/stack.py), and clients that behave like the
pages: the shipped live.js and feed.js, run under Node (testkit/pages.py).

One stack serves the whole package; each test takes a room of its own, and a test that
kills or stops a service starts it again (on the same port). After every test the
stack is checked, and anything a failed test left dead is restarted, so one failure
does not cascade.

The ekg node keeps only 20 events per room (`--ring-size 20`, against 500 in
production), so that a client away for "a long time" can be simulated by posting a
few dozen events while it is away instead of waiting (test_chaos.py explains).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, running_stack

RING_SIZE = 20
_rooms = itertools.count(1)


@pytest.fixture(scope="package")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack"), ring_size=RING_SIZE) as started:
        yield started


@pytest.fixture(autouse=True)
def _stack_stays_up(request) -> Iterator[None]:
    """After each test that uses the stack: everything runs again (restart what a
    failed test left dead). Tests here with stacks of their own are left alone."""
    stack = request.getfixturevalue("stack") if "stack" in request.fixturenames else None
    yield
    if stack is not None:
        stack.ensure_up()


@pytest.fixture
def room_name(request) -> str:
    """A room of the test's own: tests share the stack, not their rooms."""
    stem = request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")
    number = f"-{next(_rooms)}"
    return stem[:40 - len(number)].rstrip("-") + number
