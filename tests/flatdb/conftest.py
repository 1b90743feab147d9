"""flatdb fixtures: an app over a real LevelDB under tmp_path, and real server processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flatdb import create_app
from flatdb.db import close_db

from . import processes


@pytest.fixture(autouse=True)
def _clear_cache():
    # Replaces tests/conftest.py's fixture of this name: flatdb has no Django cache.
    yield


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True,
        "DATABASE": str(tmp_path / "db"),
        "BACKUP_ROOT": str(tmp_path / "backups"),
        "INTERNAL_SECRET": processes.SECRET,
    })
    yield app
    close_db(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., processes.Server]]:
    """start_server(database, *more_args) -> a running Server on a free port. Every server
    still running at the end is stopped with SIGTERM and must exit 0."""
    servers: list[processes.Server] = []

    def start(database: Path, *args: str) -> processes.Server:
        log_path = tmp_path / f"server-{len(servers)}.log"
        server = processes.start(database, *args, log_path=log_path)
        servers.append(server)
        return server

    yield start
    codes = [server.stop() for server in servers if server.running]
    assert all(code == 0 for code in codes), f"a server exited with {codes} on SIGTERM"
