"""HTTP requests from a chosen loopback address (127.0.0.2, .3, ...: Linux routes all of
127.0.0.0/8 to lo), so a server or a proxy sees each as a different client, as it
would the students of different schools."""

from __future__ import annotations

import http.client
import json


def request_from(source: str, port: int, method: str, path: str, body: dict | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict | None]:
    """One JSON request to 127.0.0.1:`port` from `source`: (status, JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(raw) if is_json and raw else None
    finally:
        conn.close()
