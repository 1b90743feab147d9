"""A throwaway PostgreSQL cluster on a free loopback port, with fsync on as in
production: for tm's tests on PostgreSQL (tests/support/postgres_server.py) and the
benchmarks that measure tm on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port


@dataclass
class Cluster:
    process: subprocess.Popen[bytes]
    base: Path
    env: dict[str, str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def bindir() -> Path | None:
    """Where initdb and postgres are: Debian's versioned directory, else the PATH."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def start_cluster(log_path: Path | None = None) -> Cluster:
    """initdb in a temporary directory, start postgres on 127.0.0.1, create database tm."""
    binaries = bindir()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="tm-pg-"))
    # initdb and postgres refuse to run as root.
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        shutil.chown(base, "postgres")
    data = base / "data"
    init = subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(data), "-U", "tm",
                           "--auth=trust", "-E", "UTF8"], capture_output=True, text=True,
                          timeout=120)
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{init.stdout[-1500:]}{init.stderr[-1500:]}")
    port = free_port()
    log = open(log_path or base / "postgres.log", "ab")  # noqa: SIM115 - the server's lifetime
    process = subprocess.Popen(
        [*run_as, str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1",
         "-p", str(port), "-k", str(base)], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    cluster = Cluster(process, base, {
        "TM_DB_ENGINE": "postgresql", "TM_DB_NAME": "tm", "TM_DB_USER": "tm",
        "TM_DB_HOST": "127.0.0.1", "TM_DB_PORT": str(port)})
    deadline = time.monotonic() + 60
    while True:
        created = subprocess.run([str(binaries / "createdb"), "-h", "127.0.0.1",
                                  "-p", str(port), "-U", "tm", "tm"],
                                 capture_output=True, text=True, timeout=60)
        if created.returncode == 0:
            return cluster
        if process.poll() is not None or time.monotonic() > deadline:
            cluster.stop()
            raise RuntimeError(f"PostgreSQL did not start: {created.stderr[-1500:]}")
        time.sleep(0.2)
