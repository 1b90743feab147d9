"""tm as `make run` serves it (scripts/run-tm, its settings and server), in a var/
folder of the test's own: clients that send half a request do not hold it up."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

from testkit.ports import free_port
from testkit.services import ROOT


def test_make_runs_tm_answers_while_slow_clients_hold_connections(tmp_path):
    port = free_port()
    env = {**os.environ, "TM_VAR_DIR": str(tmp_path / "var"), "TM_PORT": str(port)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # make run's own: settings.dev
    log = (tmp_path / "tm.log").open("w")
    tm = subprocess.Popen([str(ROOT / "scripts" / "run-tm")], cwd=ROOT, env=env,
                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/healthz"
    slow: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310
                    assert answer.status == 200
                    break
            except OSError:
                assert tm.poll() is None and time.monotonic() < deadline, (
                    (tmp_path / "tm.log").read_text())
                time.sleep(0.2)
        for _ in range(50):  # more than any pool of workers or threads sized for a class
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            slow.append(sock)
        for _ in range(5):
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
                assert answer.status == 200
    finally:
        for sock in slow:
            sock.close()
        os.killpg(tm.pid, 15)
        tm.wait(timeout=10)
        log.close()
