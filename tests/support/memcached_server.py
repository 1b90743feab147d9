"""pytest plugin: a real memcached for the test run, on a free loopback port.

Loaded with `-p` (pyproject.toml) so it runs before pytest-django reads the settings:
settings.test takes the address from TM_MEMCACHED. An address already in the
environment is used as it is (e.g. a memcached that CI or a developer runs).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from testkit.ports import free_port

_process: subprocess.Popen | None = None


def _wait_for(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"memcached did not open 127.0.0.1:{port}")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _process
    if os.environ.get("TM_MEMCACHED"):
        return
    binary = shutil.which("memcached")
    if binary is None:
        raise pytest.UsageError(
            "the tests need a real memcached: apt-get install memcached "
            "(or set TM_MEMCACHED=host:port)"
        )
    port = free_port()
    command = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]  # memcached refuses to run as root
    _process = subprocess.Popen(command)
    _wait_for(port)
    os.environ["TM_MEMCACHED"] = f"127.0.0.1:{port}"


def pytest_unconfigure(config):
    if _process is not None:
        _process.terminate()
        _process.wait(timeout=5)
