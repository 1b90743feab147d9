"""End to end: from POST /api/v1/rooms/<room>/messages to tm until the event has
reached every WebSocket client of the room, through the whole stack.

    .venv/bin/python -m bench.e2e [--workers 2] [--rooms 100 --per-room 30 --every 2
                                   --duration 30] [--big 5000 --big-posts 200
                                   --big-every 0.1] [--nodes 1 2] [--push ekg_py node-ws]

The stack: memcached, tm under gunicorn (sync workers, settings.test, SQLite in WAL
mode, rate limits lifted), its reflektor, one ekg_py node. ekg_py runs on core 0 and the
clients (bench/wsclients.py, one asyncio process) on core 1; tm, reflektor, memcached
and this process (the poster) are not pinned: on a 2-core machine they share the cores
with both. Two scenarios, each open loop (posts go out on schedule, whatever the
answers):

- classroom: `--rooms` rooms of `--per-room` clients; each room gets one post every
  `--every` seconds (rooms staggered evenly) for `--duration` seconds;
- lecture hall: one room of `--big` clients, `--big-posts` posts `--big-every` s apart.

With `--nodes 2` (the default runs 1, then 2) the lecture hall runs again with two push
nodes side by side, node i on core i, reflektor sending to both and the clients spread
over them; two ekg_py nodes are each other's --peer.

Per post, "all clients" is the time from just before the POST was sent to the moment
the last client of the room had the event (time.monotonic in both processes, one
clock on one machine). Also: per delivery (each client's own arrival), the first
client's arrival, and tm's answer time, which includes tm's publish to reflektor.
A client's arrival is taken twice (bench/wsclients.py): when the load generator read
it, which with thousands of clients per post includes the load generator's own queueing
on its core, and when the kernel put it in the client's socket (its receive timestamp),
which does not. bench.kernel_floor measures the least fan-out time any push node could
show here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp

from . import common
from .wsclients import room_names


async def create_rooms(tm_url: str, names: list[str]) -> dict[str, str]:
    """Create each room and join it once; returns room -> the poster's token."""
    tokens: dict[str, str] = {}
    gate = asyncio.Semaphore(4)
    async with aiohttp.ClientSession() as session:
        async def one(name: str) -> None:
            async with gate:
                async with session.post(f"{tm_url}/api/v1/rooms",
                                        json={"name": name, "lifetime": 3 * 3600}) as answer:
                    if answer.status != 201:
                        raise common.BenchError(f"create {name}: {answer.status} "
                                                f"{await answer.text()}")
                async with session.post(f"{tm_url}/api/v1/rooms/{name}/join",
                                        json={"nickname": "poster"}) as answer:
                    if answer.status != 201:
                        raise common.BenchError(f"join {name}: {answer.status} "
                                                f"{await answer.text()}")
                    tokens[name] = (await answer.json())["token"]

        await asyncio.gather(*(one(name) for name in names))
    return tokens


async def post_on_schedule(tm_url: str, tokens: dict[str, str],
                           schedule: list[tuple[float, str]]) -> list[dict]:
    """Send each (offset seconds, room) post at its time; one record per post."""
    records: list[dict] = []
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(room: str, number: int) -> None:
            text = f"e2e post {number} in {room}: what did the slide before this one say?"
            headers = {"Authorization": f"Bearer {tokens[room]}"}
            sent = time.monotonic()
            try:
                async with session.post(f"{tm_url}/api/v1/rooms/{room}/messages",
                                        json={"text": text}, headers=headers) as answer:
                    body = await answer.read()
                    status = answer.status
            except aiohttp.ClientError as error:
                status, body = 0, repr(error).encode()
            answered = time.monotonic()
            seq = json.loads(body)["seq"] if status == 201 else None
            records.append({"room": room, "seq": seq, "sent": sent, "answered": answered,
                            "status": status})

        start = time.monotonic() + 0.2
        tasks = []
        for number, (offset, room) in enumerate(schedule):
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(room, number)))
        await asyncio.gather(*tasks)
    return records


