"""The load generator: thousands of WebSocket clients in one asyncio process.

Each client is a bare non-blocking socket read from the event loop's selector
(`loop.add_reader`) that speaks just enough RFC 6455 for a receiver: the upgrade
request, unmasked server frames parsed in place, pongs (masked, as a client must) for
the server's pings. No per-frame objects, no JSON parsing on the counting path: the
point is to spend less CPU per delivered message than the server under test, so that
the server, not this process, sets the pace. Most of what it does spend (about 80%)
is the kernel's TCP receive path, which no client can skip. Run pinned to its own
core (bench/common.py starts it with `taskset -c 1`).

    python -m bench.wsclients --port P --room-prefix bench --room-count 1 --per-room 5000 \
        --mode count|track|idle

It prints JSON lines on stdout (its logs go to stderr) and reads commands on stdin:

    {"event": "connected", ...}        once every client has connected (or failed to)
    wait <n> <timeout>  -> {"event": "waited", ...}  when every client has n events
    dump <path>         -> {"event": "dumped", ...}  track mode: arrivals as JSON
    stats               -> {"event": "stats", ...}
    quit                   closes every connection and exits

Modes: `count` counts event frames (`{"v":...`) per client; `track` also notes when
each (room, seq) arrived at each client, twice: when this process read it ("read",
time.monotonic, comparable across processes on one machine) and when the kernel put
it in the client's socket ("kernel": the SO_TIMESTAMPNS receive timestamp of the read,
moved onto the monotonic clock). With thousands of clients in one process the two
differ by this process's own queueing: a read waits for the reads of every socket
before it, where 5,000 browsers would each read their own at once. `idle` only holds
the connections open.

`--port` may be given several times (several push nodes behind a load balancer): the
clients of each room are spread over the ports in turn.

`--transport sse` follows the rooms over Server-Sent Events (GET /sse/<room>) instead:
the HTTP/1.1 chunked body is unframed in place, and each `data: {"v"...` line counts as
an event, as a frame does over WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import socket
import struct
import sys
import time
from collections import defaultdict

from testkit.rawstream import open_stream

SEQ_RE = re.compile(rb'"seq":(\d+)')
EVENT_PREFIX = b'{"v"'
SSE_EVENT_PREFIX = b'data: {"v"'
LINGER_RESET = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT pile-up between runs
# Under glibc's mmap threshold (128 KiB): a bigger recv() buffer costs mmap + mremap +
# munmap per read, three syscalls more than the recv itself.
RECV_SIZE = 64 * 1024
# Kernel receive timestamps (socket(7)); CPython has no name for it. On a TCP socket the
# timestamp is that of the last segment the read took in.
SO_TIMESTAMPNS = 35
TIMESTAMP_CMSG_SPACE = socket.CMSG_SPACE(16)  # struct timespec


def room_names(prefix: str, count: int) -> list[str]:
    return [prefix] if count == 1 else [f"{prefix}-{i:03d}" for i in range(count)]


class Shared:
    """What all clients of this process add up."""

    def __init__(self, mode: str):
        self.mode = mode
        self.open = 0
        self.closed = 0
        self.frames = 0
        self.events = 0
        self.pings = 0
        self.first: float | None = None
        self.last: float | None = None
        self.expected = 1 << 62
        self.short = 0  # clients still below `expected`
        self.all_in = asyncio.Event()
        # track mode: room -> seq -> arrival times, read by this process and in the
        # socket by the kernel's clock
        self.arrivals: dict[str, dict[int, list[float]]] = defaultdict(
            lambda: defaultdict(list))
        self.kernel_arrivals: dict[str, dict[int, list[float]]] = defaultdict(
            lambda: defaultdict(list))
        # CLOCK_REALTIME - CLOCK_MONOTONIC, to put kernel timestamps on time.monotonic()
        self.realtime_offset = time.time_ns() - time.monotonic_ns()


class Client:
    """One WebSocket client on a bare non-blocking socket. Once upgraded, the event
    loop calls `on_readable` straight from its selector (loop.add_reader): no
    transport, no protocol object in between, one recv per wake-up."""

    __slots__ = ("shared", "sock", "buf", "count", "arrivals", "kernel_arrivals",
                 "kernel_time", "open", "feed")

    def __init__(self, shared: Shared, sock: socket.socket, room: str | None,
                 transport: str = "ws", chunked: bool = False):
        self.shared = shared
        self.sock = sock
        self.feed = (self.feed_ws if transport == "ws"
                     else self.feed_sse_chunked if chunked else self.feed_sse)
        self.buf = b""
        self.count = 0
        self.arrivals = shared.arrivals[room] if room is not None else None
        self.kernel_arrivals = shared.kernel_arrivals[room] if room is not None else None
        self.kernel_time = 0.0  # track mode: the kernel's timestamp of the last read
        self.open = True
        if room is not None:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def on_readable(self) -> None:
        try:
            if self.arrivals is None:
                data = self.sock.recv(RECV_SIZE)
            else:
                data, ancillary, _flags, _address = self.sock.recvmsg(
                    RECV_SIZE, TIMESTAMP_CMSG_SPACE)
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = struct.unpack("qq", value)
                        self.kernel_time = (seconds * 1_000_000_000 + nanoseconds
                                            - self.shared.realtime_offset) / 1e9
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self.feed(data)
        else:
            self.close()

    def close(self) -> None:
        if self.open:
            self.open = False
            self.shared.open -= 1
            self.shared.closed += 1
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()

    def feed_ws(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
            self.buf = b""
        shared = self.shared
        n = len(data)
        i = 0
        events = 0
        frames = 0
        while n - i >= 2:
            length = data[i + 1] & 0x7F  # server frames are not masked
            if length < 126:
                start = i + 2
            elif length == 126:
                if n - i < 4:
                    break
                length = int.from_bytes(data[i + 2:i + 4], "big")
                start = i + 4
            else:
                if n - i < 10:
                    break
                length = int.from_bytes(data[i + 2:i + 10], "big")
                start = i + 10
            end = start + length
            if end > n:
                break
            opcode = data[i] & 0x0F
            frames += 1
            if opcode == 1:
                if data.startswith(EVENT_PREFIX, start):
                    events += 1
                    if self.arrivals is not None:
                        match = SEQ_RE.search(data, start, end)
                        if match:
                            seq = int(match.group(1))
                            self.arrivals[seq].append(time.monotonic())
                            self.kernel_arrivals[seq].append(self.kernel_time)
            elif opcode == 9:  # ping: pong with the same payload, masked (zero key)
                shared.pings += 1
                with contextlib.suppress(OSError):
                    self.sock.send(bytes((0x8A, 0x80 | length)) + b"\0\0\0\0"
                                   + data[start:end])
            elif opcode == 8:
                self.close()
                return
            i = end
        if i < n:
            self.buf = data[i:]
        shared.frames += frames
        if events:
            self.counted(events)


    def feed_sse_chunked(self, data: bytes) -> None:
        """Unframe an HTTP/1.1 chunked body, then read the SSE events in it."""
        if self.buf:
            data = self.buf + data
            self.buf = b""
        n = len(data)
        i = 0
        payload = []
        while True:
            line_end = data.find(b"\r\n", i)
            if line_end < 0:
                break
            size = int(data[i:line_end].split(b";", 1)[0], 16)
            end = line_end + 2 + size + 2
            if end > n:
                break
            if size == 0:  # the last chunk: the stream is over
                self.close()
                return
            payload.append(data[line_end + 2:end - 2])
            i = end
        if i < n:
            self.buf = data[i:]
        if payload:
            self.count_sse(b"".join(payload))

    def feed_sse(self, data: bytes) -> None:
        """An SSE body without chunked framing (HTTP/1.0): whole events end in a
        blank line."""
        if self.buf:
            data = self.buf + data
        cut = data.rfind(b"\n\n") + 2
        self.buf = data[cut:]
        if cut > 1:
            self.count_sse(data[:cut])

    def count_sse(self, text: bytes) -> None:
        events = 0
        for line in text.split(b"\n"):
            if line.startswith(SSE_EVENT_PREFIX):
                events += 1
                if self.arrivals is not None:
                    match = SEQ_RE.search(line)
                    if match:
                        seq = int(match.group(1))
                        self.arrivals[seq].append(time.monotonic())
                        self.kernel_arrivals[seq].append(self.kernel_time)
        self.shared.frames += 1
        if events:
            self.counted(events)

    def counted(self, events: int) -> None:
        """`events` more events arrived for this client."""
        shared = self.shared
        now = time.monotonic()
        if shared.first is None:
            shared.first = now
        shared.last = now
        shared.events += events
        before = self.count
        self.count = before + events
        if before < shared.expected <= self.count:
            shared.short -= 1
            if shared.short <= 0:
                shared.all_in.set()


def stream_path(kind: str, room: str) -> str:
    """The path a page opens: with a follow ticket for the room when the push node's
    secret is in the environment (ekg needs one; the Node anchor ignores it). The
    incarnation is 0: these rooms were never deleted."""
    secret = os.environ.get("TM_INTERNAL_SECRET")
    if not secret:
        return f"/{kind}/{room}"
    from contract import signing  # the tm checkout is this process's working directory

    ticket = signing.follow_ticket(secret, room, 0, "student", ttl=24 * 3600)
    return f"/{kind}/{room}?ticket={ticket}"


async def open_client(shared: Shared, port: int, room: str, transport: str = "ws") -> Client:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        head, rest = await open_stream(sock, stream_path(transport, room), port, transport)
        chunked = b"transfer-encoding: chunked" in head.lower()
    except BaseException:
        sock.close()
        raise
    client = Client(shared, sock, room if shared.mode == "track" else None, transport,
                    chunked)
    shared.open += 1
    loop.add_reader(sock.fileno(), client.on_readable)
    if rest:
        client.feed(rest)
    return client


async def connect_all(shared: Shared, args: argparse.Namespace) -> list[Client]:
    rooms = room_names(args.room_prefix, args.room_count)
    gate = asyncio.Semaphore(args.concurrency)
    clients: list[Client] = []
    failures: list[str] = []

    async def one(room: str, port: int) -> None:
        for attempt in range(3):
            async with gate:
                try:
                    clients.append(await asyncio.wait_for(
                        open_client(shared, port, room, args.transport), 10))
                    return
                except (OSError, TimeoutError) as error:
                    if attempt == 2:
                        failures.append(repr(error))
            await asyncio.sleep(0.05 * (attempt + 1))

    started = time.monotonic()
    await asyncio.gather(*(one(room, args.port[i % len(args.port)])
                           for room in rooms for i in range(args.per_room)))
    emit({"event": "connected", "clients": len(clients), "failed": len(failures),
          "errors": sorted(set(failures))[:5], "seconds": round(time.monotonic() - started, 2)})
    return clients


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve_commands(shared: Shared, clients: list[Client]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "quit":
            return
        word, *rest = line.split()
        if word == "wait":
            expected, timeout = int(rest[0]), float(rest[1])
            shared.expected = expected
            shared.short = sum(1 for client in clients if client.count < expected)
            shared.all_in.clear()
            if shared.short <= 0:
                shared.all_in.set()
            try:
                await asyncio.wait_for(shared.all_in.wait(), timeout)
                complete = True
            except TimeoutError:
                complete = False
            counts = [client.count for client in clients]
            emit({"event": "waited", "complete": complete, "events": shared.events,
                  "short": sum(1 for c in counts if c < expected),
                  "min": min(counts, default=0), "max": max(counts, default=0),
                  "first": shared.first, "last": shared.last, "open": shared.open,
                  "closed": shared.closed, "pings": shared.pings})
        elif word == "dump":
            with open(rest[0], "w") as handle:
                json.dump({clock: {room: {str(seq): times for seq, times in seqs.items()}
                                   for room, seqs in arrivals.items()}
                           for clock, arrivals in (("read", shared.arrivals),
                                                   ("kernel", shared.kernel_arrivals))},
                          handle)
            emit({"event": "dumped", "events": shared.events, "open": shared.open,
                  "closed": shared.closed})
        elif word == "stats":
            emit({"event": "stats", "open": shared.open, "closed": shared.closed,
                  "frames": shared.frames, "events": shared.events, "pings": shared.pings})
        else:
            emit({"event": "error", "message": f"unknown command {line!r}"})


async def main_async(args: argparse.Namespace) -> None:
    shared = Shared(args.mode)
    clients = await connect_all(shared, args)
    # Thousands of long-lived objects: keep the cyclic GC from walking them mid-run.
    gc.collect()
    gc.freeze()
    try:
        await serve_commands(shared, clients)
    finally:
        for client in clients:
            client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wsclients")
    parser.add_argument("--port", type=int, action="append", required=True,
                        help="a push node's port; several: clients spread over them")
    parser.add_argument("--room-prefix", default="bench")
    parser.add_argument("--room-count", type=int, default=1)
    parser.add_argument("--per-room", type=int, default=1000)
    parser.add_argument("--mode", choices=("count", "track", "idle"), default="count")
    parser.add_argument("--transport", choices=("ws", "sse"), default="ws")
    parser.add_argument("--concurrency", type=int, default=200,
                        help="connections being opened at once")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
