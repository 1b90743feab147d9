"""The `flatdb` command: serve a database, back one up, restore one.

    flatdb [serve] --database PATH [--host 127.0.0.1] [--port 8301] [--threads 4]
                   [--backup-root DIR]
    flatdb backup  --database PATH --to DIR
    flatdb restore --from DIR --database PATH [--force]

`serve` prints `flatdb listening on HOST:PORT` once the socket is bound (port 0 picks a
free port; tests and scripts read the line), then serves with waitress until SIGTERM or
Ctrl-C. waitress rather than gunicorn: one process must own the LevelDB's LOCK, and
waitress serves from one process with a thread pool, streaming bodies as they are made.

Failures an operator can act on (a locked or unwritable database, a port in use, a
backup target that exists) print one line on stderr and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import waitress

from flatdb.app import create_app
from flatdb.backup import BackupError, backup_path, restore
from flatdb.db import DatabaseUnavailable, close_db

log = logging.getLogger("flatdb")


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flatdb",
        description="Serve one LevelDB over HTTP. Other commands: "
                    "`flatdb backup --help`, `flatdb restore --help`.")
    parser.add_argument("--database", default=os.environ.get("FLATDB_DATABASE"),
                        required="FLATDB_DATABASE" not in os.environ,
                        help="LevelDB directory, created when missing (env FLATDB_DATABASE)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8301, help="port; 0 picks a free one")
    parser.add_argument("--threads", type=int, default=4, help="worker threads (4)")
    parser.add_argument("--backup-root", help="directory POST /backup may write under "
                                              "(env FLATDB_BACKUP_ROOT)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="a Host header name to answer besides localhost and the "
                             "bound address (repeatable): the name clients use for this "
                             "flatdb; requests for any other host are refused with 400")
    return parser


def _backup_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flatdb backup",
        description="Copy a consistent snapshot of a database that no server holds open "
                    "(for a running server use POST /backup).")
    parser.add_argument("--database", required=True, help="LevelDB directory to back up")
    parser.add_argument("--to", required=True, help="new directory for the backup")
    return parser


def _restore_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flatdb restore",
        description="Replace a database with a backup. The server must be stopped.")
    parser.add_argument("--from", dest="source", required=True, help="backup directory")
    parser.add_argument("--database", required=True, help="LevelDB directory to restore into")
    parser.add_argument("--force", action="store_true",
                        help="replace a database that already holds keys")
    return parser


def _stop(signum: int, frame: Any) -> None:
    # waitress's run() ends on SystemExit and waits for its worker threads.
    raise SystemExit(0)


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    config: dict[str, Any] = {"DATABASE": args.database}
    if args.backup_root:
        config["BACKUP_ROOT"] = args.backup_root
    bound = [] if args.host in ("0.0.0.0", "::", "") else [  # noqa: S104 - a comparison
        args.host]
    config["TRUSTED_HOSTS"] = sorted({"localhost", "127.0.0.1", *bound,
                                      *args.allowed_host})
    app = create_app(config)
    try:
        server = waitress.create_server(
            app, host=args.host, port=args.port, threads=args.threads, ident="flatdb",
            # A backstop only: Flask answers 413 in JSON up to MAX_CONTENT_LENGTH; waitress
            # stops anything far larger before it is spooled to disk.
            max_request_body_size=2 * app.config["MAX_CONTENT_LENGTH"],
        )
    except OSError as exc:
        close_db(app)
        print(f"flatdb: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    # A host name may resolve to several addresses; waitress then binds one socket each.
    sockets = [server] if hasattr(server, "effective_port") else list(server.map.values())
    for sock in sockets:
        print(f"flatdb listening on {sock.effective_host}:{sock.effective_port}", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    finally:
        if server.task_dispatcher.threads:
            # A thread still streams: closing under it could crash the process, and
            # LevelDB recovers from its log on the next open anyway.
            log.warning("worker threads still busy; leaving the database to recovery")
        else:
            close_db(app)
    log.info("stopped")
    return 0


def run_backup(args: argparse.Namespace) -> int:
    count = backup_path(args.database, args.to)
    print(f"flatdb: backed up {count} keys from {args.database} to {args.to}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    count = restore(args.source, args.database, force=args.force)
    print(f"flatdb: restored {count} keys from {args.source} into {args.database}")
    return 0


COMMANDS: dict[str, tuple[Callable[[], argparse.ArgumentParser],
                          Callable[[argparse.Namespace], int]]] = {
    "serve": (_serve_parser, serve),
    "backup": (_backup_parser, run_backup),
    "restore": (_restore_parser, run_restore),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `flatdb --port ...` serves, as the 0.1 command did; a first word picks a command.
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "serve"
    make_parser, run = COMMANDS[command]
    args = make_parser().parse_args(argv)
    try:
        return run(args)
    except (DatabaseUnavailable, BackupError) as exc:
        print(f"flatdb: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
