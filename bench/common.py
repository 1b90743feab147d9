"""What every benchmark here shares: the machine, processes that are always cleaned
up, CPU time and RSS from /proc, percentiles, and appending figures to BENCHMARKS.md.

Every process a benchmark starts is the leader of its own process group, and
`Processes.close` (run on normal exit, on an exception, on SIGINT/SIGTERM and when the
benchmark's time limit fires) sends SIGTERM to each of those groups by id, then
SIGKILL to what is left: gunicorn's workers go with their master.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from testkit import postgres, tm
from testkit.ports import free_port
from testkit.services import Service, ServiceError

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
NODE_DIR = ROOT / "bench" / "node"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SERVER_CORE = 0
LOAD_CORE = 1
BENCHMARKS_HEADER = """# Benchmarks

Figures from the benchmarks in `bench/` (bench/README.md says what each one measures and
how). Each run appends its own section with the command, the machine and the load
average when it started; compare runs on the same machine, and prefer a quiet one.
"""


class BenchError(RuntimeError):
    pass


# -- the machine ----------------------------------------------------------------------
def _first_match(path: str, pattern: str) -> str:
    try:
        match = re.search(pattern, Path(path).read_text(), re.MULTILINE)
    except OSError:
        return "?"
    return match.group(1).strip() if match else "?"


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "not installed"
    return subprocess.run([node, "--version"], capture_output=True, text=True,
                          timeout=10).stdout.strip()


def ws_version() -> str:
    try:
        return json.loads((NODE_DIR / "node_modules" / "ws" / "package.json").read_text())[
            "version"]
    except (OSError, ValueError, KeyError):
        return "not installed"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> dict[str, str]:
    mem_kib = int(_first_match("/proc/meminfo", r"^MemTotal:\s+(\d+)") or 0)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": _first_match("/proc/cpuinfo", r"^model name\s*:\s*(.+)$"),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node_version(),
        "load average at start": load_average(),
    }


def machine_line(info: dict[str, str]) -> str:
    return (f"{info['date']}; {info['nproc']} cores ({info['cpu']}), {info['memory']}, "
            f"Linux {info['kernel']}, Python {info['python']}, Node {info['node']}; "
            f"load average at start {info['load average at start']}")


# -- /proc --------------------------------------------------------------------------
def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (all its threads), /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # utime, stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    return sum(cpu_times(pid))


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (gunicorn's master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for member in descendants(pid):
        try:
            total += cpu_seconds(member)
        except OSError:
            pass  # exited meanwhile
    return total


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def raise_nofile() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (20,000 on the bench machines)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pin_self(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def taskset(core: int | None, args: Sequence[str]) -> list[str]:
    if core is None or shutil.which("taskset") is None or core >= (os.cpu_count() or 1):
        return list(args)
    return ["taskset", "-c", str(core), *args]


# -- statistics -----------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between closest ranks; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# -- processes ------------------------------------------------------------------------
# A started process: testkit's Service (its log, its announced ports, its pid).
Proc = Service


class Processes:
    """Starts processes in their own process groups and always stops them."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[Service] = []
        self.cleanups: list[Callable[[], None]] = []  # run by close(), last first

    def start(self, name: str, args: Sequence[str], *, env: dict[str, str] | None = None,
              ready: str | None = None, timeout: float = 30.0, stdin: bool = False,
              cwd: Path = ROOT) -> Service:
        """Start `args`; with `ready` (a regex whose groups are the port and maybe an
        admin port), wait for that line. stdout+stderr go to <log_dir>/<name>.log."""
        service = Service(name, args, self.log_dir, env, ready=ready, ready_timeout=timeout,
                          cwd=cwd, stdin=stdin, preexec=raise_nofile)
        self.procs.append(service)
        try:
            return service.start()
        except ServiceError as error:
            raise BenchError(str(error)) from None

    def stop(self, proc: Service, timeout: float = 10.0) -> None:
        proc.stop(timeout)

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()
        while self.cleanups:
            self.cleanups.pop()()


class _TimeLimit(BaseException):
    pass


