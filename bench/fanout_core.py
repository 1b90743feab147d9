"""Fan-out in the push node's core, without sockets: this tree's ekg_py beside an
earlier revision's (`--anchor REV`, its own checkout), in the same run, taking turns.

The socket benchmark (bench/fanout.py) is the real figure, but on this VM its runs vary
by up to ±20%, too much to see a 5% change. This one times only the code a refactor of
the core touches, in one process per run on one core: per event, the shell's envelope
check (contract.events.check), `Registry.publish` (ring buffer, reorder window,
fan-out into every connection's queue) and, for every connection woken, taking its
queue and building its WebSocket bytes (what clients.py hands the transport). CPU time
(time.process_time) per delivery, the median of `--repeat` runs per tree.

    .venv/bin/python -m bench.fanout_core --anchor d08372a
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from . import common

# Runs inside each tree (cwd = the tree): only what both versions of the core offer.
RUN = r"""
import json, sys, time
from datetime import UTC, datetime, timedelta
from contract import events
from ekg_py.rooms import Registry
try:
    from ekg_py.wire import ws_frames          # the shell's encoders (after the split)
except ImportError:
    from ekg_py.clients import _frames as ws_frames  # before: Encoded.frame

clients, posts = int(sys.argv[1]), int(sys.argv[2])

class Sink:
    woken = []
    def __init__(self):
        self.conn = None
    def wake(self):
        Sink.woken.append(self)
    def hurry(self):
        pass
    def evict(self, code, reason):
        raise SystemExit("a client was evicted: the benchmark is wrong")
    def end(self, code, reason):
        pass

registry = Registry(reorder_window=0.1)
for _ in range(clients):
    sink = Sink()
    sink.conn = registry.connect("bench", sink, after=0)
Sink.woken.clear()
epoch = datetime(2026, 11, 23, 10, tzinfo=UTC)
text = "is this on the exam? " * 4
made = [events.make(events.MESSAGE_CREATED, "bench", seq,
                    {"id": seq, "nickname": "student-42", "text": text,
                     "html": "<p>" + text + "</p>", "created": "2026-11-23T10:00:00.123Z"},
                    epoch + timedelta(milliseconds=seq)) for seq in range(1, posts + 1)]
written = 0
start = time.process_time()
for event in made:
    events.check(event)            # the shell checks each event it takes
    registry.publish(event)
    woken, Sink.woken = Sink.woken, []
    for sink in woken:
        conn = sink.conn
        written += len(ws_frames(conn.take()))
        conn.done()
cpu = time.process_time() - start
print(json.dumps({"us_per_delivery": cpu / (clients * posts) * 1e6, "bytes": written}))
"""


def run(tree: Path, clients: int, posts: int) -> dict:
    answer = subprocess.run(common.taskset(common.SERVER_CORE, [
        common.PYTHON, "-c", RUN, str(clients), str(posts)]), cwd=tree,
        capture_output=True, text=True, timeout=600)
    if answer.returncode != 0:
        raise common.BenchError(f"{tree}: {answer.stderr[-2000:]}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout_core", description=__doc__)
    parser.add_argument("--anchor", required=True, metavar="REV",
                        help="the revision to compare with (git worktree of it)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=900)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    info = common.machine()
    rows = []
    with common.bench_session("fanout-core", args.time_limit) as procs:
        trees = {"this tree": common.ROOT, args.anchor: common.anchor_tree(procs, args.anchor)}
        for clients in args.clients:
            runs: dict[str, list[dict]] = {name: [] for name in trees}
            for _ in range(args.repeat):  # in turns, so a slow spell hits both
                for name, tree in trees.items():
                    runs[name].append(run(tree, clients, args.posts))
            figures = {name: [r["us_per_delivery"] for r in got] for name, got in runs.items()}
            if len({got[0]["bytes"] for got in runs.values()}) != 1:
                raise common.BenchError("the trees wrote different bytes: not the same work")
            rows.append((clients, figures))
            print(f"[fanout_core] {clients} clients: {json.dumps(figures)}", flush=True)
    lines = [f"## Fan-out in the core: this tree vs {args.anchor} ({info['date']})", "",
             f"Command: `{common.command_line()}`  ",
             f"Machine: {common.machine_line(info)}  ",
             f"Setup: one room, {args.posts} events of ~390 bytes; per event the envelope "
             "check, `Registry.publish` and every woken connection's queue taken and "
             "encoded as WebSocket frames, no sockets; one process on core 0, the trees "
             f"taking turns, {args.repeat} runs each; CPU µs per delivery, median (range).",
             "", f"| clients | this tree | {args.anchor} | change |",
             "| ---: | ---: | ---: | ---: |"]
    for clients, figures in rows:
        mine, anchor = (statistics.median(figures[n]) for n in trees)
        spans = {n: f"{min(figures[n]):.3f}-{max(figures[n]):.3f}" for n in trees}
        lines.append(f"| {clients:,} | {mine:.3f} ({spans['this tree']}) "
                     f"| {anchor:.3f} ({spans[args.anchor]}) | **{mine / anchor - 1:+.1%}** |")
    common.print_and_record("\n".join(lines) + "\n", write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
