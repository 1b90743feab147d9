"""Every internal endpoint of every service, fed bad signatures and bad bodies: each
answers 400 or 401 (413 for a body over the limit) in the JSON error shape, never a
500, and keeps serving. The services run as they do in production, as subprocesses:
an ekg push node, the sotu collector (with its two flatdbs), a flatdb with backups on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from contract import events, signing
from testkit.services import PYTHON, Service

SECRET = "internal-endpoints-secret"
ENV = {"TM_INTERNAL_SECRET": SECRET}
GOOD_EVENT = json.dumps(events.make(
    events.MESSAGE_CREATED, "r", 1,
    {"id": 1, "nickname": "ann", "text": "hi", "html": "hi",
     "created": "2026-11-23T10:00:00.000Z"},
    datetime(2026, 11, 23, 10, tzinfo=UTC))).encode()

BAD_SIGNATURES = {
    "missing": None,
    "empty": "",
    "garbage": "garbage",
    "400 digits": "t=" + "9" * 400 + ",v1=ab",
    "negative": "t=-1,v1=ab",
    "float": "t=1e308,v1=ab",
    "nan": "t=nan,v1=ab",
    "latin-1": "t=1\u00e9,v1=\u00e9\u00e9",
    "no mac": "t=1800000000",
    "huge": "t=1," + "v1=" + "a" * 6000,
    "stale": None,  # filled in per request: a good MAC from 10 minutes ago
}

assert b'"seq": 1,' in GOOD_EVENT
BAD_BODIES = {
    "empty": b"",
    "100,000 [": b"[" * 100_000,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "not utf-8": b"\xff\xfe\x00{",
    "null": b"null",
    "a list": b"[]",
    "a string": b'"deleted_at"',
    "long number": b"9" * 5000,
    "huge seq": GOOD_EVENT.replace(b'"seq": 1,', b'"seq": ' + b"9" * 400 + b","),
    "wrong types": b'{"v":"1","type":1,"room":[],"seq":"1","ts":null,"data":"x"}',
    "bad deleted_at": b'{"deleted_at": "' + b"9" * 400 + b'"}',
    "script tags": b'{"deleted_at": "<script>alert(1)</script>"}',
}


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[dict[str, Service]]:
    tmp: Path = tmp_path_factory.mktemp("internal")
    started: list[Service] = []

    def start(name: str, *args: str) -> Service:
        service = Service(name, [PYTHON, *args], tmp, env=ENV).start()
        started.append(service)
        return service

    try:
        clouddb = start("clouddb", "-m", "flatdb", "--port", "0", "--database",
                        str(tmp / "clouddb"), "--backup-root", str(tmp / "backups"))
        tickdb = start("tickdb", "-m", "flatdb", "--port", "0", "--database",
                       str(tmp / "tickdb"))
        collector = start("collector", "-m", "sotu.collector", "--port", "0",
                          "--clouddb", clouddb.url, "--tickdb", tickdb.url)
        ekg = start("ekg", "-m", "ekg_py", "--host", "127.0.0.1", "--port", "0",
                    "--allowed-origin", "http://127.0.0.1:8000")
        yield {"ekg": ekg, "collector": collector, "flatdb": clouddb}
    finally:
        for service in started:
            service.stop()
        for service in started:
            assert "Traceback" not in Path(service.log_path).read_text(errors="replace"), (
                service.name, service.log_tail())


# (service, method, path, a body the endpoint takes)
ENDPOINTS = [
    ("ekg", "POST", "/internal/rooms/r/events", GOOD_EVENT),
    ("ekg", "DELETE", "/internal/rooms/r", events.deletion_body(datetime.now(UTC))),
    ("ekg", "POST", "/internal/presence",
     b'{"node":"n","instance":"i","n":1,"full":true,"ttl":30,"rooms":{}}'),
    ("collector", "POST", "/internal/rooms/r/events", GOOD_EVENT),
    ("collector", "DELETE", "/internal/rooms/r",
     events.deletion_body(datetime.now(UTC))),
    ("flatdb", "POST", "/backup", b'{"target": "fuzz"}'),
]
IDS = [f"{service} {method} {path}" for service, method, path, _ in ENDPOINTS]


def _send(service: Service, method: str, path: str, body: bytes,
          signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[signing.HEADER] = signature
    # requests sends str headers as latin-1, as a browser or curl could.
    return requests.request(method, service.url + path, data=body, headers=headers,
                            timeout=30)


def _is_json_error(response: requests.Response, statuses: set[int]) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str)


@pytest.mark.parametrize(("service", "method", "path", "body"), ENDPOINTS, ids=IDS)
def test_bad_signatures_are_401_in_the_json_shape(services, service, method, path, body):
    target = services[service]
    for name, header in BAD_SIGNATURES.items():
        if name == "stale":
            header = signing.sign(SECRET, method, path, body, now=time.time() - 600)
        response = _send(target, method, path, body, header)
        _is_json_error(response, {401})
        assert name and response.json()["error"]["message"]
    # The same request signed for another path, method or body is refused too.
    for other_method, other_path, other_body in [(method, path + "x", body),
                                                 ("PUT", path, body), (method, path, b"{}")]:
        header = signing.sign(SECRET, other_method, other_path, other_body)
        _is_json_error(_send(target, method, path, body, header), {401})


@pytest.mark.parametrize(("service", "method", "path", "body"), ENDPOINTS, ids=IDS)
def test_signed_bad_bodies_are_400_in_the_json_shape(services, service, method, path, body):
    target = services[service]
    for name, bad in BAD_BODIES.items():
        if name == "empty" and path == "/backup":
            continue  # no body: a backup under the default name, as documented
        response = _send(target, method, path, bad, signing.sign(SECRET, method, path, bad))
        assert response.status_code == 400, (name, response.status_code, response.text[:300])
        _is_json_error(response, {400})
    too_big = b'{"x": "' + b"a" * (2 << 20) + b'"}'
    response = _send(target, method, path, too_big, signing.sign(SECRET, method, path, too_big))
    _is_json_error(response, {400, 413})
    # Still serving, and a good request still works.
    assert requests.get(target.url + "/healthz", timeout=10).status_code == 200
    good = _send(target, method, path, body, signing.sign(SECRET, method, path, body))
    assert good.status_code < 300, good.text[:300]


BAD_ROOMS = ["Bio-101", "bio.101", "-bio", "x" * 41, "bio%0A", "b%C3%ADo"]


@pytest.mark.parametrize(("service", "method", "path", "body"),
                         [e for e in ENDPOINTS if "/rooms/r" in e[2]],
                         ids=[i for i in IDS if "/rooms/r" in i])
def test_signed_calls_for_what_is_not_a_room_name_are_400(services, service, method, path,
                                                          body):
    # contract/names.py's rule, checked by the shell's `signed` on every service alike:
    # a signature does not make a room of a name tm would never have made.
    for bad in BAD_ROOMS:
        bad_path = path.replace("/rooms/r", f"/rooms/{bad}", 1)
        response = _send(services[service], method, bad_path, body,
                         signing.sign(SECRET, method, bad_path, body))
        _is_json_error(response, {400})
        assert response.json()["error"]["code"] == "bad_room", (bad, response.text)
