"""Helpers for the sotu tests: flatdb, collector, reflektor and ekg processes, signed events.

Every wait is a multiple of one time unit, TIME_SCALE seconds (TM_TEST_TIME_SCALE).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from contract import events, names, signing
from sotu.buckets import BUCKET_SECONDS, iso_second
from testkit.ports import free_port
from testkit.services import PYTHON, Service
from testkit.timing import TIME_SCALE, wait_until

UNIT = TIME_SCALE
SECRET = "sotu-test-secret"
ORIGIN = "http://127.0.0.1:8000"
ENV = {"TM_INTERNAL_SECRET": SECRET}

__all__ = ["UNIT", "SECRET", "ORIGIN", "wait_until", "start_flatdb", "start_collector",
           "start_charts_path", "message", "deleted", "room_updated", "post", "stored",
           "scan", "put", "bucket_of", "second_of", "past_moment"]


def start_flatdb(name: str, database: Path, log_dir: Path, port: int = 0) -> Service:
    return Service(name, [PYTHON, "-m", "flatdb", "--port", str(port),
                          "--database", str(database)], log_dir).start()


def start_collector(log_dir: Path, clouddb: str, tickdb: str, *args: str,
                    name: str = "collector") -> Service:
    return Service(name, [PYTHON, "-m", "sotu.collector", "--port", "0",
                          "--clouddb", clouddb, "--tickdb", tickdb,
                          "--flush-interval", str(0.1 * UNIT), *args],
                   log_dir, env=ENV).start()


def start_charts_path(log_dir: Path, clouddb: str, tickdb: str, *args: str,
                      name: str = "charts") -> tuple[Service, Service, Service]:
    """A collector that publishes its chart updates through a reflektor to an ekg node,
    as `make run` wires them: (collector, reflektor, ekg), started."""
    reflektor_port = free_port()
    ekg = Service(f"{name}-ekg", [PYTHON, "-m", "ekg_py", "--port", "0",
                                  "--allowed-origin", ORIGIN], log_dir, env=ENV).start()
    collector = start_collector(log_dir, clouddb, tickdb, "--publish",
                                f"http://127.0.0.1:{reflektor_port}",
                                "--chart-full-every", str(0.5 * UNIT), *args,
                                name=f"{name}-collector")
    reflektor = Service(f"{name}-reflektor", [
        PYTHON, "-m", "reflektor", "--port", str(reflektor_port), "--admin-port", "0",
        "--target", collector.url, "--target", ekg.url], log_dir).start()
    return collector, reflektor, ekg


def past_moment(seconds_ago: float = 30.0) -> datetime:
    """A moment whose word bucket is closed, so the collector writes it at once."""
    return datetime.fromtimestamp(time.time() - seconds_ago, UTC)


def bucket_of(moment: datetime) -> str:
    second = int(moment.timestamp())
    return iso_second(second - second % BUCKET_SECONDS)


def second_of(moment: datetime) -> str:
    return iso_second(int(moment.timestamp()))


def message(room: str, seq: int, text: str, ts: datetime | None = None,
            message_id: int | None = None) -> dict:
    data = {"id": message_id if message_id is not None else seq, "nickname": "ann",
            "text": text, "html": text, "created": events.iso_utc(ts or datetime.now(UTC))}
    return events.make(events.MESSAGE_CREATED, room, seq, data, ts or datetime.now(UTC))


def deleted(room: str, seq: int, message_id: int) -> dict:
    return events.make(events.MESSAGE_DELETED, room, seq, {"id": message_id},
                       datetime.now(UTC))


def room_updated(room: str, seq: int, **extra: Any) -> dict:
    data = {"topic": "", "state": "open", "paused_until": None, "moderated": False,
            "expires_at": "2099-01-01T00:00:00.000Z",
            # as tm sends them for a room made with the defaults
            "analytics": False, "event_scope": names.default_event(room), **extra}
    envelope = {"v": 1, "type": events.ROOM_UPDATED, "room": room, "seq": seq,
                "ts": events.iso_utc(datetime.now(UTC)), "data": data}
    return envelope


def post(base: str, event: Any = None, *, room: str | None = None, body: bytes | None = None,
         path: str | None = None, signature: str | None = "sign", sign_body: bytes | None = None,
         now: float | None = None, method: str = "POST") -> requests.Response:
    """Send an event as reflektor replays tm's request: signed over path and body."""
    if body is None:
        body = json.dumps(event, separators=(",", ":")).encode()
    if path is None:
        path = f"/internal/rooms/{room if room is not None else event['room']}/events"
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = signing.sign(SECRET, method, path,
                                 body if sign_body is None else sign_body, now=now)
    if signature is not None:
        headers[signing.HEADER] = signature
    return requests.request(method, base + path, data=body, headers=headers,
                            timeout=5 * UNIT)


def stored(base: str, key: str) -> Any:
    """The JSON value flatdb holds under `key`, or None."""
    response = requests.get(f"{base}/v1/keys/{requests.utils.quote(key, safe='')}",
                            timeout=5 * UNIT)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return json.loads(response.json()["value"])


def scan(base: str, prefix: str) -> dict[str, Any]:
    response = requests.get(f"{base}/v1/range", params={"prefix": prefix}, timeout=5 * UNIT)
    response.raise_for_status()
    return {item["key"]: json.loads(item["value"]) for item in response.json()}


def put(base: str, items: dict[str, Any]) -> None:
    body = {"put": [{"key": key, "value": json.dumps(value)} for key, value in items.items()]}
    requests.post(f"{base}/v1/batch", json=body, timeout=5 * UNIT).raise_for_status()
