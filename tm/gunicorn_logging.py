"""gunicorn's logger without client addresses (gunicorn.conf.py sets `logger_class`).

tm logs no client address (README, "Rate limits"); the access log format already
leaves it out, but gunicorn's error log writes `Invalid request from ip=<address>: ...`
for every malformed request. This logger blanks the address in such lines and leaves
everything else as gunicorn writes it.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

# "ip=" and the address after it, up to ": " (IPv6 addresses hold colons, not ": ").
_ADDRESS = re.compile(r"\bip=\S+?(?=: |,|\s|$)")


def scrub(message: Any) -> Any:
    return _ADDRESS.sub("ip=[not logged]", message) if isinstance(message, str) else message


# Secrets that travel in URLs: a moderator link's key (/<room>/m/<key>) and a share
# link's (?key=...). The access log keeps the path without them.
_URL_SECRET = re.compile(r"(/m/|[?&]key=)[^/?&#\s\"]+")


def scrub_url(text: Any) -> Any:
    return _URL_SECRET.sub(r"\1[secret]", text) if isinstance(text, str) else text


class AddressFreeLogger(Logger):
    """gunicorn's Logger, every message scrubbed first (the access log's format has no
    address; its request line and path lose the keys of links)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q"):
            if name in atoms:
                atoms[name] = scrub_url(atoms[name])
        return atoms


def _scrubbing(level: str) -> Any:
    original = getattr(Logger, level)

    def log(self: Logger, msg: Any, *args: Any, **kwargs: Any) -> None:
        original(self, scrub(msg), *args, **kwargs)

    log.__name__ = level
    return log


for _level in ("critical", "error", "warning", "info", "debug", "exception"):
    setattr(AddressFreeLogger, _level, _scrubbing(_level))
