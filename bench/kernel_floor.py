"""The floor under the end-to-end figure: how long this machine takes to get one small
frame to 5,000 WebSocket clients when the server does nothing but write it.

    .venv/bin/python -m bench.kernel_floor [--clients 5000] [--rounds 100] [--every 0.1]

Issue 3 asks for p99 under 50 ms from the POST to tm until the event has reached all
5,000 clients of a room, on this 2-core machine, with the clients on it too. Part of
that time is tm, reflektor and the push node taking the event in; the rest is the
fan-out, 5,000 TCP sends on loopback and 5,000 reads by the clients. This benchmark
measures the fan-out alone with the least server there can be: `serve` below accepts
the same clients as bench.e2e (bench/wsclients.py, pinned to core 1, track mode), does
the WebSocket upgrade, and then, every `--every` seconds, writes one prebuilt frame of
an e2e event's size to every socket in a plain loop (`sock.send`, nothing else: no
queue, no ring, no JSON, no asyncio). No push node can fan out faster than this loop on
the same machine with the same clients, so its spread (round start to the last
client's read) plus what comes before the first send in bench.e2e ("first client") is
the least "all clients" latency any push node could show here.

Twice: with one sending process (on core 0, as bench.e2e pins the push node), and with
two (cores 0 and 1, half the sockets each). The clients run as in bench.e2e, one
process on core 1 (other layouts tried by hand, two client processes or the clients at
nice 19, did no better on this machine). Arrival is taken twice: when the kernel put
the frame in the client's socket (its receive timestamp) and when the clients'
process read it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import socket
import sys
import time

from . import common

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B85"
# About the size of an e2e message.created event as ekg sends it.
EVENT_BYTES = 380
CLOCKS = (("kernel", "in the socket"), ("read", "read"))


# -- the server: `python -m bench.kernel_floor serve` ------------------------------------
def upgrade(sock: socket.socket) -> None:
    """Answer one client's WebSocket upgrade (blocking)."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the upgrade")
        request += chunk
    key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())  # noqa: S324 (RFC 6455)
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")


def frame(seq: int) -> bytes:
    """A text frame the clients count as an event of `seq` (bench/wsclients.py)."""
    head = b'{"v":1,"type":"message.created","room":"floor","seq":%d,"data":{"text":"' % seq
    payload = head + b"x" * (EVENT_BYTES - len(head) - 3) + b'"}}'
    return bytes((0x81, 126)) + len(payload).to_bytes(2, "big") + payload


