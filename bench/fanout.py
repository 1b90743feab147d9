"""Fan-out: one room of 1,000 then 5,000 WebSocket clients, 1,000 events each; ekg_py
side by side with a minimal Node.js `ws` broadcast server (bench/node/broadcast.js),
and ekg_py again with its clients on Server-Sent Events ("ekg_py-sse": the fallback
for networks that block WebSockets, where a whole room may end up).

    .venv/bin/python -m bench.fanout [--clients 1000 5000] [--posts 1000] [--window 1 4]

For each server and room size:
1. the server starts pinned to core 0 (`taskset -c 0`); the clients (bench/wsclients.py,
   one asyncio process) and this process, which posts the events, run on core 1;
2. every client connects to /ws/bench and the room settles (presence messages);
3. this process posts `--posts` message.created events to the server's internal
   endpoint, signed as tm signs them (contract.signing.sign), `--window` requests in flight
   (1, as reflektor sends to each target, then 4);
4. it waits until every client has every event.
Figures: the server's CPU time (utime + stime from /proc/<pid>/stat, all its threads)
over steps 3-4, divided by the deliveries (clients x posts), and deliveries per second
(deliveries / time from the first post to the last delivery). The load generator's
own CPU use is reported too: near 100% of its core means the rate is capped by the
clients rather than by the server, while the CPU per delivery still holds.

Runs on this VM vary by up to ±20% from one to the next (BENCHMARKS.md); `--repeat N`
runs each configuration N times and reports the median run and the range.

Both servers check the HMAC signature, parse the JSON and encode it once per event;
ekg_py also checks the envelope, keeps the ring buffer and per-client bounded queues.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp

from contract import events, signing

from . import common

ROOM = "bench"
# ekg's /healthz counters of its batched writes (WebSocket and SSE)
WRITES, FRAMES, BACKED_UP = "stream_writes", "stream_frames", "backed_up_writes"
TS = dt.datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=dt.UTC)


def make_event(seq: int) -> bytes:
    # A typical message.created event (~400 bytes), the same size for every seq.
    text = f"post {seq:06d}: " + "is this on the exam? " * 4
    event = events.make(events.MESSAGE_CREATED, ROOM, seq, {
        "id": 100000 + seq, "nickname": "student-42", "text": text,
        "html": f"<p>{text}</p>", "created": "2026-11-23T10:00:00.123Z",
    }, ts=TS)
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


async def post_events(port: int, secret: str, posts: int, window: int) -> list[int]:
    """Post events 1..posts, `window` at a time; returns the status of each."""
    path = f"/internal/rooms/{ROOM}/events"
    url = f"http://127.0.0.1:{port}{path}"
    statuses: list[int] = []
    counter = iter(range(1, posts + 1))
    connector = aiohttp.TCPConnector(limit=window)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            for seq in counter:
                body = make_event(seq)
                headers = {"Content-Type": "application/json",
                           signing.HEADER: signing.sign(secret, "POST", path, body)}
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    statuses.append(answer.status)

        await asyncio.gather(*(worker() for _ in range(window)))
    return statuses


def healthz(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:  # noqa: S310
        return json.loads(answer.read())


def run_one(procs: common.Processes, server: str, clients: int, posts: int,
            window: int, anchors: dict[str, Path]) -> dict:
    """One server, one room size, one poster window: start, connect, post, measure.
    `server` is node-ws, ekg_py or ekg_py-sse, the ekg_py ones maybe "@<rev>": that
    revision's ekg_py, from its checkout in `anchors`."""
    secret = secrets.token_urlsafe(32)
    kind, _, rev = server.partition("@")
    proc = (common.start_node_ws(procs, secret) if kind == "node-ws"
            else common.start_ekg(procs, secret, tree=anchors[rev] if rev else common.ROOT))
    loadgen = common.LoadGen(procs, f"clients-{server}-{clients}", [
        "--port", str(proc.port), "--room-prefix", ROOM, "--per-room", str(clients),
        "--mode", "count", "--transport", "sse" if kind.endswith("-sse") else "ws"],
        secret=secret)
    try:
        connected = loadgen.expect("connected", timeout=120)
        if connected["clients"] != clients:
            raise common.BenchError(f"{server}: only {connected['clients']} of {clients} "
                                    f"clients connected: {connected}")
        time.sleep(1.5)  # let the last presence message go out (ekg_py)
        before = healthz(proc.port)
        user0, system0 = common.cpu_times(proc.pid)
        cpu0 = user0 + system0
        self0 = sum(os.times()[:2])
        load_user0, load_system0 = common.cpu_times(loadgen.proc.pid)
        load0 = load_user0 + load_system0
        rss0 = common.rss_bytes(proc.pid)
        started = time.monotonic()
        statuses = asyncio.run(post_events(proc.port, secret, posts, window))
        posted = time.monotonic()
        loadgen.command(f"wait {posts} 240")
        waited = loadgen.expect("waited", timeout=250)
        user1, system1 = common.cpu_times(proc.pid)
        cpu1 = user1 + system1
        self1 = sum(os.times()[:2])
        load_user1, load_system1 = common.cpu_times(loadgen.proc.pid)
        load1 = load_user1 + load_system1
        rss1 = common.rss_bytes(proc.pid)
        after = healthz(proc.port)
        bad = [s for s in statuses if s != 202]
        if bad:
            raise common.BenchError(f"{server}: {len(bad)} posts answered {set(bad)}")
        if not waited["complete"]:
            raise common.BenchError(f"{server}: not every client got every event: {waited}")
        deliveries = clients * posts
        wall = waited["last"] - started
        result = {
            "server": server, "clients": clients, "posts": posts, "window": window,
            "connect_s": connected["seconds"],
            "cpu_s": cpu1 - cpu0,
            "us_per_delivery": (cpu1 - cpu0) / deliveries * 1e6,
            "user_share": (user1 - user0) / max(cpu1 - cpu0, 1e-9),
            "deliveries_per_s": deliveries / wall,
            "wall_s": wall, "post_s": posted - started,
            "server_core_busy": (cpu1 - cpu0) / wall,
            "loadgen_core_busy": (load1 - load0 + self1 - self0) / wall,
            "loadgen_us_per_delivery": (load1 - load0) / deliveries * 1e6,
            "loadgen_user_share": (load_user1 - load_user0) / max(load1 - load0, 1e-9),
            "poster_cpu_s": self1 - self0,
            "rss_growth_mib": (rss1 - rss0) / 2**20,
            "evictions": after.get("evictions", 0) - before.get("evictions", 0),
            # ekg_py only: events per write (its flush rounds batch them).
            "frames_per_write": ((after[FRAMES] - before[FRAMES])
                                 / max(after[WRITES] - before[WRITES], 1)
                                 if WRITES in after else None),
            "backed_up_writes": (after[BACKED_UP] - before[BACKED_UP]
                                 if WRITES in after else None),
            "pings": waited["pings"],
        }
        print(f"[fanout] {json.dumps(result)}", flush=True)
        return result
    finally:
        loadgen.command("quit")
        procs.stop(loadgen.proc)
        procs.stop(proc)


