"""Posting while the reflektor hangs: tm's post throughput with a reflektor that takes
connections and never answers, beside the same tm with a healthy one, in one run.

    .venv/bin/python -m bench.hung_reflektor [--posts 600] [--posters 4] [--workers 1]

tm runs under gunicorn (sync workers, settings.test, a real memcached, rate limits
lifted), `--workers` of them (one: the worst case, every post on the same worker). In
turn: a healthy reflektor (the real one, answering 202 at once), then a listener that
accepts and never answers. `--posters` participants post as fast as they get answers,
`--posts` in all after a warm-up of 50. Before the publish thread, each post then held
its worker for the publish timeout (0.25 s): 15 posts a second instead of 96. The goal
(issue 9): with the hung one, at least 80% of the healthy throughput. The events it
could not publish stay in the outbox for the relay (tests/tm/test_publish.py checks that
they are delivered once a reflektor answers again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import socket
import sys
import threading
import time

from . import common
from .e2e import create_rooms
from .post_endpoint import WARM_UP, hammer, join_many


def hung_listener() -> tuple[str, socket.socket]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", listener


def run_one(procs: common.Processes, args: argparse.Namespace, label: str,
            reflektor_url: str, memcached: str) -> dict:
    _, tm_url = common.start_tm(procs, memcached=memcached, secret=secrets.token_urlsafe(16),
                                 workers=args.workers, reflektor_urls=[reflektor_url])
    room = f"hung-{label}"
    tokens = asyncio.run(create_rooms(tm_url, [room]))
    tokens_list = [tokens[room], *asyncio.run(join_many(tm_url, room, args.posters - 1))]
    asyncio.run(hammer(tm_url, room, tokens_list, WARM_UP))
    started = time.perf_counter()
    latencies = asyncio.run(hammer(tm_url, room, tokens_list, args.posts, first=WARM_UP))
    elapsed = time.perf_counter() - started
    return {"label": label, "posts": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": common.percentile(latencies, 50) * 1000,
            "p99_ms": common.percentile(latencies, 99) * 1000}


def report(results: list[dict], args: argparse.Namespace, info: dict) -> str:
    healthy, hung = results
    ratio = hung["per_second"] / healthy["per_second"]
    lines = [
        "## Posting while the reflektor hangs (issue 9)", "",
        f"`{common.command_line()}` on {common.machine_line(info)}; {args.workers} "
        f"gunicorn worker(s), {args.posters} posters, {args.posts} posts in each run.", "",
        "| reflektor | posts/s | POST p50 | POST p99 |", "| --- | --- | --- | --- |",
        *(f"| {r['label']} | {r['per_second']:.0f} | {r['p50_ms']:.1f} ms | "
          f"{r['p99_ms']:.1f} ms |" for r in results),
        "",
        f"With the hung reflektor tm keeps **{ratio:.0%}** of its healthy throughput "
        "(goal: at least 80%). The worker hands each event to its publish thread and "
        "takes the next request; the thread waits out one timeout, then skips the "
        "reflektor for a second, leaving those events to the outbox relay.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hung_reflektor", description=__doc__)
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--posters", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    info = common.machine()
    print(f"[hung_reflektor] {common.machine_line(info)}", flush=True)
    with common.bench_session("hung_reflektor", args.time_limit) as procs:
        memcached = common.start_memcached(procs)
        # A real reflektor: it answers 202 at once and drops what its target (a port
        # nobody listens on) never takes.
        healthy = common.start_reflektor(procs, [f"http://127.0.0.1:{common.free_port()}"])
        hung_url, listener = hung_listener()
        try:
            results = [run_one(procs, args, "healthy", f"http://127.0.0.1:{healthy.port}",
                               memcached),
                       run_one(procs, args, "hung", hung_url, memcached)]
        finally:
            listener.close()
    common.print_and_record(report(results, args, info), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
