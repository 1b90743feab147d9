"""How a push node's messages go on the wire: WebSocket text frames, Server-Sent Events,
and SSE in HTTP/1.1 chunks. Each form of a message is built the first time a
connection needs it and kept in the message's `wire` cache (outgoing.Encoded), so every
connection of a room writes the same bytes; a connection's whole queue goes out as one
write (`ws_frames`, `sse_chunks`, `sse_bare`: the hot path, plain functions).
"""

from __future__ import annotations

import struct

from .outgoing import Encoded

# Keys of Encoded.wire.
_WS, _SSE, _SSE_CHUNK = 0, 1, 2


def ws_frame(item: Encoded) -> bytes:
    """The whole WebSocket text frame (a server's: final, unmasked)."""
    frame = item.wire.get(_WS)
    if frame is None:
        data = item.data
        size = len(data)
        if size < 126:
            head = struct.pack("!BB", 0x81, size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x81, 126, size)
        else:
            head = struct.pack("!BBQ", 0x81, 127, size)
        frame = item.wire[_WS] = head + data
    return frame


def sse_event(item: Encoded) -> bytes:
    """The Server-Sent Event: the seq as its id, the JSON as one data line."""
    event = item.wire.get(_SSE)
    if event is None:
        head = b"" if item.seq is None else b"id: %d\n" % item.seq
        event = item.wire[_SSE] = head + b"data: " + item.data + b"\n\n"
    return event


def sse_chunk(item: Encoded) -> bytes:
    """`sse_event` as one HTTP/1.1 chunk, for a chunked SSE response."""
    chunk = item.wire.get(_SSE_CHUNK)
    if chunk is None:
        event = sse_event(item)
        chunk = item.wire[_SSE_CHUNK] = b"%x\r\n%s\r\n" % (len(event), event)
    return chunk


def with_sse_retry(item: Encoded, delay_ms: int) -> Encoded:
    """`item` whose SSE form also tells EventSource to come back after `delay_ms` (the
    shutdown's reconnect message); its WebSocket form is unchanged."""
    item.wire[_SSE] = b"retry: %d\n" % delay_ms + sse_event(item)
    item.wire.pop(_SSE_CHUNK, None)
    return item


# Lists, not generators, for b"".join: it makes a list of a generator first anyway.
def ws_frames(batch: list[Encoded]) -> bytes:
    return ws_frame(batch[0]) if len(batch) == 1 else b"".join([ws_frame(i) for i in batch])


def sse_chunks(batch: list[Encoded]) -> bytes:
    return b"".join([sse_chunk(item) for item in batch])


def sse_bare(batch: list[Encoded]) -> bytes:
    return b"".join([sse_event(item) for item in batch])