def median_run(runs: list[dict]) -> dict:
    """The run with the median CPU per delivery, and the range over all of them."""
    ordered = sorted(runs, key=lambda r: r["us_per_delivery"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["runs"] = len(runs)
    chosen["us_range"] = (ordered[0]["us_per_delivery"], ordered[-1]["us_per_delivery"])
    return chosen


def report(results: list[dict], args: argparse.Namespace, info: dict[str, str]) -> str:
    lines = [
        f"## Fan-out: ekg_py vs Node.js ws ({info['date']})",
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_line(info)}  ",
        f"Setup: one room, {args.posts} posts of ~{len(make_event(1))} bytes, signed, "
        "posted with 1 request in flight (as reflektor sends to each target) and with "
        f"{max(args.window)}; server on core 0, clients (one asyncio process) and poster on "
        "core 1; \"ekg_py-sse\": ekg_py with its clients on Server-Sent Events. "
        "Node: ws " + common.ws_version() + ", HMAC check, JSON parse, encode once, "
        "`ws.send` to each client. ekg_py: the same plus envelope check, ring buffer, "
        "reordering, presence, per-client bounded queue; WebSocket heartbeats every ~30 s "
        "(Node: none). ekg_py writes a room in flush rounds of 32 connections per loop "
        "turn and takes in new events between slices, so under a stream of events one "
        "write carries several (\"events / write\"); Node sends each event on its own.",
        "",
        "| clients | in flight | server | server CPU µs / delivery (user + sys) "
        "| events / write | deliveries / s | server core busy | load-gen CPU µs / delivery "
        "| core 1 busy | wall s |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        user = r["us_per_delivery"] * r["user_share"]
        per_write = (f"{r['frames_per_write']:.1f}" if r.get("frames_per_write") is not None
                     else "1" if r["server"] == "node-ws" else "n/a")
        spread = (f"; {r['runs']} runs: {r['us_range'][0]:.2f}-{r['us_range'][1]:.2f}"
                  if r.get("runs", 1) > 1 else "")
        lines.append(
            f"| {r['clients']:,} | {r['window']} | {r['server']} "
            f"| **{r['us_per_delivery']:.2f}** ({user:.2f} + {r['us_per_delivery'] - user:.2f}"
            f"{spread}) "
            f"| {per_write} | {r['deliveries_per_s']:,.0f} | {r['server_core_busy']:.0%} "
            f"| {r['loadgen_us_per_delivery']:.2f} | {r['loadgen_core_busy']:.0%} "
            f"| {r['wall_s']:.1f} |")
    lines.append("")
    for clients in args.clients:
        for window in args.window:
            by = {r["server"]: r for r in results
                  if r["clients"] == clients and r["window"] == window}
            if "ekg_py" in by and "node-ws" in by:
                ratio = by["ekg_py"]["us_per_delivery"] / by["node-ws"]["us_per_delivery"]
                verdict = "met" if ratio <= 0.25 else "not met"
                lines.append(f"- {clients:,} clients, {window} in flight: ekg_py uses "
                             f"**{ratio:.2f}x** Node's CPU per delivery (goal: at most 0.25x: "
                             f"{verdict}).")
            if "ekg_py" in by and "ekg_py-sse" in by:
                ratio = by["ekg_py-sse"]["us_per_delivery"] / by["ekg_py"]["us_per_delivery"]
                lines.append(f"- {clients:,} clients, {window} in flight: ekg_py over SSE uses "
                             f"{ratio:.2f}x its CPU per delivery over WebSocket.")
            for server in sorted(by):
                kind, _, rev = server.partition("@")
                if rev and kind in by:
                    change = by[kind]["us_per_delivery"] / by[server]["us_per_delivery"] - 1
                    lines.append(f"- {clients:,} clients, {window} in flight: {kind} "
                                 f"(this tree) uses **{change:+.1%}** CPU per delivery "
                                 f"against {server} (the anchor, in the same run).")
    lines.append("- Core 1 (load generator + poster) near 100% would mean the clients capped "
                 "the rate; the server's CPU per delivery is the figure to compare. Cores "
                 "short of 100% on a busy machine: other processes took the rest.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--window", type=int, nargs="+", default=[1, 4],
                        help="posts in flight, one run each")
    parser.add_argument("--servers", nargs="+", default=["ekg_py", "node-ws", "ekg_py-sse"],
                        choices=["ekg_py", "node-ws", "ekg_py-sse"])
    parser.add_argument("--anchor", metavar="REV",
                        help="also run each ekg_py server as of this git revision (its own "
                             "checkout), interleaved with this tree's: before and after a "
                             "change, in the same run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each configuration, the servers taking turns; the "
                             "median (by CPU per delivery) is reported, with the range")
    parser.add_argument("--time-limit", type=float, default=900)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    info = common.machine()
    print(f"[fanout] {common.machine_line(info)}", flush=True)
    common.raise_nofile()
    common.pin_self(common.LOAD_CORE)
    results = []
    servers = list(args.servers)
    if args.anchor:
        servers += [f"{s}@{args.anchor}" for s in args.servers if s.startswith("ekg_py")]
    with common.bench_session("fanout", args.time_limit) as procs:
        anchors = {args.anchor: common.anchor_tree(procs, args.anchor)} if args.anchor else {}
        for clients in args.clients:
            for window in args.window:
                runs: dict[str, list[dict]] = {server: [] for server in servers}
                for _ in range(args.repeat):  # in turns: a slow spell hits every server
                    for server in servers:
                        runs[server].append(run_one(procs, server, clients, args.posts,
                                                    window, anchors))
                results.extend(median_run(runs[server]) for server in servers)
    common.print_and_record(report(results, args, info), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
