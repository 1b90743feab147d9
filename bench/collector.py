"""How many messages a second the sotu collector analyses, and its CPU per message.

    .venv/bin/python bench/collector.py [--messages 20000] [--no-append]

Two measurements (the target is 2,000 messages a second on one core):

1. The pure analysis path, in this process: tokenize, stem, filter, AFINN-score and
   count (`Analyzer.analyse` + `Tally.add` for two scopes), over synthetic chat
   messages; CPU time from `time.process_time`.
2. Over HTTP, as reflektor delivers: `python -m sotu.collector` pinned to core 0
   (`taskset -c 0`), two flatdb processes and this load generator on core 1, signed
   POSTs of message.created events. Once with one request in flight (one reflektor
   delivers in order, one at a time) and once with 8 (several tm hosts' reflektors).
   The collector's CPU comes from /proc/<pid>/stat (user + system), so a load
   generator that caps the rate does not hide the server's cost. At the end the
   collector is stopped with SIGTERM and the ticks in tickdb are summed: every
   message sent must have been counted.

Prints the figures and appends a section to BENCHMARKS.md (re-read under a lock first:
other benchmarks append their own sections there).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/collector.py` runs from bench/

import aiohttp  # noqa: E402
import requests  # noqa: E402

from contract import events, signing  # noqa: E402
from sotu.analysis import Analyzer  # noqa: E402
from sotu.buckets import Tally  # noqa: E402
from sotu.sentiment import load_lexicon  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
BENCHMARKS_HEADER = """# Benchmarks

