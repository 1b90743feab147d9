"""Fixtures for the ekg tests: a shared push node, and dedicated ones on demand."""

from __future__ import annotations

import itertools

import pytest

from .support import UNIT, EkgProcess

_rooms = itertools.count(1)


@pytest.fixture(scope="module")
def ekg(tmp_path_factory) -> EkgProcess:
    """One node for the tests that only need their own room: small ring, fast timers."""
    node = EkgProcess(tmp_path_factory.mktemp("ekg"), "--ring-size", "50",
                      "--sse-keepalive", str(0.3 * UNIT),
                      "--presence-interval", str(0.2 * UNIT))
    yield node
    node.stop()


@pytest.fixture
def start_ekg(tmp_path):
    """Start a node of the test's own (for flags, or to signal it)."""
    started: list[EkgProcess] = []

    def start(*args: str, **kwargs) -> EkgProcess:
        node = EkgProcess(tmp_path, *args, **kwargs)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


@pytest.fixture
def room() -> str:
    """A room name no other test uses, so tests can share a node."""
    return f"room-{next(_rooms)}"
