"""Service logs without client addresses (tm logs none: README, "Rate limits").

aiohttp writes `Error handling request from <client address>` with a traceback for
every request it cannot parse (a port scan, a TLS hello on a plain port, a header too
big): noise, a way to flood the log, and the client's address. `keep_addresses_out`
makes such a line one short INFO line without the address. A real server error (an
exception in a handler) keeps its ERROR and traceback, still without the address.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

_AIOHTTP_MESSAGE = "Error handling request from %s"


class NoClientAddress(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != _AIOHTTP_MESSAGE:
            return True
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):  # the client's bytes, not our fault
            # One line, bounded: aiohttp's message quotes the client's bytes over lines.
            reason = " ".join(str(error.message).split())[:200]
            record.msg, record.args = "refused a malformed request: %s", (reason,)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        else:
            record.msg, record.args = "error handling a request", ()
        return True


def keep_addresses_out() -> None:
    """Install the filter on aiohttp's server logger (call once, at start-up)."""
    logging.getLogger("aiohttp.server").addFilter(NoClientAddress())