Figures from the benchmarks in `bench/` (bench/README.md says what each one measures and
how). Each run appends its own section with the command, the machine and the load
average when it started; compare runs on the same machine, and prefer a quiet one.
"""
SECRET = secrets.token_hex(16)  # this run's shared secret between generator and collector
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE, LOAD_CORE = 0, 1
TIME_LIMIT = 240.0  # the whole run; every loop below is bounded by count and by time

COMMON = ("the president said we will cut taxes and build a stronger economy for all "
          "americans jobs border healthcare education climate energy inflation wages "
          "families veterans schools police congress bill vote democracy freedom").split()
CHAT = "lol yeah ok wow omg this is so true not really agree disagree haha".split()


# -- the machine and /proc ---------------------------------------------------------------
def _first(path: str, pattern: str) -> str:
    try:
        match = re.search(pattern, Path(path).read_text(), re.MULTILINE)
    except OSError:
        return "?"
    return match.group(1).strip() if match else "?"


def machine_line() -> str:
    cpu = _first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({cpu}), "
            f"Linux {platform.release()}, Python {platform.python_version()}; "
            f"load average at start {load}")


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def taskset(core: int, args: list[str]) -> list[str]:
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(core), *args]
    return args


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


# -- processes -----------------------------------------------------------------------------
class Process:
    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict | None = None):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # closed in stop()
        self.popen = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log,
                                      env={**os.environ, **(env or {})}, text=True,
                                      start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                self.url = f"http://127.0.0.1:{match.group(1)}"
                return
            if not line and self.popen.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{name} did not start: {self.log_path.read_text()[-2000:]}")

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        if self.popen.stdout:
            self.popen.stdout.close()
        self.log.close()
        return self.popen.returncode


# -- over HTTP ------------------------------------------------------------------------------
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


def bench_http(messages: list[str], log_dir: Path, deadline: float) -> list[dict]:
    flatdb = [Process(name, taskset(LOAD_CORE, [PYTHON, "-m", "flatdb", "--port", "0",
                                                "--database", str(log_dir / name)]), log_dir)
              for name in ("clouddb", "tickdb")]
    results = []
    try:
        seq = 1
        for concurrency in (1, 8):
            collector = Process(f"collector-c{concurrency}", taskset(SERVER_CORE, [
                PYTHON, "-m", "sotu.collector", "--port", "0", "--clouddb", flatdb[0].url,
                "--tickdb", flatdb[1].url, "--log-level", "WARNING"]), log_dir,
                env={"TM_INTERNAL_SECRET": SECRET})
            try:
                before_ticks = ticks_total(flatdb[1].url, "event:sotu")
                warm = signed_requests(messages[:1000], rooms=20, first_seq=seq)
                seq += len(warm)
                asyncio.run(deliver(collector.url, warm, concurrency, deadline))
                prepared = signed_requests(messages, rooms=20, first_seq=seq)
                seq += len(prepared)
                cpu_before = cpu_seconds(collector.pid)
                sent, seconds = asyncio.run(deliver(collector.url, prepared, concurrency,
                                                    deadline))
                cpu = cpu_seconds(collector.pid) - cpu_before
            finally:
                code = collector.stop()
            counted = ticks_total(flatdb[1].url, "event:sotu") - before_ticks
            results.append({"concurrency": concurrency, "sent": sent, "seconds": seconds,
                            "rate": sent / seconds, "cpu_us": cpu / sent * 1e6,
                            "cpu_rate": sent / cpu if cpu else float("inf"),
                            "counted": counted - len(warm), "exit": code})
    finally:
        for process in flatdb:
            process.stop()
    return results


def report(args: argparse.Namespace, pure: dict, http: list[dict]) -> str:
    lines = [
        "## sotu collector: messages analysed per second",
        "",
        f"Command: `.venv/bin/python bench/collector.py --messages {args.messages}`  ",
        f"Machine: {machine_line()}",
        "",
        "| path | messages/s | CPU per message |",
        "| --- | ---: | ---: |",
        f"| pure analysis (tokenize, stem, filter, AFINN), in process | "
        f"{1e6 / pure['analyse_us']:,.0f} | {pure['analyse_us']:.1f} µs |",
        f"| pure analysis + counting for 2 scopes, in process | {pure['rate']:,.0f} | "
        f"{pure['total_us']:.1f} µs |",
    ]
    for row in http:
        lines.append(
            f"| HTTP, signed POSTs, {row['concurrency']} in flight, collector on 1 core | "
            f"{row['rate']:,.0f} (CPU-bound limit {row['cpu_rate']:,.0f}) | "
            f"{row['cpu_us']:.0f} µs |")
    lines += [
        "",
        "HTTP rows: wall-clock rate as delivered by the load generator (one Python "
        "process on the other core), and the collector's own CPU per message from "
        "/proc/<pid>/stat; \"CPU-bound limit\" is 1 / CPU per message, the rate one "
        "saturated core would reach. Every message sent was counted: "
        + ", ".join(f"{row['counted']}/{row['sent']} (exit {row['exit']})" for row in http)
        + ".",
    ]
    return "\n".join(lines) + "\n"


def append_section(markdown: str) -> None:
    """Append under an exclusive lock, re-reading the file first."""
    with open(BENCHMARKS_MD, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            current = handle.read()
            prefix = ""
            if not current.strip():
                prefix = BENCHMARKS_HEADER
            elif not current.endswith("\n\n"):
                prefix = "\n" if current.endswith("\n") else "\n\n"
            handle.write(prefix + "\n" + markdown.rstrip() + "\n")
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000,
                        help="messages per measurement (at most 100,000)")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    args.messages = max(1000, min(args.messages, 100_000))
    deadline = time.monotonic() + TIME_LIMIT
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {LOAD_CORE})
    messages = make_messages(args.messages)
    pure = bench_pure(messages)
    print(f"pure: analyse {pure['analyse_us']:.1f} µs/msg; analyse+count "
          f"{pure['total_us']:.1f} µs/msg = {pure['rate']:,.0f} msg/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        http = bench_http(messages, Path(tmp), deadline)
    for row in http:
        print(f"http c={row['concurrency']}: {row['rate']:,.0f} msg/s wall, "
              f"collector CPU {row['cpu_us']:.0f} µs/msg (limit {row['cpu_rate']:,.0f}/s), "
              f"counted {row['counted']}/{row['sent']}, exit {row['exit']}", flush=True)
    markdown = report(args, pure, http)
    print(markdown)
    if not args.no_append:
        append_section(markdown)
        print(f"appended to {BENCHMARKS_MD}")
    ok = all(row["counted"] == row["sent"] and row["exit"] == 0 for row in http)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