@contextlib.contextmanager
def bench_session(name: str, time_limit: float) -> Iterator[Processes]:
    """Processes that are stopped however the block ends, a log directory, and a hard
    time limit (SIGALRM) so a stuck benchmark cannot run on."""
    log_dir = Path(tempfile.mkdtemp(prefix=f"tm-bench-{name}-"))
    procs = Processes(log_dir)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def on_alarm(_signum, _frame):
        raise _TimeLimit(f"{name}: over its time limit of {time_limit:.0f} s")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(time_limit))
    print(f"[{name}] logs in {log_dir}", flush=True)
    try:
        yield procs
    except _TimeLimit as error:
        raise BenchError(str(error)) from None
    finally:
        signal.alarm(0)
        procs.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# -- services -------------------------------------------------------------------------
def start_memcached(procs: Processes) -> str:
    binary = shutil.which("memcached")
    if binary is None:
        raise BenchError("memcached is not installed (apt-get install memcached)")
    port = free_port()
    args = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", "-c", "4096"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]  # memcached refuses to run as root
    procs.start("memcached", args)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError("memcached did not open its port") from None
            time.sleep(0.05)


def postgres_version() -> str:
    binaries = postgres.bindir()
    if binaries is None:
        return "(not installed)"
    answer = subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True,
                            text=True, timeout=10)
    return answer.stdout.strip().split(" ", 2)[-1] if answer.returncode == 0 else "?"


def start_postgres(procs: Processes) -> dict[str, str]:
    """A throwaway PostgreSQL cluster on a free loopback port, as production runs it
    (fsync on), stopped and removed with `procs`; returns tm's TM_DB_* settings."""
    try:
        cluster = postgres.start_cluster(procs.log_dir / "postgres.log")
    except RuntimeError as error:
        raise BenchError(str(error)) from None
    procs.cleanups.append(cluster.stop)
    return cluster.env


def _add_worktree(tree: Path, rev: str) -> None:
    added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                            rev], capture_output=True, text=True)
    if added.returncode != 0:
        raise BenchError(f"git worktree add {rev}: {added.stderr.strip()}")


def _remove_worktree(tree: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                   capture_output=True)


def anchor_tree(procs: Processes, rev: str) -> Path:
    """A checkout of this repository at `rev` (a git worktree, removed with `procs`), to
    run an earlier version of a service beside this one in the same run."""
    tree = procs.log_dir / f"anchor-{rev}"
    _add_worktree(tree, rev)
    procs.cleanups.append(lambda: _remove_worktree(tree))
    return tree


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """`anchor_tree` for a benchmark whose sessions come and go: removed on leaving."""
    tree = Path(tempfile.mkdtemp(prefix=f"tm-bench-anchor-{rev}-")) / "tree"
    _add_worktree(tree, rev)
    try:
        yield tree
    finally:
        _remove_worktree(tree)


def start_ekg(procs: Processes, secret: str, core: int | None = SERVER_CORE,
              extra: Sequence[str] = (), name: str = "ekg", tree: Path = ROOT) -> Proc:
    """An ekg_py node; `tree`: the checkout whose ekg_py (and contract) it runs."""
    return procs.start(
        name, taskset(core, [PYTHON, "-m", "ekg_py", "--port", "0",
                              "--allowed-origin", "http://127.0.0.1", "--log-level",
                              "WARNING", *extra]),
        env={"TM_INTERNAL_SECRET": secret}, ready=r"ekg listening on 127\.0\.0\.1:(\d+)",
        cwd=tree)


def start_node_ws(procs: Processes, secret: str, core: int | None = SERVER_CORE,
                  name: str = "node-ws") -> Proc:
    if not (NODE_DIR / "node_modules" / "ws").exists():
        raise BenchError("bench/node has no node_modules: run `npm install` in bench/node "
                         "(or `make bench`, which does)")
    return procs.start(
        name, taskset(core, ["node", str(NODE_DIR / "broadcast.js"), "--port", "0"]),
        env={"TM_INTERNAL_SECRET": secret}, ready=r"node-ws listening on 127\.0\.0\.1:(\d+)")


def start_reflektor(procs: Processes, targets: Sequence[str],
                    core: int | None = None, tree: Path = ROOT) -> Proc:
    args = [PYTHON, "-m", "reflektor", "--port", "0", "--admin-port", "0"]
    for target in targets:
        args += ["--target", target]
    return procs.start("reflektor", taskset(core, args), cwd=tree,
                       ready=r"reflektor listening on 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)")


