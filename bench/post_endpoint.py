"""tm's post endpoint under load: p50 and p90 of POST /api/v1/rooms/<room>/messages,
with publish to reflektor off and then on.

    .venv/bin/python -m bench.post_endpoint [--posters 1 4] [--posts 2000] [--workers 2]
                                            [--database sqlite postgresql]

tm runs under gunicorn (sync workers, settings.test, a real memcached for rate-limit
counters and cached rooms, rate limits lifted), on SQLite in WAL mode (the embedded
default) and then on a PostgreSQL cluster started for the run (production's database). For each
count in `--posters`, that many participants of one room post as fast as they get
answers, `--posts` in all after a warm-up of 50 (not counted; a single poster posts a
quarter as many); latency is measured by the client, from sending the request to the
whole answer (a new TCP connection each time: gunicorn's sync workers close it). Each
run on a fresh database, with publish:

- publish off: TM_REFLEKTOR_URLS empty, tm stores the message and answers;
- publish on: tm posts each event, signed, to a local reflektor (which replays it to
  an ekg_py node with no clients) once its answer is out, as in production.

Nothing is pinned: tm's workers use both cores; the posters (one asyncio process,
this one) share them. The original product's figures, quoted (not measured here):
p50 3 ms, p90 4 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time

import aiohttp

from testkit import postgres

from . import common
from .e2e import create_rooms

ORIGINAL = {"p50": 3.0, "p90": 4.0}
WARM_UP = 50


async def hammer(tm_url: str, room: str, tokens: list[str], posts: int,
                 first: int = 0) -> list[float]:
    """Each token posts in turn as soon as its last post is answered; returns the
    latencies (seconds) of posts number `first` .. `first + posts - 1`."""
    latencies: list[float] = []
    failures: list[int] = []
    counter = iter(range(first, first + posts))
    connector = aiohttp.TCPConnector(limit=len(tokens) * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def poster(token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            for number in counter:
                text = f"post {number}: can you go over the second example again, please?"
                sent = time.perf_counter()
                async with session.post(f"{tm_url}/api/v1/rooms/{room}/messages",
                                        json={"text": text}, headers=headers) as answer:
                    await answer.read()
                    status = answer.status
                elapsed = time.perf_counter() - sent
                if status != 201:
                    failures.append(status)
                else:
                    latencies.append(elapsed)

        await asyncio.gather(*(poster(token) for token in tokens))
    if failures:
        raise common.BenchError(f"{len(failures)} posts failed: {sorted(set(failures))}")
    return latencies


async def join_many(tm_url: str, room: str, count: int) -> list[str]:
    tokens = []
    async with aiohttp.ClientSession() as session:
        for number in range(count):
            async with session.post(f"{tm_url}/api/v1/rooms/{room}/join",
                                    json={"nickname": f"poster-{number}"}) as answer:
                if answer.status != 201:
                    raise common.BenchError(f"join: {answer.status} {await answer.text()}")
                tokens.append((await answer.json())["token"])
    return tokens


def run_one(procs: common.Processes, args: argparse.Namespace, posters: int,
            publish: bool, database: str) -> dict:
    secret = secrets.token_urlsafe(32)
    memcached = common.start_memcached(procs)
    db_env = common.start_postgres(procs) if database == "postgresql" else None
    relays: list[str] = []
    if publish:
        ekg = common.start_ekg(procs, secret, core=None)
        relay = common.start_reflektor(procs, [f"http://127.0.0.1:{ekg.port}"])
        relays = [f"http://127.0.0.1:{relay.port}"]
    tm, tm_url = common.start_tm(procs, memcached=memcached, secret=secret,
                                 workers=args.workers, reflektor_urls=relays,
                                 database=db_env)
    try:
        room = "bench-posts"
        asyncio.run(create_rooms(tm_url, [room]))
        tokens = asyncio.run(join_many(tm_url, room, posters))
        # A room just written is read from the database for 5 s (the write guard,
        # tm/models.py WRITE_GUARD_SECONDS); a lesson's posts come long after that.
        time.sleep(5.5)
        posts = args.posts if posters > 1 else max(100, args.posts // 4)
        # The warm-up loads what the first posts import and fills the caches; neither
        # its time nor its CPU counts.
        asyncio.run(hammer(tm_url, room, tokens, WARM_UP))
        cpu0 = common.tree_cpu_seconds(tm.pid)
        began = time.monotonic()
        latencies = asyncio.run(hammer(tm_url, room, tokens, posts, first=WARM_UP))
        wall = time.monotonic() - began
        cpu = common.tree_cpu_seconds(tm.pid) - cpu0
    finally:
        procs.close()  # this run's services; the next run starts its own
    result = {
        "database": database, "publish": publish, "posters": posters,
        "posts": len(latencies),
        "p50": common.percentile(latencies, 50) * 1000,
        "p90": common.percentile(latencies, 90) * 1000,
        "p99": common.percentile(latencies, 99) * 1000,
        "posts_per_s": posts / wall,
        "tm_cpu_ms_per_post": cpu / posts * 1000,
    }
    print(f"[post_endpoint] {result}", flush=True)
    return result


def report(results: list[dict], args: argparse.Namespace, info: dict[str, str]) -> str:
    lines = [
        f"## tm's post endpoint under load ({info['date']})",
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_line(info)}  ",
        f"Setup: gunicorn with {args.workers} sync workers, settings.test (memcached; SQLite "
        "in WAL mode with synchronous=NORMAL, the embedded default, or PostgreSQL "
        f"{common.postgres_version()} with fsync on, as in production, both on this "
        "machine's disk), rate limits lifted; N participants of one room post back to back "
        f"(warm-up of {WARM_UP} not counted); client-side latency, a new connection per "
        "post; nothing pinned, the posters share the machine. Publish on: tm posts each "
        "event to a local reflektor (-> an ekg_py node) once its answer has gone out, in "
        "the same worker, so it costs throughput, not the poster's wait.",
        "",
        "| database | posters | publish to reflektor | posts | p50 ms | p90 ms | p99 ms "
        "| posts / s | tm CPU ms / post |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(f"| {r['database']} | {r['posters']} | {'on' if r['publish'] else 'off'} "
                     f"| {r['posts']} "
                     f"| {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} "
                     f"| {r['posts_per_s']:.0f} | {r['tm_cpu_ms_per_post']:.1f} |")
    lines.append(f"| | | original product (quoted, not measured here) | "
                 f"| {ORIGINAL['p50']:.0f} | {ORIGINAL['p90']:.0f} | | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.post_endpoint", description=__doc__)
    parser.add_argument("--posters", type=int, nargs="+", default=[1, 4],
                        help="concurrent posters, one run each")
    parser.add_argument("--posts", type=int, default=2000, help="posts counted per run")
    # Two sync workers on two cores, as gunicorn.conf.py runs tm: more only contend for
    # the cores (every idle worker wakes for each connection).
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"],
                        help="tm's database, one set of runs each (postgresql: started "
                             "here, needs the postgresql package)")
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    info = common.machine()
    print(f"[post_endpoint] {common.machine_line(info)}", flush=True)
    databases = list(args.database)
    if "postgresql" in databases and postgres.bindir() is None:
        print("[post_endpoint] PostgreSQL is not installed (apt-get install postgresql): "
              "SQLite only", flush=True)
        databases.remove("postgresql")
    with common.bench_session("post_endpoint", args.time_limit) as procs:
        results = [run_one(procs, args, posters, publish, database)
                   for database in databases
                   for publish in (False, True) for posters in args.posters]
    common.print_and_record(report(results, args, info), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
