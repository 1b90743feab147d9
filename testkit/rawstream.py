"""A push stream's handshake by hand, for clients that read their own socket (a client
that never reads, the benchmarks' load generator): the request, and the answer's head."""

from __future__ import annotations

import asyncio
import base64
import os
import socket


def stream_request(path: str, port: int, transport: str) -> bytes:
    """The GET that opens a WebSocket ("ws") or Server-Sent Events ("sse") stream."""
    if transport == "ws":
        key = base64.b64encode(os.urandom(16)).decode()
        return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n").encode()


async def open_stream(sock: socket.socket, path: str, port: int, transport: str,
                      read_size: int = 65536) -> tuple[bytes, bytes]:
    """Send the handshake on a connected non-blocking socket; (head, what came after
    it). ConnectionError when the server closes first or does not switch protocols
    (WebSocket: 101) or answer 200 (SSE)."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, stream_request(path, port, transport))
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = await loop.sock_recv(sock, read_size)
        if not chunk:
            raise ConnectionError("closed before the upgrade")
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101" if transport == "ws" else b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode("latin-1"))
    return head, rest
