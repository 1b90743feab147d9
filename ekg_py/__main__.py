"""Command line of an ekg push node.

    python -m ekg_py --host 127.0.0.1 --port 8200 --allowed-origin http://127.0.0.1:8000

Prints `ekg listening on HOST:PORT` once it accepts connections (port 0 picks a free
port, and this line says which), and exits 0 after a graceful SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import secrets
import socket
import sys
from urllib.parse import urlsplit

from contract.addresses import parse_networks
from contract.service import origins_from, secret_from_env, start_logging

from .peers import NODE_ID_RE
from .server import Config, serve

DEFAULTS = Config(secret="")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ekg_py", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200, help="0 picks a free port")
    parser.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                        help="browser origin allowed to connect (repeatable; '*' for any); "
                             "added to the comma-separated EKG_ALLOWED_ORIGINS")
    parser.add_argument("--secret-env", default="TM_INTERNAL_SECRET", metavar="NAME",
                        help="environment variable holding the shared internal secret")
    parser.add_argument("--ring-size", type=int, default=DEFAULTS.ring_size,
                        help="events kept per room for replay")
    parser.add_argument("--max-queue-bytes", type=int, default=DEFAULTS.max_queue_bytes,
                        help="a client with more than this queued is disconnected")
    parser.add_argument("--presence-interval", type=float,
                        default=DEFAULTS.presence_interval,
                        help="at most one presence message per room per this many seconds")
    parser.add_argument("--reorder-ms", type=float,
                        default=DEFAULTS.reorder_window * 1000,
                        help="how long an event that arrived ahead of a gap waits for the "
                             "events before it (0: send at once)")
    parser.add_argument("--idle-room-seconds", type=float,
                        default=DEFAULTS.idle_room_seconds,
                        help="a room with no connection and no event for this long is "
                             "forgotten, its held events with it")
    parser.add_argument("--sse-keepalive", type=float, default=DEFAULTS.sse_keepalive,
                        help="seconds between SSE keep-alive comments")
    parser.add_argument("--ws-heartbeat", type=float, default=DEFAULTS.ws_heartbeat,
                        help="seconds between WebSocket pings")
    parser.add_argument("--shutdown-grace", type=float, default=DEFAULTS.shutdown_grace,
                        help="seconds clients get to close on shutdown")
    parser.add_argument("--request-timeout", type=float, default=DEFAULTS.request_timeout,
                        help="seconds a connection may take to send a whole request (the "
                             "WebSocket upgrade included), and may sit idle between two; "
                             "then it is closed")
    parser.add_argument("--max-streams-per-address", type=int,
                        default=DEFAULTS.max_streams_per_address, metavar="N",
                        help="open WebSocket and SSE streams one client address may hold "
                             "(a school behind one address, two tabs a student: far off)")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="NET",
                        help="a load balancer or proxy in front (address or network, "
                             "repeatable; also EKG_TRUSTED_PROXIES=a,b): for requests from "
                             "it the client is read from X-Forwarded-For")
    parser.add_argument("--peer", action="append", default=[], metavar="URL",
                        help="another node's base URL (repeatable), to add up presence "
                             "counts across nodes; added to the comma-separated EKG_PEERS. "
                             "A node's own URL in the list is found out and skipped")
    parser.add_argument("--node-id", default=None,
                        help="this node's id in its presence reports (default: "
                             "HOSTNAME-PORT; random with --port 0)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_logging(args.log_level)
    secret = secret_from_env("ekg", args.secret_env, "the shared secret that signs internal "
                             "calls (tm's TM_INTERNAL_SECRET)")
    if secret is None:
        return 2
    allowed = origins_from(os.environ.get("EKG_ALLOWED_ORIGINS", ""), args.allowed_origin)
    if not allowed:
        logging.getLogger("ekg").warning(
            "no --allowed-origin: browsers (which send Origin) cannot connect")
    if args.ring_size < 1 or args.max_queue_bytes < 1:
        print("ekg: --ring-size and --max-queue-bytes must be positive", file=sys.stderr)
        return 2
    if args.idle_room_seconds <= 0:
        print("ekg: --idle-room-seconds must be positive", file=sys.stderr)
        return 2
    proxies = tuple(p.strip() for p in [*os.environ.get("EKG_TRUSTED_PROXIES", "").split(","),
                                        *args.trusted_proxy] if p.strip())
    try:
        parse_networks(proxies)
    except ValueError as error:
        print(f"ekg: --trusted-proxy: {error}", file=sys.stderr)
        return 2
    if args.max_streams_per_address < 1:
        print("ekg: --max-streams-per-address must be positive", file=sys.stderr)
        return 2
    if not 0 <= args.reorder_ms <= 5000:
        print("ekg: --reorder-ms must be between 0 and 5000", file=sys.stderr)
        return 2
    peers = [url.strip().rstrip("/") for url in
             [*os.environ.get("EKG_PEERS", "").split(","), *args.peer] if url.strip()]
    for url in peers:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            print(f"ekg: --peer {url!r} is not a base URL like http://10.0.0.2:8200",
                  file=sys.stderr)
            return 2
    # The same id after a restart (host and port) lets the peers replace this node's old
    # counts at once (peers.py); a node on a port picked at random gets a random id.
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:50]
    node_id = args.node_id or (f"{host}-{args.port}" if args.port else secrets.token_hex(6))
    if not NODE_ID_RE.fullmatch(node_id):
        print("ekg: --node-id takes 1-64 letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    config = Config(secret=secret, peers=tuple(dict.fromkeys(peers)), node_id=node_id,
                    allowed_origins=allowed, ring_size=args.ring_size,
                    max_queue_bytes=args.max_queue_bytes,
                    presence_interval=args.presence_interval,
                    reorder_window=args.reorder_ms / 1000,
                    idle_room_seconds=args.idle_room_seconds,
                    sse_keepalive=args.sse_keepalive, ws_heartbeat=args.ws_heartbeat,
                    shutdown_grace=args.shutdown_grace,
                    request_timeout=args.request_timeout,
                    max_streams_per_address=args.max_streams_per_address,
                    trusted_proxies=proxies)

    def announce(host: str, port: int) -> None:
        print(f"ekg listening on {host}:{port}", flush=True)

    asyncio.run(serve(config, args.host, args.port, announce))
    return 0


if __name__ == "__main__":
    sys.exit(main())