UNLIMITED_RATES = {
    "TM_RATE_POST_PER_PARTICIPANT": "100000/s",
    "TM_RATE_POST_PER_CLIENT": "100000/s",
    "TM_RATE_JOIN_PER_CLIENT": "100000/s",
    "TM_RATE_JOIN_PER_ROOM": "100000/s",
    "TM_RATE_CREATE_ROOM_PER_CLIENT": "100000/s",
}


def start_tm(procs: Processes, *, memcached: str, secret: str, workers: int,
             reflektor_urls: Sequence[str] = (), core: int | None = None,
             database: dict[str, str] | None = None,
             tree: Path = ROOT) -> tuple[Proc, str]:
    """tm under gunicorn (testkit/tm.py: sync workers, settings.test, a fresh SQLite file
    or the `database` of start_postgres), as the tests start it, with the rate limits
    lifted; `tree`: the checkout whose tm it runs."""
    db_path = procs.log_dir / f"tm-{secrets.token_hex(3)}.sqlite3"
    env = tm.environment(db_path, {
        **(database or {}),
        "TM_MEMCACHED": memcached,
        "TM_CACHE_PREFIX": "bench-" + secrets.token_hex(4),
        "TM_INTERNAL_SECRET": secret,
        "TM_REFLEKTOR_URLS": ",".join(reflektor_urls),
        **UNLIMITED_RATES,
    })
    log_dir = procs.log_dir / f"tm-{secrets.token_hex(3)}"
    log_dir.mkdir()
    try:
        server = tm.start(log_dir, env, workers=workers, tree=tree,
                          wrap=taskset(core, []), preexec=raise_nofile)
    except ServiceError as error:
        raise BenchError(str(error)) from None
    procs.procs.append(server)
    return server, server.url


# -- the load generator (bench/wsclients.py) -----------------------------------------
class LoadGen:
    """Drives a bench/wsclients.py process over its stdin/stdout (JSON lines)."""

    def __init__(self, procs: Processes, name: str, args: Sequence[str],
                 core: int | None = LOAD_CORE, secret: str | None = None):
        # With the push node's secret the clients sign their own follow tickets.
        self.proc = procs.start(name, taskset(core, [PYTHON, "-m", "bench.wsclients",
                                                     *args]), stdin=True,
                                env={"TM_INTERNAL_SECRET": secret} if secret else None)
        self._seen = 0

    def _next(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            while self._seen < len(self.proc.lines):
                line = self.proc.lines[self._seen]
                self._seen += 1
                if line.startswith("{"):
                    return json.loads(line)
            if self.proc.process.poll() is not None and self._seen >= len(self.proc.lines):
                raise BenchError(f"{self.proc.name} exited:\n{self.proc.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.proc.name}: no answer in {timeout:.0f} s:\n"
                                 f"{self.proc.log_tail()}")
            time.sleep(0.005)

    def expect(self, event: str, timeout: float) -> dict:
        message = self._next(timeout)
        if message.get("event") != event:
            raise BenchError(f"{self.proc.name}: expected {event!r}, got {message}")
        return message

    def command(self, line: str) -> None:
        assert self.proc.process.stdin is not None
        self.proc.process.stdin.write(line + "\n")
        self.proc.process.stdin.flush()


# -- BENCHMARKS.md --------------------------------------------------------------------
def append_section(markdown: str) -> None:
    """Append one section to BENCHMARKS.md (created with a header if missing), under
    an exclusive lock and re-reading the file first: another benchmark may be writing
    its own section at the same time."""
    with open(BENCHMARKS_MD, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            current = handle.read()
            if not current.strip():
                prefix = BENCHMARKS_HEADER + "\n"
            else:  # exactly one blank line between sections
                prefix = "\n" * (2 - (len(current) - len(current.rstrip("\n"))))
            handle.write(prefix + markdown.strip("\n") + "\n")
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    print(f"appended to {BENCHMARKS_MD}", flush=True)


def print_and_record(text: str, *, write: bool) -> None:
    """A benchmark's report: printed, and appended to BENCHMARKS.md unless --no-write."""
    print(text)
    if write:
        append_section(text)


def command_line() -> str:
    """How this benchmark was run, for its section in BENCHMARKS.md."""
    return " ".join([f".venv/bin/python -m bench.{Path(sys.argv[0]).stem}", *sys.argv[1:]])
