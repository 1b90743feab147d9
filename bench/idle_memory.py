"""Memory per idle WebSocket connection on an ekg_py node at 10,000 connections, side
by side with the minimal Node.js `ws` server (bench/node/broadcast.js).

    .venv/bin/python -m bench.idle_memory [--connections 10000] [--rooms 100]

Each server starts pinned to core 0; its RSS (/proc/<pid>/statm) is read once it is
up, then `--connections` clients (bench/wsclients.py on core 1, spread evenly over
`--rooms` rooms) connect and stay idle; after the presence messages have gone out and
a few seconds of quiet, RSS is read again (the highest of three reads a second apart,
so a passing collection does not flatter a server). Per connection: (after - before)
/ connections. Kernel socket buffers are not in RSS and are the same for both.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import urllib.request

from . import common


def healthz(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


def run_one(procs: common.Processes, server: str, connections: int, rooms: int) -> dict:
    secret = secrets.token_urlsafe(32)
    proc = (common.start_ekg(procs, secret) if server == "ekg_py"
            else common.start_node_ws(procs, secret))
    try:
        healthz(proc.port)  # one request served: lazy start-up work is done
        time.sleep(1.0)
        before = common.rss_bytes(proc.pid)
        per_room = connections // rooms
        loadgen = common.LoadGen(procs, f"clients-{server}", [
            "--port", str(proc.port), "--room-prefix", "idle", "--room-count", str(rooms),
            "--per-room", str(per_room), "--mode", "idle"], secret=secret)
        connected = loadgen.expect("connected", timeout=180)
        if connected["clients"] != per_room * rooms:
            raise common.BenchError(f"{server}: {connected}")
        time.sleep(3.0)
        samples = []
        for _ in range(3):
            time.sleep(1.0)
            samples.append(common.rss_bytes(proc.pid))
        after = max(samples)
        open_now = healthz(proc.port)["connections"]
        loadgen.command("quit")
        procs.stop(loadgen.proc)
    finally:
        procs.stop(proc)
    result = {
        "server": server, "connections": open_now, "rss_before_mib": before / 2**20,
        "rss_after_mib": after / 2**20,
        "kib_per_connection": (after - before) / open_now / 1024,
        "connect_s": connected["seconds"],
    }
    print(f"[idle_memory] {result}", flush=True)
    return result


def report(results: list[dict], args: argparse.Namespace, info: dict[str, str]) -> str:
    lines = [
        f"## Memory per idle WebSocket connection ({info['date']})",
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_line(info)}  ",
        f"Setup: {args.connections:,} idle WebSocket clients over {args.rooms} rooms, server "
        "pinned to core 0, clients on core 1; RSS from /proc before and after (kernel "
        f"socket buffers not included). Node: ws {common.ws_version()}, no compression.",
        "",
        "| server | connections | RSS before MiB | RSS after MiB | KiB per connection "
        "| connect s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(f"| {r['server']} | {r['connections']:,} | {r['rss_before_mib']:.1f} "
                     f"| {r['rss_after_mib']:.1f} | {r['kib_per_connection']:.1f} "
                     f"| {r['connect_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_memory", description=__doc__)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--servers", nargs="+", default=["ekg_py", "node-ws"],
                        choices=["ekg_py", "node-ws"])
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    info = common.machine()
    print(f"[idle_memory] {common.machine_line(info)}", flush=True)
    common.raise_nofile()
    common.pin_self(common.LOAD_CORE)
    with common.bench_session("idle_memory", args.time_limit) as procs:
        results = [run_one(procs, server, args.connections, args.rooms)
                   for server in args.servers]
    common.print_and_record(report(results, args, info), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