def serve(args: argparse.Namespace) -> int:
    common.raise_nofile()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    print(f"floor server listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    clients = []
    while len(clients) < args.clients:
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as ekg's sockets
        upgrade(sock)
        clients.append(sock)
    print(json.dumps({"event": "accepted", "clients": len(clients)}), flush=True)
    rounds, every = args.rounds, args.every
    frames = [frame(seq) for seq in range(1, rounds + 1)]
    # Sender j (j > 0) is a child on core j with sockets j, j+K, ...; this process is
    # sender 0 on core 0. Children wait on a pipe for each round's go.
    go_pipes = []
    for j in range(1, args.senders):
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            common.pin_self(j)
            mine = clients[j::args.senders]
            for number in range(rounds):
                os.read(read_end, 1)
                data = frames[number]
                for sock in mine:
                    sock.send(data)
            os._exit(0)
        go_pipes.append(write_end)
    common.pin_self(0)
    mine = clients[0::args.senders]
    starts = []
    next_at = time.monotonic() + 0.2
    for number in range(rounds):
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += every
        starts.append(time.monotonic())
        for write_end in go_pipes:
            os.write(write_end, b"g")
        data = frames[number]
        for sock in mine:
            sock.send(data)
    for _ in go_pipes:
        os.wait()
    print(json.dumps({"event": "done", "starts": starts}), flush=True)
    sys.stdin.readline()  # hold the connections until told to go
    return 0


# -- the benchmark ---------------------------------------------------------------------
def next_json(proc: common.Proc, seen: int, timeout: float) -> tuple[dict, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while seen < len(proc.lines):
            line = proc.lines[seen]
            seen += 1
            if line.startswith("{"):
                return json.loads(line), seen
        if proc.process.poll() is not None:
            break
        time.sleep(0.01)
    raise common.BenchError(f"{proc.name}: no answer:\n{proc.log_tail()}")


def run_one(procs: common.Processes, args: argparse.Namespace, senders: int) -> dict:
    server = procs.start(f"floor-{senders}", [
        common.PYTHON, "-m", "bench.kernel_floor", "serve", "--clients", str(args.clients),
        "--rounds", str(args.rounds), "--every", str(args.every), "--senders", str(senders)],
        ready=r"floor server listening on 127\.0\.0\.1:(\d+)", stdin=True)
    loadgen = common.LoadGen(procs, f"clients-{senders}", [
        "--port", str(server.port), "--room-prefix", "floor", "--per-room",
        str(args.clients), "--mode", "track"])
    dump = procs.log_dir / f"arrivals-{senders}.json"
    try:
        connected = loadgen.expect("connected", timeout=120)
        if connected["clients"] != args.clients:
            raise common.BenchError(f"{senders} senders: {connected}")
        _accepted, seen = next_json(server, 0, 30)
        watched = {"server": server.pid, "clients": loadgen.proc.pid}
        cpu0 = {name: common.tree_cpu_seconds(pid) for name, pid in watched.items()}
        done, seen = next_json(server, seen, args.rounds * args.every + 60)
        loadgen.command(f"wait {args.rounds} 20")
        short = loadgen.expect("waited", timeout=30)["short"]
        cpu = {name: common.tree_cpu_seconds(pid) - cpu0[name] for name, pid in watched.items()}
        loadgen.command(f"dump {dump}")
        loadgen.expect("dumped", timeout=60)
    finally:
        loadgen.command("quit")
        procs.stop(loadgen.proc)
        server.process.stdin.write("quit\n")
        server.process.stdin.flush()
        procs.stop(server)
    dumped = {clock: rooms.get("floor", {})
              for clock, rooms in json.loads(dump.read_text()).items()}
    result = {"senders": senders, "rounds": args.rounds, "short": short}
    for clock in ("kernel", "read"):
        arrivals = dumped[clock]
        spread, first, per_delivery = [], [], []
        for seq, start in enumerate(done["starts"], 1):
            times = arrivals.get(str(seq), [])
            per_delivery.extend(t - start for t in times)
            if len(times) == args.clients:
                spread.append(max(times) - start)
                first.append(min(times) - start)
        result[clock] = {
            "complete": len(spread), "all_p50": ms(spread, 50), "all_p99": ms(spread, 99),
            "all_max": ms(spread, 100), "delivery_p50": ms(per_delivery, 50),
            "delivery_p99": ms(per_delivery, 99), "first_p50": ms(first, 50)}
    deliveries = sum(len(times) for times in dumped["read"].values())
    result["server_us"] = cpu["server"] / max(deliveries, 1) * 1e6
    result["clients_us"] = cpu["clients"] / max(deliveries, 1) * 1e6
    return result


def ms(values: list[float], p: float) -> float:
    return common.percentile(values, p) * 1000


def report(results: list[dict], args: argparse.Namespace, info: dict[str, str]) -> str:
    lines = [
        f"## The fan-out floor: a frame to {args.clients:,} clients, nothing else "
        f"({info['date']})",
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_line(info)}  ",
        f"Setup: the bench.e2e clients ({args.clients:,}, one process on core 1, track "
        "mode); a server that only writes one prebuilt "
        f"{EVENT_BYTES}-byte frame to every socket in a plain `sock.send` loop, "
        f"{args.rounds} rounds {args.every:g} s apart; one sending process on core 0, "
        "then two (cores 0 and 1, half the sockets each). Time from the round's start to "
        "each client's arrival.",
        "",
        "| senders | arrival | rounds complete | all clients p50 / p99 / max ms "
        "| per delivery p50 / p99 ms | first client p50 ms | server CPU µs / delivery "
        "| clients CPU µs / delivery |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        for clock, label in CLOCKS:
            c = r[clock]
            lines.append(
                f"| {r['senders']} | {label} | {c['complete']} / {r['rounds']} "
                f"| {c['all_p50']:.1f} / {c['all_p99']:.1f} / {c['all_max']:.1f} "
                f"| {c['delivery_p50']:.1f} / {c['delivery_p99']:.1f} "
                f"| {c['first_p50']:.2f} | {r['server_us']:.2f} | {r['clients_us']:.2f} |")
    lines += [
        "",
        "Arrival \"in the socket\": the kernel's receive timestamp of the client's read "
        "(SO_TIMESTAMPNS); \"read\": when the clients' process got to it, after the reads "
        "of every socket ahead of it in that one process. bench.e2e's \"all clients\" adds "
        "to these everything up to the first send (its \"first client\" column).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.kernel_floor", description=__doc__)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--every", type=float, default=0.1, help="seconds between rounds")
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 2],
                        help="sending processes, on cores 0, 1, ...: one run each")
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    if argv and argv[0] == "serve":
        args = parser.parse_args(argv[1:])
        args.senders = args.senders[0]
        return serve(args)
    args = parser.parse_args(argv)
    info = common.machine()
    print(f"[kernel_floor] {common.machine_line(info)}", flush=True)
    common.raise_nofile()
    results = []
    with common.bench_session("kernel_floor", args.time_limit) as procs:
        for senders in args.senders:
            results.append(run_one(procs, args, senders))
            print(f"[kernel_floor] {json.dumps(results[-1])}", flush=True)
    common.print_and_record(report(results, args, info), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