def scenario(procs: common.Processes, *, label: str, push: str, nodes: list[common.Proc],
             tm: common.Proc, secret: str,
             relay: common.Proc, tm_url: str, prefix: str, rooms: int, per_room: int,
             schedule_for, posts_per_room: int, pin: bool) -> dict:
    names = room_names(prefix, rooms)
    tokens = asyncio.run(create_rooms(tm_url, names))
    loadgen = common.LoadGen(procs, f"clients-{label}", [
        *(arg for node in nodes for arg in ("--port", str(node.port))),
        "--room-prefix", prefix, "--room-count", str(rooms),
        "--per-room", str(per_room), "--mode", "track"],
        core=common.LOAD_CORE if pin else None, secret=secret)
    try:
        connected = loadgen.expect("connected", timeout=120)
        if connected["clients"] != rooms * per_room:
            raise common.BenchError(f"{label}: {connected}")
        time.sleep(1.5)  # the last presence messages of the joins go out
        schedule = schedule_for(names)
        watched = {push: [node.pid for node in nodes], "load generator": [loadgen.proc.pid],
                   "tm": [tm.pid], "reflektor": [relay.pid]}
        cpu0 = {name: sum(map(common.tree_cpu_seconds, pids)) for name, pids in watched.items()}
        started = time.monotonic()
        records = asyncio.run(post_on_schedule(tm_url, tokens, schedule))
        loadgen.command(f"wait {posts_per_room} 20")
        waited = loadgen.expect("waited", timeout=30)
        wall = time.monotonic() - started
        busy = {name: (sum(map(common.tree_cpu_seconds, pids)) - cpu0[name]) / wall
                for name, pids in watched.items()}
        dump = procs.log_dir / f"arrivals-{prefix}.json"
        loadgen.command(f"dump {dump}")
        loadgen.expect("dumped", timeout=120)
    finally:
        loadgen.command("quit")
        procs.stop(loadgen.proc)
        for node in nodes:
            wait_for_no_connections(node.port)
    dumped = json.loads(dump.read_text())
    dump.unlink()
    # The raw figures stay with the logs: when each post went out, was answered, and
    # reached its room's first and last client (read by the clients' process).
    arrivals = dumped["read"]
    raw = [{**r, "first": min(arrivals.get(r["room"], {}).get(str(r["seq"]), [0])),
            "last": max(arrivals.get(r["room"], {}).get(str(r["seq"]), [0]))}
           for r in records]
    (procs.log_dir / f"posts-{prefix}.json").write_text(json.dumps(raw))
    result = summarize(label, records, arrivals, per_room, waited)
    result["in_socket"] = summarize(label, records, dumped["kernel"], per_room, waited)
    result["push"] = push if len(nodes) == 1 else f"{push} x {len(nodes)}"
    result["cores_busy"] = busy
    return result


def summarize(label: str, records: list[dict], arrivals: dict, per_room: int,
              waited: dict) -> dict:
    all_clients, per_delivery, first, answer = [], [], [], []
    incomplete = failed = 0
    for record in records:
        answer.append(record["answered"] - record["sent"])
        if record["status"] != 201:
            failed += 1
            continue
        times = arrivals.get(record["room"], {}).get(str(record["seq"]), [])
        per_delivery.extend(t - record["sent"] for t in times)
        if times:
            first.append(min(times) - record["sent"])
        if len(times) < per_room:
            incomplete += 1
        else:
            all_clients.append(max(times) - record["sent"])

    def ms(values: list[float], p: float) -> float:
        return common.percentile(values, p) * 1000

    return {
        "scenario": label, "posts": len(records), "failed_posts": failed,
        "incomplete_posts": incomplete, "clients_short": waited["short"],
        "all_p50": ms(all_clients, 50), "all_p99": ms(all_clients, 99),
        "all_max": ms(all_clients, 100),
        "delivery_p50": ms(per_delivery, 50), "delivery_p99": ms(per_delivery, 99),
        "first_p50": ms(first, 50), "first_p99": ms(first, 99),
        "answer_p50": ms(answer, 50), "answer_p99": ms(answer, 99),
        "deliveries": len(per_delivery),
    }


