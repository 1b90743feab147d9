"""Range scans: what the bounds mean, and bodies streamed straight off a plyvel iterator.

Bounds are byte strings: `start` is inclusive, `stop` exclusive, `prefix` selects the
keys that begin with it (and cannot be combined with start or stop). `reverse` only
changes the order; start and stop stay the lower and upper bound. A range whose start
sorts after its stop is refused with 400 (`reversed_range`): it is almost always a client
that swapped its bounds to get descending order, and an empty answer would hide that.
start == stop is simply empty.

A scan's iterator is opened before the response starts, so it reads one consistent
snapshot (LevelDB iterators do) taken when the request arrived, and so a failure to open
it is still an ordinary error response. The body then pulls items as the server sends
them, in chunks of about CHUNK_BYTES, so a range of any size never sits whole in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import plyvel

from flatdb.errors import ApiError, json_body

CHUNK_BYTES = 64 * 1024

Pair = tuple[bytes, bytes]


@dataclass(frozen=True)
class RangeSpec:
    start: bytes | None = None
    stop: bytes | None = None
    prefix: bytes | None = None
    limit: int | None = None
    reverse: bool = False

    def __post_init__(self) -> None:
        if self.prefix is not None and (self.start is not None or self.stop is not None):
            raise ApiError(400, "bad_range", "prefix cannot be combined with start or stop")
        if self.start is not None and self.stop is not None and self.start > self.stop:
            raise ApiError(400, "reversed_range",
                           "start sorts after stop; use reverse=true for descending order")
        if self.limit is not None and self.limit < 1:
            raise ApiError(400, "bad_range", "limit must be a positive integer")


def parse_limit(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, "bad_range", "limit must be a positive integer") from None


def parse_flag(text: str | None, name: str) -> bool:
    if text is None:
        return False
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on", ""):
        return True  # a bare `?reverse` means yes
    if value in ("0", "false", "no", "off"):
        return False
    raise ApiError(400, "bad_request", f"{name} must be true or false")


class Scan:
    """An open iterator over one range, closed once it is spent or the response closes."""

    def __init__(self, db: plyvel.DB, spec: RangeSpec):
        self._iterator = db.iterator(start=spec.start, stop=spec.stop, prefix=spec.prefix,
                                     reverse=spec.reverse, include_start=True,
                                     include_stop=False)
        self._pairs: Iterator[Pair] = (
            itertools.islice(self._iterator, spec.limit) if spec.limit else self._iterator)
        self._first: Pair | None = None

    def has_items(self) -> bool:
        """Peek: is there at least one item? (The 0.1 getrange answers 404 when not.)"""
        if self._first is None:
            self._first = next(self._pairs, None)
        return self._first is not None

    def __iter__(self) -> Iterator[Pair]:
        try:
            if self._first is not None:
                yield self._first
            yield from self._pairs
        finally:
            self.close()

    def close(self) -> None:
        self._iterator.close()


class StreamBody:
    """A WSGI response body over a Scan. The server calls close() (PEP 3333) even when it
    never iterated (a HEAD request, a client gone), and that releases the iterator."""

    def __init__(self, scan: Scan, chunks: Iterator[bytes]):
        self._scan = scan
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self._scan.close()


def _chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Join small pieces into chunks of about CHUNK_BYTES: one write per item is slow."""
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def json_array(scan: Scan, render: Callable[[bytes, bytes], object]) -> StreamBody:
    """`[item,item,...]`, one rendered item per pair."""

    def pieces() -> Iterator[bytes]:
        yield b"["
        for n, (key, value) in enumerate(scan):
            yield (b"," if n else b"") + json_body(render(key, value))
        yield b"]\n"

    return StreamBody(scan, _chunked(pieces()))


def ndjson(scan: Scan, render: Callable[[bytes, bytes], object]) -> StreamBody:
    """One JSON item per line (application/x-ndjson)."""
    pieces = (json_body(render(key, value)) + b"\n" for key, value in scan)
    return StreamBody(scan, _chunked(pieces))


def json_object(scan: Scan, render: Callable[[bytes, bytes], tuple[str, str]]) -> StreamBody:
    """`{"key":"value",...}`: the 0.1 getrange shape (LevelDB keys are unique)."""

    def pieces() -> Iterator[bytes]:
        yield b"{"
        for n, (key, value) in enumerate(scan):
            name, text = render(key, value)
            yield (b"," if n else b"") + json_body(name) + b":" + json_body(text)
        yield b"}\n"

    return StreamBody(scan, _chunked(pieces()))
