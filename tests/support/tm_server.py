"""tm as a real server process for tests: gunicorn on a free loopback port, with its
own SQLite file, the test run's memcached and a fixed cache prefix (its workers must
share cached rooms and rate-limit counters). Browser and integration tests use it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from testkit import tm
from testkit.services import ServiceError

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


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
    process: subprocess.Popen | None = None
    # The server's environment, for commands that must share its database and cache
    # (the outbox relay in tests/support/stack.py).
    env: dict[str, str] | None = None

    def create_room(self, name: str, **fields) -> tuple[dict, ApiSession]:
        """Create a room anonymously; returns its JSON (with owner_key) and the owner's
        client, which moderates with the owner key as its bearer token."""
        response = requests.post(f"{self.url}/api/v1/rooms", json={"name": name, **fields},
                                 timeout=10)
        assert response.status_code == 201, response.text
        return response.json(), ApiSession(response.json()["owner_key"])

    def join(self, room: str, nickname: str, **fields) -> ApiSession:
        """Join as a student through the API (`password=` for a password room);
        returns a client holding the token."""
        response = requests.post(f"{self.url}/api/v1/rooms/{room}/join",
                                 json={"nickname": nickname, **fields}, timeout=10)
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


@contextlib.contextmanager
def running_tm(tmp: Path, extra_env: dict[str, str] | None = None,
               workers: int = 2, port: int | None = None) -> Iterator[TmServer]:
    """Migrate a fresh database and serve tm under gunicorn until the block ends
    (testkit/tm.py).

    `port` is for callers that must know tm's address before it starts (a push node
    that allows tm's origin); by default a free one is picked."""
    db_path = tmp / "tm.sqlite3"
    env = {**os.environ, **tm.environment(db_path, extra_env)}
    assert env.get("TM_MEMCACHED"), "tests/support/memcached_server.py sets TM_MEMCACHED"
    try:
        server = tm.start(tmp, env, port=port, workers=workers)
    except ServiceError as error:
        pytest.fail(str(error))
    try:
        yield TmServer(url=server.url, db_path=db_path, log_path=server.log_path,
                       process=server.process, env=env)
    finally:
        server.stop()
