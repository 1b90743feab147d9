"""tm as a real server process for tests: gunicorn on a free loopback port, with its
own SQLite file, the test run's memcached and a fixed cache prefix (its workers must
share cached rooms and rate-limit counters). Browser and integration tests use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from testkit.ports import free_port
from testkit.timing import TIME_SCALE

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


@contextlib.contextmanager
def running_tm(tmp: Path, extra_env: dict[str, str] | None = None,
               workers: int = 2, port: int | None = None) -> Iterator[TmServer]:
    """Migrate a fresh database and serve tm under gunicorn until the block ends.

    `port` is for callers that must know tm's address before it starts (a push node
    that allows tm's origin); by default a free one is picked."""
    db_path = tmp / "tm.sqlite3"
    log_path = tmp / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings.test",
        "TM_DB_PATH": str(db_path),
        "TM_CACHE_PREFIX": "server-" + secrets.token_hex(4),
        # Every worker signs sessions and hashes client addresses with the same keys.
        "TM_SECRET_KEY": secrets.token_urlsafe(32),
        "TM_CLIENT_KEY_SECRET": secrets.token_urlsafe(32),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    assert env.get("TM_MEMCACHED"), "tests/support/memcached_server.py sets TM_MEMCACHED"
    with log_path.open("w") as log:
        migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 timeout=60 * TIME_SCALE)
    if migrate.returncode != 0:
        pytest.fail(f"migrate failed:\n{log_path.read_text(errors='replace')[-4000:]}")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_path.open("a")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "tm.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--access-logfile", "-", "--graceful-timeout", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_health(url, process, log_path)
        yield TmServer(url=url, db_path=db_path, log_path=log_path, process=process, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
