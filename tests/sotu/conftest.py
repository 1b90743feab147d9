"""sotu fixtures: real flatdb processes (clouddb, tickdb), a collector."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.services import Service

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


@pytest.fixture(scope="module")
def collector(stores: Stores, tmp_path_factory) -> Iterator[Service]:
    service = start_collector(tmp_path_factory.mktemp("collector"), stores.clouddb.url,
                              stores.tickdb.url)
    yield service
    service.stop()


@pytest.fixture
def name() -> str:
    """A name no other test uses: tests that share processes keep to their own rooms."""
    return f"t{next(_names)}"