def wait_for_no_connections(port: int, timeout: float = 30.0) -> None:
    """Let the node forget one scenario's clients before the next one starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",  # noqa: S310
                                    timeout=5) as answer:
            if json.loads(answer.read())["connections"] == 0:
                break
        time.sleep(0.2)
    time.sleep(1.0)


def reflektor_metrics(admin_url: str) -> dict:
    with urllib.request.urlopen(f"{admin_url}/metrics", timeout=5) as answer:  # noqa: S310
        return json.loads(answer.read())


def report(results: list[dict], args: argparse.Namespace, info: dict[str, str],
           relay: dict) -> str:
    lines = [
        f"## End to end: tm -> reflektor -> push node -> clients ({info['date']})",
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_line(info)}  ",
        f"Stack: tm under gunicorn ({args.workers} sync workers, settings.test, SQLite WAL), "
        "memcached, one reflektor, one push node on core 0: ekg_py, then the minimal Node.js "
        "ws broadcast server of the fan-out benchmark (bench/node/broadcast.js) in its place "
        "as the anchor, each with a fresh stack; \"x 2\": two nodes side by side, node i on "
        "core i, reflektor sending to both, the clients spread over them (ekg_py nodes are "
        "each other's --peer); clients (one asyncio process) on core 1; "
        "tm, reflektor, memcached and the poster unpinned. **The load generator shares this "
        "2-core machine with the stack**, so each send also pays for the loopback receive "
        "and for waking the receiver. Open-loop posting. Latency: from just before the POST "
        "until the event had reached every client of the room (\"all clients\"), each client "
        "(\"per delivery\"), the first client; tm answers before it publishes. Arrival "
        "is when the clients' process read the event; \"in the socket\" below is when the "
        "kernel put it in the client's socket (receive timestamp), without the clients' "
        "process's own queueing through thousands of sockets.",
        "",
        "| push node | scenario | posts | all clients p50 / p99 / max ms "
        "| per delivery p50 / p99 ms | first client p50 / p99 ms | tm answer p50 / p99 ms "
        "| lost |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lost = r["failed_posts"] + r["incomplete_posts"]
        lines.append(
            f"| {r['push']} | {r['scenario']} | {r['posts']:,} "
            f"| {r['all_p50']:.1f} / {r['all_p99']:.1f} / "
            f"{r['all_max']:.1f} | {r['delivery_p50']:.1f} / {r['delivery_p99']:.1f} "
            f"| {r['first_p50']:.1f} / {r['first_p99']:.1f} "
            f"| {r['answer_p50']:.1f} / {r['answer_p99']:.1f} | {lost} |")
    lines += ["", "Arrival in the client's socket (kernel receive timestamp):", "",
              "| push node | scenario | all clients p50 / p99 / max ms "
              "| per delivery p50 / p99 ms | first client p50 / p99 ms |",
              "| --- | --- | ---: | ---: | ---: |"]
    for r in results:
        k = r["in_socket"]
        lines.append(
            f"| {r['push']} | {r['scenario']} | {k['all_p50']:.1f} / {k['all_p99']:.1f} / "
            f"{k['all_max']:.1f} | {k['delivery_p50']:.1f} / {k['delivery_p99']:.1f} "
            f"| {k['first_p50']:.1f} / {k['first_p99']:.1f} |")
    latency = next(iter(relay.get("targets", {}).values()), {}).get("latency", {})
    lines += ["", "CPU use while posting (share of one core; one push node is pinned to core "
              "0, two to cores 0 and 1, the load generator to core 1):", ""]
    for r in results:
        lines.append(f"- {r['push']}, {r['scenario']}: " + ", ".join(
            f"{name} {share:.0%}" for name, share in r["cores_busy"].items()))
    lines += [
        "",
        f"- reflektor -> ekg_py in the classroom scenario, enqueue to delivered (its last "
        f"{latency.get('window', 0)} deliveries): p50 {latency.get('p50_ms')} ms, "
        f"p99 {latency.get('p99_ms')} ms.",
    ]
    for r in results:
        if r["scenario"].startswith("1 room") and r["push"].startswith("ekg_py"):
            verdict = "met" if r["all_p99"] < 50 else "not met"
            anchor_name = r["push"].replace("ekg_py", "node-ws")
            anchor = next((a for a in results if a["scenario"] == r["scenario"]
                           and a["push"] == anchor_name), None)
            beside = (f"; {anchor_name} in its place: {anchor['all_p99']:.1f} ms"
                      if anchor else "")
            lines.append(f"- Goal p99 under 50 ms at {args.big:,} clients, {r['push']}: "
                         f"**{verdict}** ({r['all_p99']:.1f} ms{beside}; in the socket: "
                         f"{r['in_socket']['all_p99']:.1f} ms).")
    return "\n".join(lines) + "\n"


def start_push_nodes(procs: common.Processes, push: str, secret: str, count: int,
                     pin: bool) -> list[common.Proc]:
    """`count` push nodes, node i pinned to core i. Several ekg_py nodes are each
    other's --peer (presence across nodes), so their ports are chosen up front."""
    kind, tree = _kind_and_tree(push)
    if kind != "ekg_py":
        return [common.start_node_ws(procs, secret, core=i if pin else None,
                                     name=f"node-ws-{i}") for i in range(count)]
    if count == 1:
        return [common.start_ekg(procs, secret, core=common.SERVER_CORE if pin else None,
                                 tree=tree)]
    ports = [common.free_port() for _ in range(count)]
    return [common.start_ekg(
        procs, secret, core=i if pin else None, name=f"ekg-{i}", tree=tree,
        extra=["--port", str(port), *(arg for other in ports if other != port
                                      for arg in ("--peer", f"http://127.0.0.1:{other}"))])
        for i, port in enumerate(ports)]


# Revision -> its checkout, for push kinds "ekg_py@<rev>": that revision's whole stack
# (tm, reflektor, ekg), as of before a change (--anchor).
ANCHORS: dict[str, Path] = {}


