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


class AddressFreeLogger(Logger):
    """gunicorn's Logger, every message scrubbed first (the access log is left alone:
    its format has no address)."""


def _scrubbing(level: str) -> Any:
    original = getattr(Logger, level)

    def log(self: Logger, msg: Any, *args: Any, **kwargs: Any) -> None:
        original(self, scrub(msg), *args, **kwargs)

    log.__name__ = level
    return log


for _level in ("critical", "error", "warning", "info", "debug", "exception"):
    setattr(AddressFreeLogger, _level, _scrubbing(_level))
