"""Run the project's services as real subprocesses on port 0, for integration tests.

Every service prints a line "<name> listening on 127.0.0.1:<port> ..." once it is
ready; `Service` starts the process, reads that line for the bound port(s), keeps the
rest of the output in a log file, and stops the process (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import TIME_SCALE

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
_PORT_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)(?:.*?admin 127\.0\.0\.1:(\d+))?")


class Service:
    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict | None = None,
                 ready_timeout: float = 15.0):
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.ready_timeout = ready_timeout * TIME_SCALE
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.admin_port: int | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self) -> Service:
        self._ready.clear()
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1)
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()
        if not self._ready.wait(self.ready_timeout):
            self.kill()
            raise RuntimeError(f"{self.name} did not start; log:\n{self.log_tail()}")
        return self

    def _pump(self, process: subprocess.Popen) -> None:
        # Closing the pipe at EOF: an unclosed one is a ResourceWarning, an error in tests.
        with open(self.log_path, "a") as log, process.stdout:
            for line in process.stdout:
                log.write(line)
                log.flush()
                if not self._ready.is_set():
                    match = _PORT_RE.search(line)
                    if match:
                        self.port = int(match.group(1))
                        if match.group(2):
                            self.admin_port = int(match.group(2))
                        self._ready.set()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def signal(self, signum: int) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout * TIME_SCALE)

    def kill(self) -> None:
        """kill -9: no goodbye, no drain."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(condition, timeout: float = 10.0, interval: float = 0.02, message: str = ""):
    """Poll `condition` until it returns a truthy value; fail after `timeout` units."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} units")
        time.sleep(interval)