def _kind_and_tree(push: str) -> tuple[str, Path]:
    kind, _, rev = push.partition("@")
    return kind, ANCHORS[rev] if rev else common.ROOT


def run_stack(procs: common.Processes, args: argparse.Namespace, push: str, count: int,
              relay_metrics: dict) -> list[dict]:
    """The scenarios against a fresh stack with `count` push nodes of kind `push`: both
    with one node, the lecture hall alone with several."""
    results: list[dict] = []
    secret = secrets.token_urlsafe(32)
    memcached = common.start_memcached(procs)
    nodes = start_push_nodes(procs, push, secret, count, args.pin)
    _, tree = _kind_and_tree(push)
    relay = common.start_reflektor(procs, [f"http://127.0.0.1:{node.port}" for node in nodes],
                                   tree=tree)
    tm, tm_url = common.start_tm(procs, memcached=memcached, secret=secret,
                                  workers=args.workers,
                                  reflektor_urls=[f"http://127.0.0.1:{relay.port}"], tree=tree)
    # Warm every gunicorn worker up (imports, first queries) before measuring.
    warm = asyncio.run(create_rooms(tm_url, ["e2e-warm-up"]))
    asyncio.run(post_on_schedule(tm_url, warm, [(i * 0.01, "e2e-warm-up")
                                                for i in range(4 * args.workers)]))
    # A room just written is read from the database for 5 s (tm/models.py write guard).
    time.sleep(5.5)
    if args.rooms and count == 1:
        per_room_posts = max(1, int(args.duration / args.every))

        def classroom(names: list[str]) -> list[tuple[float, str]]:
            stagger = args.every / len(names)
            return sorted((k * args.every + i * stagger, name)
                          for k in range(per_room_posts) for i, name in enumerate(names))

        results.append(scenario(
            procs, label=f"{args.rooms} rooms x {args.per_room} clients, a post per room "
                         f"every {args.every:g} s", push=push, nodes=nodes, tm=tm,
            secret=secret, relay=relay,
            tm_url=tm_url, prefix="e2e-room", rooms=args.rooms, per_room=args.per_room,
            schedule_for=classroom, posts_per_room=per_room_posts, pin=args.pin))
        print(f"[e2e] {json.dumps(results[-1])}", flush=True)
        if push == "ekg_py":  # this tree's reflektor
            relay_metrics.update(reflektor_metrics(f"http://127.0.0.1:{relay.admin_port}"))
    if args.big:
        def lecture(names: list[str]) -> list[tuple[float, str]]:
            return [(k * args.big_every, names[0]) for k in range(args.big_posts)]

        results.append(scenario(
            procs, label=f"1 room x {args.big:,} clients, a post every "
                         f"{args.big_every:g} s", push=push, nodes=nodes, tm=tm,
            secret=secret, relay=relay,
            tm_url=tm_url, prefix="e2e-hall", rooms=1, per_room=args.big,
            schedule_for=lecture, posts_per_room=args.big_posts, pin=args.pin))
        print(f"[e2e] {json.dumps(results[-1])}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    # Two sync workers on two cores, as gunicorn.conf.py runs tm: more only contend for
    # the cores (every idle worker wakes for each connection).
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--push", nargs="+", default=["ekg_py", "node-ws"],
                        choices=["ekg_py", "node-ws"], help="push nodes, one stack each")
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2],
                        help="push nodes side by side, one stack each (several: node i on "
                             "core i, the lecture hall only)")
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--per-room", type=int, default=30)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between a room's posts")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--big", type=int, default=5000, help="clients in the big room (0: skip)")
    parser.add_argument("--big-posts", type=int, default=200)
    parser.add_argument("--big-every", type=float, default=0.1)
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="let ekg_py and the clients run on any core")
    parser.add_argument("--time-limit", type=float, default=600)
    parser.add_argument("--anchor", metavar="REV",
                        help="also run the whole stack (tm, reflektor, ekg_py) of this git "
                             "revision, after this tree's: before and after in one run")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    info = common.machine()
    print(f"[e2e] {common.machine_line(info)}", flush=True)
    common.raise_nofile()
    results = []
    relay_metrics: dict = {}
    pushes = list(args.push)
    if args.anchor:
        pushes += [f"{push}@{args.anchor}" for push in args.push if push == "ekg_py"]
    with contextlib.ExitStack() as anchors, common.bench_session(
            "e2e", args.time_limit) as procs:
        if args.anchor:  # kept to the end: the stacks below come and go
            ANCHORS[args.anchor] = anchors.enter_context(common.worktree(args.anchor))
        for count in args.nodes:
            for push in pushes:
                results += run_stack(procs, args, push, count, relay_metrics)
                procs.close()  # this stack's services; the next one gets a fresh stack
    common.print_and_record(report(results, args, info, relay_metrics), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
