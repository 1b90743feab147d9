"""No client address in any log or database row: a class's every request, and some
malformed ones, come from a distinct loopback address (127.0.0.77) through the whole
stack as `make run` runs it (tm under gunicorn with its gunicorn.conf.py, the outbox
relay, reflektor, a push node); then every log and the database file are searched for
that address."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp

from tests.support.from_address import request_from
from tests.support.stack import Stack

ADDRESS = "127.0.0.77"


def _call(port: int, method: str, path: str, body: dict | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict | None]:
    return request_from(ADDRESS, port, method, path, body, headers)


def _raw(port: int, data: bytes) -> bytes:
    """Bytes as a broken client sends them; whatever comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(ADDRESS, 0)) as sock:
        chunks = []
        try:  # the server may answer and hang up before the client is done sending
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: \x00\xff\r\n\r\n",
    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * 20000 + b"\r\n\r\n",
    b"POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello on the plain port
]


def test_no_log_and_no_row_holds_a_clients_address(stack: Stack, room_name: str):
    tm_port = int(stack.tm_url.rsplit(":", 1)[1])
    status, room = _call(tm_port, "POST", "/api/v1/rooms",
                         {"name": room_name, "password": "pw", "moderated": True})
    assert status == 201
    status, joined = _call(tm_port, "POST", f"/api/v1/rooms/{room_name}/join",
                           {"nickname": "ann", "password": "pw"})
    assert status == 201
    wrong = _call(tm_port, "POST", f"/api/v1/rooms/{room_name}/join",
                  {"nickname": "eve", "password": "nope"})
    assert wrong[0] == 403
    bearer = {"Authorization": f"Bearer {joined['token']}"}
    assert _call(tm_port, "POST", f"/api/v1/rooms/{room_name}/messages", {"text": "hi"},
                 bearer)[0] == 201
    assert _call(tm_port, "GET", f"/api/v1/rooms/{room_name}/messages", headers=bearer)[0] == 200
    assert _call(tm_port, "GET", f"/{room_name}")[0] == 200
    assert _call(tm_port, "GET", "/no/such/page")[0] == 404
    assert _call(tm_port, "POST", "/", headers={"Content-Type": "text/plain"})[0] == 403

    async def follow() -> None:
        connector = aiohttp.TCPConnector(local_addr=(ADDRESS, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            url = f"{stack.ekg_url}/ws/{room_name}"
            ws = await session.ws_connect(url, params={"ticket": joined["follow"]["ticket"]})
            await ws.close()
            async with session.get(f"{stack.ekg_url}/sse/{room_name}") as refused:
                assert refused.status == 401

    asyncio.run(follow())
    ekg_port = int(stack.ekg_url.rsplit(":", 1)[1])
    reflektor_port = int(stack.reflektor_url.rsplit(":", 1)[1])
    for port in (tm_port, ekg_port, reflektor_port):
        for data in MALFORMED:
            _raw(port, data)
    time.sleep(1)  # let every log line be written

    folder = Path(stack.tm.log_path).parent
    searched = [path for path in folder.rglob("*") if path.is_file()]
    assert any(path.suffix == ".log" for path in searched) and stack.tm.db_path in searched
    needle = ADDRESS.encode()
    holding = [str(path) for path in searched if needle in path.read_bytes()]
    assert holding == [], holding
    # The logs did see the requests: it is the address that is missing, not the lines.
    tm_log = stack.tm.log_path.read_text(errors="replace")
    assert f'"POST /api/v1/rooms/{room_name}/join HTTP/1.1" 403' in tm_log
    assert "Invalid request from ip=[not logged]" in tm_log


def test_the_analytics_services_log_no_address_either(tmp_path_factory):
    """The rest of `make run`: the collector, ekg and the two flatdbs, with tm and
    reflektor in front, fed normal and malformed requests from one address."""
    from tests.support.analytics_stack import running_analytics

    folder = tmp_path_factory.mktemp("analytics-addresses")
    with running_analytics(folder) as analytics:
        analytics.create_room("sotu-quiet")
        student = analytics.tm.join("sotu-quiet", "ann")
        analytics.tm.post(student, "sotu-quiet", "the economy is great")
        services = [analytics.collector, analytics.ekg, analytics.clouddb,
                    analytics.tickdb, analytics.reflektor]
        for service in services:
            # 200, or reflektor's 202: it takes any path to replay.
            assert request_from(ADDRESS, service.port, "GET", "/healthz")[0] < 300
            request_from(ADDRESS, service.port, "POST", "/internal/rooms/x/events", {"a": 1})
            for data in MALFORMED:
                _raw(service.port, data)
        assert request_from(ADDRESS, analytics.clouddb.port, "GET",
                            "/v1/range?prefix=event")[0] == 200
        time.sleep(1)
    searched = [path for path in folder.rglob("*") if path.is_file()]
    assert len([path for path in searched if path.suffix == ".log"]) >= 5
    holding = [str(path) for path in searched
               if path.suffix == ".log" and ADDRESS.encode() in path.read_bytes()]
    assert holding == [], holding
