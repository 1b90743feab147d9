"""flatdb as real processes for tests: run a command, or start a server on a free port.

A server runs as `python -m flatdb --port 0` on 127.0.0.1; `start` reads the port from
its "flatdb listening on HOST:PORT" line. Its stderr goes to a log file beside the test.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# One time unit for waits in tests; raise it on slow machines (TM_TEST_TIME_SCALE=3).
TIME_SCALE = float(os.environ.get("TM_TEST_TIME_SCALE", "1"))
REPO = Path(__file__).resolve().parents[2]
SECRET = "flatdb-test-secret"
LISTENING = re.compile(r"^flatdb listening on (127\.0\.0\.1):(\d+)$")
ENV = os.environ | {"TM_INTERNAL_SECRET": SECRET}


def flatdb_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flatdb", *args]


def run_flatdb(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run a flatdb command that is expected to end by itself."""
    return subprocess.run(flatdb_command(*args), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout * TIME_SCALE, env=ENV)


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    port: int

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def stop(self) -> int:
        """SIGTERM, then the exit code; a server that hangs is killed and fails the test."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10 * TIME_SCALE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self.process.stdout.close()  # type: ignore[union-attr]
        return self.process.returncode


def start(database: Path, *args: str, log_path: Path) -> Server:
    """A flatdb server on a free 127.0.0.1 port, serving `database`, once it listens."""
    with open(log_path, "w") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            flatdb_command("--host", "127.0.0.1", "--port", "0",
                           "--database", str(database), *args),
            cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True, env=ENV)
    ready, _, _ = select.select([process.stdout], [], [], 15 * TIME_SCALE)
    line = process.stdout.readline().strip() if ready else ""  # type: ignore[union-attr]
    match = LISTENING.match(line)
    if not match:
        process.kill()
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]
        raise AssertionError(f"flatdb did not start: {line!r}\n{log_path.read_text()}")
    port = int(match.group(2))
    return Server(process, f"http://127.0.0.1:{port}", port)
