"""Command line: `python -m reflektor --target URL [--target URL ...] [options]`.

Without --target, the targets come from REFLEKTOR_TARGETS (comma-separated URLs).
Prints `reflektor listening on HOST:PORT admin 127.0.0.1:PORT` on stdout once both
listeners are up; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from contract.logs import keep_addresses_out

from .config import Config
from .service import serve

DEFAULTS = Config(targets=("http://placeholder",))


def parse_args(argv: Sequence[str] | None = None,
               environ: Mapping[str, str] | None = None) -> tuple[Config, str]:
    """The Config and the log level from the command line and the environment."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m reflektor",
        description="Queueing HTTP proxy: answers 202 at once, replays every request to "
                    "every target in order, with retries.",
    )
    parser.add_argument("--host", default=DEFAULTS.host, help="intake address (%(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULTS.port,
                        help="intake port, 0 for any free one (%(default)s)")
    parser.add_argument("--admin-port", type=int, default=DEFAULTS.admin_port,
                        help="admin port on 127.0.0.1, 0 for any free one (%(default)s)")
    parser.add_argument("--target", action="append", default=[], metavar="URL",
                        help="downstream base URL; repeat for more "
                             "(default: $REFLEKTOR_TARGETS, comma-separated)")
    parser.add_argument("--queue-cap", type=int, default=DEFAULTS.queue_cap, metavar="N",
                        help="waiting items per target before the oldest are dropped "
                             "(%(default)s)")
    parser.add_argument("--queue-bytes", type=int, default=DEFAULTS.queue_bytes, metavar="B",
                        help="waiting bytes per target before the oldest are dropped "
                             "(%(default)s)")
    parser.add_argument("--max-body", type=int, default=DEFAULTS.max_body, metavar="B",
                        help="largest request body accepted, else 413 (%(default)s)")
    parser.add_argument("--drain-timeout", type=float, default=DEFAULTS.drain_timeout,
                        metavar="S", help="on SIGTERM, deliver for at most S seconds "
                                          "(%(default)s)")
    parser.add_argument("--attempt-timeout", type=float, default=DEFAULTS.attempt_timeout,
                        metavar="S", help="one delivery attempt (%(default)s)")
    parser.add_argument("--retry-base", type=float, default=DEFAULTS.retry_base, metavar="S",
                        help="first back-off, doubled per retry (%(default)s)")
    parser.add_argument("--retry-max", type=float, default=DEFAULTS.retry_max, metavar="S",
                        help="longest back-off (%(default)s)")
    parser.add_argument("--give-up-after", type=float, default=DEFAULTS.give_up_after,
                        metavar="S", help="drop an item this long after it was queued "
                                          "(%(default)s)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    targets = args.target or [
        url.strip() for url in environ.get("REFLEKTOR_TARGETS", "").split(",") if url.strip()
    ]
    try:
        config = Config(
            targets=tuple(targets), host=args.host, port=args.port,
            admin_port=args.admin_port, queue_cap=args.queue_cap,
            queue_bytes=args.queue_bytes, max_body=args.max_body,
            drain_timeout=args.drain_timeout, attempt_timeout=args.attempt_timeout,
            retry_base=args.retry_base, retry_max=args.retry_max,
            give_up_after=args.give_up_after,
        )
    except ValueError as error:
        parser.error(str(error))
    return config, args.log_level


def main(argv: Sequence[str] | None = None) -> int:
    config, log_level = parse_args(argv)
    logging.basicConfig(
        level=log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    keep_addresses_out()
    try:
        return asyncio.run(serve(config))
    except OSError as error:  # most likely a port already in use
        logging.getLogger("reflektor").error("cannot start: %s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
