"""The project's services (and any other program) as real subprocesses, for tests and
benchmarks alike.

Every service prints a line "<name> listening on 127.0.0.1:<port> ..." once it is
ready; `Service` starts the process in a session of its own, reads that line (or the
`ready` pattern given) for the bound port(s), keeps every line of its output in a log
file, and stops it: SIGTERM to its whole process group (gunicorn's workers go with
their master), then SIGKILL to what is left.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .timing import TIME_SCALE

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# "<name> listening on 127.0.0.1:<port>", maybe "... admin 127.0.0.1:<admin port>".
LISTENING = r"listening on 127\.0\.0\.1:(\d+)(?:.*?admin 127\.0\.0\.1:(\d+))?"


class ServiceError(RuntimeError):
    pass


class Service:
    """One subprocess: `start` it, read its ports, `stop` it."""

    def __init__(self, name: str, args: Sequence[str], log_dir: Path,
                 env: dict[str, str] | None = None, *, ready: str | None = LISTENING,
                 ready_timeout: float = 15.0, cwd: Path = ROOT, stdin: bool = False,
                 preexec: Callable[[], None] | None = None):
        self.name = name
        self.args = list(args)
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.ready = re.compile(ready) if ready else None
        self.ready_timeout = ready_timeout * TIME_SCALE
        self.cwd = cwd
        self.stdin = stdin
        self.preexec = preexec
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.admin_port: int | None = None
        self.lines: list[str] = []  # its output so far, line by line
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Service:
        """Start it; with a `ready` pattern, wait for that line (ServiceError if it never
        comes or the process ends first)."""
        self._ready.clear()
        self.process = subprocess.Popen(
            self.args, cwd=self.cwd, env=self.env,
            stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            start_new_session=True, preexec_fn=self.preexec)
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()
        if self.ready is not None:
            if not self._ready.wait(self.ready_timeout) or (self.ready.groups
                                                            and not self.port):
                self.kill()
                raise ServiceError(f"{self.name} did not start; its log:\n{self.log_tail()}")
            if self.process.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
        return self

    def _pump(self, process: subprocess.Popen[str]) -> None:
        # Closing the pipe at EOF: an unclosed one is a ResourceWarning, an error in tests.
        assert process.stdout is not None
        with open(self.log_path, "a") as log, process.stdout:
            for line in process.stdout:
                log.write(line)
                log.flush()
                self.lines.append(line)
                if self.ready is not None and not self._ready.is_set():
                    match = self.ready.search(line)
                    if match:
                        found = [group for group in match.groups() if group]
                        self.port = int(found[0]) if found else 0
                        self.admin_port = int(found[1]) if len(found) > 1 else None
                        self._ready.set()
        self._ready.set()  # EOF: nobody waits on a line that will never come

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout * TIME_SCALE)

    def kill(self) -> None:
        """kill -9, the whole group: no goodbye, no drain."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM to the group, then SIGKILL after `timeout` s; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # what the group left behind
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        return self.process.returncode
