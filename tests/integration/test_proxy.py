"""tm behind a real reverse proxy (nginx from Debian's packages), as a school district
runs it: each client is counted by its own address, read from X-Forwarded-For because
the request comes from a trusted proxy (TM_TRUSTED_PROXIES); a client cannot pick its
own address by writing the header, and nobody but the proxy is believed.

Clients come from distinct loopback addresses (127.0.0.2, .3, ...: Linux routes all of
127.0.0.0/8 to lo), so nginx sees each as a different peer, as it would a school.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.ports import free_port
from tests.support.from_address import request_from
from tests.support.tm_server import TmServer, running_tm

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{tm_port};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[tuple[TmServer, int]]:
    if not os.path.exists(NGINX):
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed: .ci/run installs it (apt-get install nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    tmp: Path = tmp_path_factory.mktemp("proxy")
    env = {"TM_TRUSTED_PROXIES": "127.0.0.1", "TM_RATE_JOIN_PER_CLIENT": "3/m"}
    with running_tm(tmp, env) as tm:
        port = free_port()
        tm_port = int(tm.url.rsplit(":", 1)[1])
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, tm_port=tm_port))
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    _request(port, "127.0.0.1", "GET", "/healthz")
                    break
                except OSError:
                    if nginx.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError((tmp / "nginx-error.log").read_text()) from None
                    time.sleep(0.05)
            yield tm, port
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def _request(port: int, source: str, method: str, path: str, body: dict | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict | None]:
    return request_from(source, port, method, path, body, headers)


def _joins(port: int, source: str, room: str, count: int, **headers: str) -> list[int]:
    return [_request(port, source, "POST", f"/api/v1/rooms/{room}/join",
                     {"nickname": f"{source} {time.monotonic_ns()}"}, headers)[0]
            for _ in range(count)]


def test_behind_nginx_each_client_is_counted_by_its_own_address(proxied):
    tm, port = proxied
    tm.create_room("proxied-room")
    assert _joins(port, "127.0.0.2", "proxied-room", 4) == [201, 201, 201, 429]
    # A classmate at another address is not held up by the first one's limit.
    assert _joins(port, "127.0.0.3", "proxied-room", 3) == [201, 201, 201]
    # The first client writes an address of its own in front: nginx appends the real
    # one, and tm reads right to left, so it is still 127.0.0.2.
    assert _joins(port, "127.0.0.2", "proxied-room", 1,
                  **{"X-Forwarded-For": "127.0.0.99"}) == [429]


def test_nobody_but_the_trusted_proxy_is_believed(proxied):
    tm, _ = proxied
    tm.create_room("direct-room")
    tm_port = int(tm.url.rsplit(":", 1)[1])
    # Straight to tm from an address that is not a trusted proxy: every request
    # claims another client, and all of them count as the one they come from.
    statuses = [_request(tm_port, "127.0.0.4", "POST", "/api/v1/rooms/direct-room/join",
                         {"nickname": f"direct {i}"},
                         {"X-Forwarded-For": f"127.0.1.{i}"})[0] for i in range(4)]
    assert statuses == [201, 201, 201, 429]


def test_slow_clients_in_front_of_the_proxy_do_not_hold_tms_workers(proxied):
    """The production front (README, "Production front"): nginx reads each request
    whole before it hands it to tm's gunicorn sync workers, so connections that send
    half a header hold nginx's cheap connections, not tm's two workers."""
    tm, port = proxied
    slow = []
    try:
        for i in range(50):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5,
                                            source_address=(f"127.0.0.{10 + i % 5}", 0))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: tm\r\nX-Half: ")
            slow.append(sock)
        for _ in range(5):  # each would need a free worker
            assert _request(port, "127.0.0.3", "GET", "/healthz")[0] == 200
    finally:
        for sock in slow:
            sock.close()
