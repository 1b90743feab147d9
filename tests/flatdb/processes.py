"""flatdb as real processes for tests: run a command, or start a server on a free port.

A server runs as `python -m flatdb --port 0` on 127.0.0.1; `start` reads the port from
its "flatdb listening on HOST:PORT" line. Its stderr goes to a log file beside the test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from testkit.services import Service
from testkit.timing import TIME_SCALE

REPO = Path(__file__).resolve().parents[2]
SECRET = "flatdb-test-secret"
LISTENING = re.compile(r"^flatdb listening on 127\.0\.0\.1:(\d+)$")
ENV = os.environ | {"TM_INTERNAL_SECRET": SECRET}


def flatdb_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flatdb", *args]


def run_flatdb(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run a flatdb command that is expected to end by itself."""
    return subprocess.run(flatdb_command(*args), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout * TIME_SCALE, env=ENV)


class Server(Service):
    """A flatdb server: stop() is SIGTERM, then its exit code; one that hangs is killed
    and fails the test."""

    def stop(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout * TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self.process.returncode


def start(database: Path, *args: str, log_path: Path) -> Server:
    """A flatdb server on a free 127.0.0.1 port, serving `database`, once it listens."""
    server = Server(log_path.stem, flatdb_command("--host", "127.0.0.1", "--port", "0",
                                                  "--database", str(database), *args),
                    log_path.parent, ENV, ready=LISTENING.pattern, cwd=REPO)
    server.log_path = log_path
    server.start()
    return server
