"""How many messages a second the sotu collector analyses, and its CPU per message.

    .venv/bin/python -m bench.collector [--messages 20000] [--anchor REV] [--no-write]

Two measurements (the target is 2,000 messages a second on one core):

1. The pure analysis path, in this process: tokenize, stem, filter, AFINN-score and
   count (`Analyzer.analyse` + `Tally.add` for two scopes), over synthetic chat
   messages; CPU time from `time.process_time`.
2. Over HTTP, as reflektor delivers: `python -m sotu.collector` pinned to core 0
   (`taskset -c 0`), two flatdb processes and this load generator on core 1, each
   room's first event (its settings, as tm sends it) and then signed POSTs of
   message.created events. Once with one request in flight (one reflektor delivers in
   order, one at a time) and once with 8 (several tm hosts' reflektors). The collector
   publishes its live charts as `make run` has it: through a reflektor to an ekg node
   (both on core 1). The collector's CPU comes from /proc/<pid>/stat (user + system),
   so a load generator that caps the rate does not hide the server's cost. At the end
   the collector is stopped with SIGTERM and the ticks in tickdb are summed: every
   message sent must have been counted.

`--anchor REV` runs the HTTP part again with the collector of revision REV (a git
worktree of it), taking turns with this tree's, for a before-and-after in one run.
Prints the figures and appends a section to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import requests

from contract import events, signing
from sotu.analysis import Analyzer
from sotu.buckets import Tally
from sotu.sentiment import load_lexicon

from . import common

SECRET = secrets.token_hex(16)  # this run's shared secret between generator and collector
TIME_LIMIT = 1200.0  # the whole run; every loop below is bounded by count and by time

COMMON = ("the president said we will cut taxes and build a stronger economy for all "
          "americans jobs border healthcare education climate energy inflation wages "
          "families veterans schools police congress bill vote democracy freedom").split()
CHAT = "lol yeah ok wow omg this is so true not really agree disagree haha".split()


# -- messages -----------------------------------------------------------------------------
def make_messages(count: int, seed: int = 4) -> list[str]:
    """Chat-like messages: common words, lexicon words, fillers, a few URLs and names."""
    rng = random.Random(seed)
    words, _ = load_lexicon()
    lexicon = sorted(words)
    messages = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(3, 18)):
            roll = rng.random()
            if roll < 0.55:
                parts.append(rng.choice(COMMON))
            elif roll < 0.75:
                parts.append(rng.choice(lexicon))
            elif roll < 0.9:
                parts.append(rng.choice(CHAT))
            elif roll < 0.94:
                parts.append(str(rng.randint(1, 3000)))
            elif roll < 0.97:
                parts.append("@" + rng.choice(["ann", "bob", "kim"]))
            else:
                parts.append("https://example.com/" + rng.choice(COMMON))
        text = " ".join(parts)
        messages.append(text[0].upper() + text[1:] + rng.choice([".", "!", "?", ""]))
    return messages


def bench_pure(messages: list[str]) -> dict[str, float]:
    analyzer = Analyzer()
    tally = Tally(stem=analyzer.stem)
    scopes = ("event:sotu", "room:sotu-bench")
    for text in messages[:2000]:  # warm the caches, as a running collector's are
        analyzer.analyse(text)
    start = time.process_time()
    for text in messages:
        analyzer.analyse(text)
    analyse_cpu = time.process_time() - start
    now = time.time()
    start = time.process_time()
    for index, text in enumerate(messages):
        analysis = analyzer.analyse(text)
        tally.add(scopes, now, analysis.words, analysis.sentiment, ("sotu-bench", index))
    total_cpu = time.process_time() - start
    count = len(messages)
    return {"analyse_us": analyse_cpu / count * 1e6, "total_us": total_cpu / count * 1e6,
            "rate": count / total_cpu}


# -- over HTTP ------------------------------------------------------------------------------
def room_settings(rooms: int) -> list[tuple]:
    """Each room's first event, as tm sends it: its settings (a sotu-named room made with
    the defaults counts in the sotu event). Without it the collector counts a room
    nowhere."""
    now = datetime.now(UTC)
    prepared = []
    for index in range(rooms):
        room = f"sotu-bench-{index}"
        data = {"topic": "", "state": "open", "paused_until": None, "moderated": False,
                "expires_at": events.iso_utc(now), "analytics": False, "event_scope": "sotu"}
        body = json.dumps(events.make(events.ROOM_UPDATED, room, 1, data, now),
                          separators=(",", ":")).encode()
        path = f"/internal/rooms/{room}/events"
        prepared.append((path, body, signing.sign(SECRET, "POST", path, body)))
    return prepared


def signed_requests(messages: list[str], rooms: int, first_seq: int) -> list[tuple]:
    """(path, body, header) per message; signatures are made in time before each run."""
    now = datetime.now(UTC)
    prepared = []
    for index, text in enumerate(messages):
        room = f"sotu-bench-{index % rooms}"
        seq = first_seq + index
        data = {"id": seq, "nickname": "bench", "text": text, "html": text,
                "created": events.iso_utc(now)}
        body = json.dumps(events.make(events.MESSAGE_CREATED, room, seq, data, now),
                          separators=(",", ":")).encode()
        path = f"/internal/rooms/{room}/events"
        prepared.append((path, body, signing.sign(SECRET, "POST", path, body)))
    return prepared


async def deliver(base: str, prepared: list[tuple], concurrency: int,
                  deadline: float) -> tuple[int, float]:
    """Send everything with `concurrency` requests in flight; (sent, seconds)."""
    queue = list(reversed(prepared))
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal sent
            while queue and time.monotonic() < deadline:
                path, body, signature = queue.pop()
                async with session.post(base + path, data=body, headers={
                        "Content-Type": "application/json",
                        signing.HEADER: signature}) as response:
                    await response.read()
                    if response.status != 202:
                        raise RuntimeError(f"HTTP {response.status} from the collector")
                sent += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return sent, time.monotonic() - start


def ticks_total(tickdb: str, scope: str) -> int:
    reply = requests.get(f"{tickdb}/v1/range", params={"prefix": scope + ":"}, timeout=10)
    reply.raise_for_status()
    return sum(json.loads(item["value"])["n"] for item in reply.json())


def url(proc: common.Proc) -> str:
    return f"http://127.0.0.1:{proc.port}"


def run_http(procs: common.Processes, messages: list[str], flatdb: list[common.Proc],
             tree: Path, label: str, concurrency: int, first_seq: int,
             deadline: float) -> dict:
    """One collector (of `tree`), `concurrency` requests in flight: rate and CPU."""
    publish = []
    if tree == common.ROOT:  # an earlier collector may have no live charts to publish
        ekg = common.start_ekg(procs, SECRET, core=common.LOAD_CORE, name=f"ekg-{label}")
        reflektor = common.start_reflektor(procs, [url(ekg)], core=common.LOAD_CORE)
        publish = ["--publish", url(reflektor)]
    collector = procs.start(f"collector-{label}-c{concurrency}", common.taskset(
        common.SERVER_CORE, [common.PYTHON, "-m", "sotu.collector", "--port", "0",
                             "--clouddb", url(flatdb[0]), "--tickdb", url(flatdb[1]),
                             "--log-level", "WARNING", *publish]),
        env={"TM_INTERNAL_SECRET": SECRET}, ready=r"listening on 127\.0\.0\.1:(\d+)",
        cwd=tree)
    tickdb = url(flatdb[1])
    try:
        before_ticks = ticks_total(tickdb, "event:sotu")
        asyncio.run(deliver(url(collector), room_settings(20), 1, deadline))
        warm = signed_requests(messages[:1000], rooms=20, first_seq=first_seq)
        asyncio.run(deliver(url(collector), warm, concurrency, deadline))
        prepared = signed_requests(messages, rooms=20, first_seq=first_seq + len(warm))
        cpu_before = common.cpu_seconds(collector.pid)
        sent, seconds = asyncio.run(deliver(url(collector), prepared, concurrency, deadline))
        cpu = common.cpu_seconds(collector.pid) - cpu_before
    finally:
        procs.stop(collector, timeout=15)  # SIGTERM: it writes everything it holds
    code = collector.process.returncode
    counted = ticks_total(tickdb, "event:sotu") - before_ticks
    return {"tree": label, "concurrency": concurrency, "sent": sent, "seconds": seconds,
            "rate": sent / seconds, "cpu_us": cpu / sent * 1e6,
            "cpu_rate": sent / cpu if cpu else float("inf"),
            "counted": counted - len(warm), "exit": code, "seqs": len(warm) + len(prepared)}


def bench_http(procs: common.Processes, messages: list[str], trees: dict[str, Path],
               deadline: float, repeat: int = 1) -> list[dict]:
    flatdb = [procs.start(name, common.taskset(common.LOAD_CORE, [
        common.PYTHON, "-m", "flatdb", "--port", "0", "--database",
        str(procs.log_dir / name)]), ready=r"listening on 127\.0\.0\.1:(\d+)")
        for name in ("clouddb", "tickdb")]
    results = []
    seq = 2  # after each room's first event, its settings
    for concurrency in (1, 8):
        runs: dict[str, list[dict]] = {label: [] for label in trees}
        for _ in range(repeat):
            for label, tree in trees.items():  # in turns: a slow spell hits each tree
                row = run_http(procs, messages, flatdb, tree, label, concurrency, seq,
                               deadline)
                seq += row["seqs"]
                runs[label].append(row)
        for rows in runs.values():  # the median run by CPU per message, and the range
            rows.sort(key=lambda row: row["cpu_us"])
            median = dict(rows[(len(rows) - 1) // 2])
            median["range"] = (rows[0]["cpu_us"], rows[-1]["cpu_us"])
            median["all_counted"] = all(r["counted"] == r["sent"] and r["exit"] == 0
                                        for r in rows)
            results.append(median)
    return results


def report(args: argparse.Namespace, pure: dict, http: list[dict]) -> str:
    lines = [
        "## sotu collector: messages analysed per second",
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_line(common.machine())}",
        "",
        "| path | messages/s | CPU per message |",
        "| --- | ---: | ---: |",
        f"| pure analysis (tokenize, stem, filter, AFINN), in process | "
        f"{1e6 / pure['analyse_us']:,.0f} | {pure['analyse_us']:.1f} µs |",
        f"| pure analysis + counting for 2 scopes, in process | {pure['rate']:,.0f} | "
        f"{pure['total_us']:.1f} µs |",
    ]
    for row in http:
        tree = "" if row["tree"] == "this tree" else f" (collector of {row['tree']})"
        lines.append(
            f"| HTTP, signed POSTs, {row['concurrency']} in flight, collector on 1 core"
            f"{tree} | {row['rate']:,.0f} (CPU-bound limit {row['cpu_rate']:,.0f}) | "
            f"{row['cpu_us']:.0f} µs"
            + (f" ({args.repeat} runs: {row['range'][0]:.0f}-{row['range'][1]:.0f})"
               if args.repeat > 1 else "") + " |")
    lines += [
        "",
        "HTTP rows: wall-clock rate as delivered by the load generator (one Python "
        "process on the other core), and the collector's own CPU per message from "
        "/proc/<pid>/stat; \"CPU-bound limit\" is 1 / CPU per message, the rate one "
        "saturated core would reach. Every message sent was counted: "
        + ", ".join(f"{row['counted']}/{row['sent']} (exit {row['exit']})" for row in http)
        + ". This tree's collector publishes its live charts through a reflektor to an "
        "ekg node (on core 1); an earlier one (`--anchor`) may not have had them.",
    ]
    for concurrency in (1, 8):
        pair = [row for row in http if row["concurrency"] == concurrency]
        if len(pair) == 2:
            change = pair[0]["cpu_us"] / pair[1]["cpu_us"] - 1
            lines.append(f"- {concurrency} in flight: this tree's collector uses "
                         f"**{change:+.1%}** CPU per message against {pair[1]['tree']}'s.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collector",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000,
                        help="messages per measurement (at most 100,000)")
    parser.add_argument("--anchor", metavar="REV",
                        help="also run the collector of this git revision, in turns")
    parser.add_argument("--repeat", type=int, default=1,
                        help="HTTP runs per tree and concurrency, in turns; the median")
    parser.add_argument("--no-write", "--no-append", action="store_true",
                        help="print only; do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.messages = max(1000, min(args.messages, 100_000))
    deadline = time.monotonic() + TIME_LIMIT
    common.pin_self(common.LOAD_CORE)
    messages = make_messages(args.messages)
    pure = bench_pure(messages)
    print(f"pure: analyse {pure['analyse_us']:.1f} µs/msg; analyse+count "
          f"{pure['total_us']:.1f} µs/msg = {pure['rate']:,.0f} msg/s", flush=True)
    with common.bench_session("collector", TIME_LIMIT + 60) as procs:
        trees = {"this tree": common.ROOT}
        if args.anchor:
            trees[args.anchor] = common.anchor_tree(procs, args.anchor)
        http = bench_http(procs, messages, trees, deadline, args.repeat)
    for row in http:
        print(f"http {row['tree']} c={row['concurrency']}: {row['rate']:,.0f} msg/s wall, "
              f"collector CPU {row['cpu_us']:.0f} µs/msg (limit {row['cpu_rate']:,.0f}/s), "
              f"counted {row['counted']}/{row['sent']}, exit {row['exit']}", flush=True)
    common.print_and_record(report(args, pure, http), write=not args.no_write)
    ok = all(row["all_counted"] for row in http)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
