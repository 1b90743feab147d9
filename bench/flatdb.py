"""Puts, gets and range reads per second: flatdb over HTTP, side by side with raw plyvel
calls on a LevelDB (the floor) and with Redis doing the same work.

    .venv/bin/python -m bench.flatdb [--puts 20000] [--gets 20000] [--ranges 500]
                                     [--range-size 100] [--no-write]

One client, one request at a time, in this process (pinned to core 1):

- flatdb: `flatdb --port 0` on a fresh LevelDB in a temp dir, pinned to core 0, through
  one persistent HTTP connection (requests.Session): PUT /v1/keys/<key> {"value"},
  GET /v1/keys/<key>, GET /v1/range?start=<key>&limit=<n>.
- plyvel: the same calls straight on a LevelDB in a temp dir (db.put, db.get, and an
  iterator from the start key for n items), in this process: no server, no network.
- Redis: a local redis-server on a free loopback port, pinned to core 0, AOF on with
  appendfsync everysec (LevelDB too writes each put to its log without fsync), through
  redis-py on one connection. A put is SET key value plus ZADD into one sorted set of
  all keys (score 0), sent as one pipeline (one round trip); a get is GET; a range read
  is ZRANGEBYLEX [start + LIMIT 0 n and then MGET of those keys (two round trips), so
  it returns keys and values as flatdb's range does.

The keys are `key:%08d` (sorted like their numbers), values 100 bytes of text; gets and
range starts are random existing keys (the same seeded sequence for all three). Every
get and range answer is checked. Server CPU time comes from /proc/<pid>/stat (user +
system) before and after each phase; the client's from time.process_time.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import plyvel
import redis
import requests

from . import common

VALUE_BYTES = 100


def key_of(i: int) -> str:
    return f"key:{i:08d}"


def value_of(i: int) -> str:
    return f"{i:08d}".ljust(VALUE_BYTES, "v")


def workload(args: argparse.Namespace) -> dict[str, list[int]]:
    rng = random.Random(20261123)
    return {
        "put": list(range(args.puts)),
        "get": [rng.randrange(args.puts) for _ in range(args.gets)],
        "range": [rng.randrange(args.puts) for _ in range(args.ranges)],
    }


def expected_range(start: int, size: int, total: int) -> int:
    return min(size, total - start)


def timed(phase: str, ops: int, run, server_pid: int | None) -> dict:
    """Run one phase; ops/s, client CPU and (when there is one) server CPU per op."""
    server_before = common.cpu_seconds(server_pid) if server_pid else 0.0
    cpu_before = time.process_time()
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    client_cpu = time.process_time() - cpu_before
    server_cpu = (common.cpu_seconds(server_pid) - server_before) if server_pid else None
    return {"phase": phase, "ops": ops, "seconds": wall, "ops_per_s": ops / wall,
            "client_cpu_us": client_cpu / ops * 1e6,
            "server_cpu_s": server_cpu,
            "server_cpu_us": None if server_cpu is None else server_cpu / ops * 1e6}


def check(ok: bool, what: str) -> None:
    if not ok:
        raise common.BenchError(what)


# -- the three subjects ---------------------------------------------------------------
def run_plyvel(work: dict[str, list[int]], args: argparse.Namespace, tmp: Path) -> list[dict]:
    db = plyvel.DB(str(tmp / "plyvel"), create_if_missing=True)
    try:
        def puts() -> None:
            for i in work["put"]:
                db.put(key_of(i).encode(), value_of(i).encode())

        def gets() -> None:
            for i in work["get"]:
                check(db.get(key_of(i).encode()) == value_of(i).encode(), f"plyvel get {i}")

        def ranges() -> None:
            for i in work["range"]:
                with db.iterator(start=key_of(i).encode()) as it:
                    items = list(itertools.islice(it, args.range_size))
                check(len(items) == expected_range(i, args.range_size, args.puts)
                      and items[0][0] == key_of(i).encode(), f"plyvel range {i}")

        return [timed("put", len(work["put"]), puts, None),
                timed("get", len(work["get"]), gets, None),
                timed("range", len(work["range"]), ranges, None)]
    finally:
        db.close()


def run_flatdb(procs: common.Processes, work: dict[str, list[int]],
               args: argparse.Namespace, tmp: Path) -> list[dict]:
    binary = str(Path(common.PYTHON).parent / "flatdb")
    proc = procs.start("flatdb", common.taskset(common.SERVER_CORE, [
        binary, "--host", "127.0.0.1", "--port", "0", "--database", str(tmp / "flatdb")]),
        ready=r"flatdb listening on 127\.0\.0\.1:(\d+)")
    base = f"http://127.0.0.1:{proc.port}"
    session = requests.Session()
    try:
        check(session.get(f"{base}/healthz", timeout=10).status_code == 200, "flatdb healthz")

        def puts() -> None:
            for i in work["put"]:
                answer = session.put(f"{base}/v1/keys/{key_of(i)}",
                                     json={"value": value_of(i)}, timeout=10)
                check(answer.status_code == 200, f"flatdb put {i}: {answer.status_code}")

        def gets() -> None:
            for i in work["get"]:
                answer = session.get(f"{base}/v1/keys/{key_of(i)}", timeout=10)
                check(answer.status_code == 200 and answer.json()["value"] == value_of(i),
                      f"flatdb get {i}: {answer.status_code}")

        def ranges() -> None:
            for i in work["range"]:
                answer = session.get(f"{base}/v1/range", timeout=10,
                                     params={"start": key_of(i), "limit": args.range_size})
                items = answer.json()
                check(answer.status_code == 200
                      and len(items) == expected_range(i, args.range_size, args.puts)
                      and items[0]["key"] == key_of(i), f"flatdb range {i}")

        return [timed("put", len(work["put"]), puts, proc.pid),
                timed("get", len(work["get"]), gets, proc.pid),
                timed("range", len(work["range"]), ranges, proc.pid)]
    finally:
        session.close()
        procs.stop(proc)


def redis_version() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                         timeout=10).stdout
    return out.split("v=")[1].split()[0] if "v=" in out else out.strip()


def run_redis(procs: common.Processes, work: dict[str, list[int]],
              args: argparse.Namespace, tmp: Path) -> list[dict]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise common.BenchError("redis-server is not installed (apt-get install redis-server)")
    port = common.free_port()
    data = tmp / "redis"
    data.mkdir()
    proc = procs.start("redis", common.taskset(common.SERVER_CORE, [
        binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
        "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
        "--daemonize", "no"]), ready=r"Ready to accept connections")
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    index = "bench:index"
    try:
        check(client.ping(), "redis ping")

        def puts() -> None:
            for i in work["put"]:
                key = key_of(i)
                pipe = client.pipeline(transaction=False)
                pipe.set(key, value_of(i))
                pipe.zadd(index, {key: 0})
                pipe.execute()

        def gets() -> None:
            for i in work["get"]:
                check(client.get(key_of(i)) == value_of(i).encode(), f"redis get {i}")

        def ranges() -> None:
            for i in work["range"]:
                keys = client.zrangebylex(index, f"[{key_of(i)}", "+", 0, args.range_size)
                values = client.mget(keys)
                check(len(keys) == expected_range(i, args.range_size, args.puts)
                      and keys[0] == key_of(i).encode() and None not in values,
                      f"redis range {i}")

        return [timed("put", len(work["put"]), puts, proc.pid),
                timed("get", len(work["get"]), gets, proc.pid),
                timed("range", len(work["range"]), ranges, proc.pid)]
    finally:
        client.close()
        procs.stop(proc)


# -- the report -----------------------------------------------------------------------
def report(results: dict[str, list[dict]], args: argparse.Namespace,
           info: dict[str, str]) -> str:
    lines = [
        f"## flatdb over HTTP beside raw plyvel and Redis ({info['date']})",
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_line(info)}  ",
        f"Setup: one client, one request at a time, pinned to core 1; flatdb (waitress, "
        f"4 threads) and redis-server {redis_version()} (AOF, appendfsync everysec) pinned "
        f"to core 0; plyvel {plyvel.__version__} runs in the client process (no server). "
        f"{args.puts:,} puts, {args.gets:,} random gets, {args.ranges:,} range reads of "
        f"{args.range_size} keys (random start); keys `key:%08d`, {VALUE_BYTES}-byte "
        "values; fresh stores in a temp dir. flatdb through one persistent HTTP "
        f"connection (requests {requests.__version__}, JSON); Redis through redis-py "
        f"{redis.__version__}: put = SET + ZADD to one sorted set in one pipeline, get = "
        "GET, range = ZRANGEBYLEX [start + LIMIT 0 n, then MGET (two round trips). "
        "Server CPU from /proc/<pid>/stat (user + system).",
        "",
        "| store | op | ops | ops / s | client CPU µs / op | server CPU µs / op |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for store, rows in results.items():
        for r in rows:
            server = "-" if r["server_cpu_us"] is None else f"{r['server_cpu_us']:.0f}"
            lines.append(f"| {store} | {r['phase']} | {r['ops']:,} | {r['ops_per_s']:,.0f} "
                         f"| {r['client_cpu_us']:.0f} | {server} |")
    lines += ["", "HTTP overhead (ops/s of the other store / ops/s of flatdb over HTTP; "
              "higher = flatdb slower by that factor):", ""]
    flat = {r["phase"]: r for r in results.get("flatdb", [])}
    for phase in ("put", "get", "range"):
        if phase not in flat:
            continue
        parts = []
        for other in ("plyvel", "redis"):
            row = {r["phase"]: r for r in results.get(other, [])}.get(phase)
            if row:
                ratio = row["ops_per_s"] / flat[phase]["ops_per_s"]
                parts.append(f"{other} / flatdb = {ratio:.1f}x")
        lines.append(f"- {phase}: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flatdb", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--puts", type=int, default=20_000)
    parser.add_argument("--gets", type=int, default=20_000)
    parser.add_argument("--ranges", type=int, default=500)
    parser.add_argument("--range-size", type=int, default=100)
    parser.add_argument("--stores", nargs="+", default=["plyvel", "flatdb", "redis"],
                        choices=["plyvel", "flatdb", "redis"])
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    if min(args.puts, args.gets, args.ranges, args.range_size) < 1:
        parser.error("counts must be positive")
    info = common.machine()
    print(f"[flatdb] {common.machine_line(info)}", flush=True)
    common.pin_self(common.LOAD_CORE)
    work = workload(args)
    results: dict[str, list[dict]] = {}
    with common.bench_session("flatdb", args.time_limit) as procs, \
            tempfile.TemporaryDirectory(prefix="tm-bench-flatdb-data-") as tmp_name:
        tmp = Path(tmp_name)
        for store in args.stores:
            if store == "plyvel":
                results[store] = run_plyvel(work, args, tmp)
            elif store == "flatdb":
                results[store] = run_flatdb(procs, work, args, tmp)
            else:
                results[store] = run_redis(procs, work, args, tmp)
            for r in results[store]:
                print(f"[flatdb] {store} {r['phase']}: {r['ops_per_s']:,.0f} ops/s "
                      f"({r['ops']:,} in {r['seconds']:.2f} s)", flush=True)
    common.print_and_record(report(results, args, info), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
