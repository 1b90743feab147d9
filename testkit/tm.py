"""tm as a real server for tests and benchmarks: its database migrated, then gunicorn
(sync workers, `settings.test`) on a loopback port, every request logged as in
production, started once /healthz answers."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from .ports import free_port
from .services import PYTHON, ROOT, Service, ServiceError
from .timing import TIME_SCALE


def environment(db_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """settings.test's variables for a tm with a fresh SQLite file of its own and a
    cache prefix of its own; every worker shares the keys that sign and hash."""
    return {
        "DJANGO_SETTINGS_MODULE": "settings.test",
        "TM_DB_PATH": str(db_path),
        "TM_CACHE_PREFIX": "server-" + secrets.token_hex(4),
        "TM_SECRET_KEY": secrets.token_urlsafe(32),
        "TM_CLIENT_KEY_SECRET": secrets.token_urlsafe(32),
        **(extra or {}),
    }


def start(log_dir: Path, env: dict[str, str], *, port: int | None = None, workers: int = 2,
          tree: Path = ROOT, wrap: Sequence[str] = (),
          preexec: Callable[[], None] | None = None) -> Service:
    """Migrate, then serve under gunicorn until /healthz answers (ServiceError if it does
    not). `wrap`: a command prefix (taskset); `tree`: the checkout whose tm it runs."""
    log_path = log_dir / "gunicorn.log"
    full_env = {**os.environ, **env}
    with log_path.open("w") as log:
        migrate = subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=tree,
                                 env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                 timeout=120 * TIME_SCALE)
    if migrate.returncode != 0:
        raise ServiceError(f"migrate failed:\n{log_path.read_text(errors='replace')[-4000:]}")
    port = port or free_port()
    gunicorn = str(Path(PYTHON).parent / "gunicorn")
    # gunicorn.conf.py (read from the cwd) logs every request to stdout, as in production.
    server = Service("gunicorn", [*wrap, gunicorn, "tm.wsgi:application", "-b",
                                  f"127.0.0.1:{port}", "-w", str(workers),
                                  "--graceful-timeout", "2"], log_dir, env,
                     ready=r"Listening at: http://127\.0\.0\.1:(\d+)", cwd=tree,
                     preexec=preexec)
    server.start()
    deadline = time.monotonic() + 30 * TIME_SCALE
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline or not server.running:
            tail = server.log_tail()
            server.stop()
            raise ServiceError(f"tm did not answer {server.url}/healthz:\n{tail}")
        time.sleep(0.1)
