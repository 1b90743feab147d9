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
    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().critical(scrub(msg), *args, **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().error(scrub(msg), *args, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().warning(scrub(msg), *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().info(scrub(msg), *args, **kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().debug(scrub(msg), *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().exception(scrub(msg), *args, **kwargs)
