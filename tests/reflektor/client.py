"""A running reflektor subprocess and small HTTP clients for its intake and admin ports."""

from __future__ import annotations

import http.client
import json
from typing import Any

from testkit.services import Service

# Short back-offs so retries happen within a fraction of a time unit; a short drain.
FAST_RETRIES = ("--retry-base", "0.01", "--retry-max", "0.05", "--drain-timeout", "2")


class Reflektor:
    """A running reflektor process and small clients for its two ports."""

    def __init__(self, service: Service) -> None:
        self.service = service

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def admin_port(self) -> int:
        assert self.service.admin_port is not None
        return self.service.admin_port

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None, port: int | None = None,
                timeout: float = 10) -> tuple[int, Any]:
        """One request on a fresh connection; returns (status, JSON body or raw bytes)."""
        connection = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data

    def post_event(self, seq: int, room: str = "bio-101", timeout: float = 10) -> int:
        body = json.dumps({"room": room, "seq": seq}).encode()
        status, _ = self.request("POST", f"/internal/rooms/{room}/events", body,
                                 {"Content-Type": "application/json",
                                  "X-TM-Signature": f"t=1,v1={seq:064x}"}, timeout=timeout)
        return status

    def admin(self, method: str, path: str) -> tuple[int, Any]:
        return self.request(method, path, port=self.admin_port)

    def metrics(self) -> dict[str, Any]:
        status, body = self.admin("GET", "/metrics")
        assert status == 200
        return body

    def target_metrics(self, url: str) -> dict[str, Any]:
        return self.metrics()["targets"][url]

    def log(self) -> str:
        return self.service.log_path.read_text(errors="replace")


def event_body(seq: int, room: str = "bio-101") -> bytes:
    """The body `Reflektor.post_event` sends, to compare with what targets received."""
    return json.dumps({"room": room, "seq": seq}).encode()
