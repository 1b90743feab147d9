"""Helpers for the API tests: the one error shape, "the database is unchanged", the
nasty request bodies every write endpoint must refuse, and an inert-HTML check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from tm.models import Event, Message, Participant, Room

JSON = "application/json"
MAX_BODY = 16 * 1024
# Any 32 letters and digits make a CSRF secret; a browser gets its own from Django.
CSRF_SECRET = "csrf0secret0for0the0api0tests012"
ERROR_KEYS = {"code", "message", "fields"}


def assert_error(response, status: int, code: str | None = None,
                 field: str | None = None) -> dict[str, Any]:
    """The response is the documented JSON error with this status (and code, field)."""
    assert response.status_code == status, (response.status_code, response.content[:400])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) <= ERROR_KEYS, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    if "fields" in error:
        assert isinstance(error["fields"], dict) and error["fields"], error
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert field in error.get("fields", {}), error
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer"), response.headers
    if status == 405:
        assert response["Allow"], response.headers
    if status == 429:
        assert int(response["Retry-After"]) >= 1, response.headers
    return error


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of tm's tables, in a comparable form."""
    return {model.__name__: list(model.objects.order_by("pk").values())
            for model in (Room, Participant, Message, Event)}


@contextmanager
def unchanged() -> Iterator[None]:
    """Assert the block leaves every row of rooms, participants, messages and events."""
    before = snapshot()
    yield
    after = snapshot()
    for table in before:
        assert after[table] == before[table], f"{table} changed"


def expire(name: str) -> None:
    """Make the room's lifetime run out (rooms are cached, so flush it too)."""
    Room.objects.filter(name=name).update(expires_at=timezone.now() - timedelta(seconds=1))
    cache.clear()


def set_room(name: str, **fields: Any) -> None:
    """Change a room behind the API's back, as another process would."""
    Room.objects.filter(name=name).update(**fields)
    cache.clear()


def use_csrf(api) -> dict[str, str]:
    """Give the client a CSRF cookie; returns the header a page's fetch() would send."""
    api.client.cookies["csrftoken"] = CSRF_SECRET
    return {"HTTP_X_CSRFTOKEN": CSRF_SECRET}


def cookie_only(api):
    """The same client, authenticating by its cookies alone (as a browser does)."""
    api.token = None
    return api


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_inert_html(html: str) -> None:
    """Only bleach's links: <a> with an http(s) href, rel and target; nothing that runs."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag == "a", html
        assert set(attrs) <= {"href", "rel", "target"}, html
        assert (attrs.get("href") or "").startswith(("http://", "https://")), html
    lowered = html.lower()
    assert "<script" not in lowered, html  # escaped markup is text, not a tag


def send(api, method: str, path: str, raw: bytes, content_type: str):
    """Send these exact bytes with this exact Content-Type (even with an empty body,
    where Django's test client would otherwise leave the header out)."""
    return api.call(method, path, raw=raw, content_type=content_type,
                    headers={"CONTENT_TYPE": content_type})


def _param(case_id: str, raw: bytes, status: int, code: str | None = None,
           content_type: str = JSON):
    return pytest.param(raw, content_type, status, code, id=case_id)


# (raw body, content type, status, error code): what every JSON write endpoint refuses.
NASTY_BODIES = [
    _param("empty", b"", 400, "invalid_json"),
    _param("whitespace", b"   ", 400, "invalid_json"),
    _param("blank-lines", b"\r\n\t \n", 400, "invalid_json"),
    _param("binary", b"\xff\xfe\x00binary", 400, "invalid_encoding"),
    _param("every-byte", bytes(range(256)), 400, "invalid_encoding"),
    _param("nul-bytes", b"\x00" * 32, 400, "invalid_json"),
    _param("latin-1", '{"text": "café"}'.encode("latin-1"), 400, "invalid_encoding"),
    _param("utf-16", '{"text": "hi"}'.encode("utf-16"), 400, "invalid_encoding"),
    _param("utf-8-bom", b'\xef\xbb\xbf{"text": "hi"}', 400, "invalid_json"),
    _param("truncated", b'{"a":', 400, "invalid_json"),
    _param("single-quotes", b"{'text': 'hi'}", 400, "invalid_json"),
    _param("trailing-garbage", b'{"text": "hi"} x', 400, "invalid_json"),
    _param("two-objects", b"{}{}", 400, "invalid_json"),
    _param("array", b"[]", 400, "invalid_json"),
    _param("string", b'"string"', 400, "invalid_json"),
    _param("null", b"null", 400, "invalid_json"),
    _param("number", b"42", 400, "invalid_json"),
    _param("true", b"true", 400, "invalid_json"),
    _param("number-over-4300-digits", b'{"text": ' + b"9" * 5000 + b"}", 400, "invalid_json"),
    _param("nested-arrays-5000-deep", b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),
    _param("nested-objects-2000-deep", b'{"a":' * 2000 + b"1" + b"}" * 2000, 400,
           "invalid_json"),
    _param("over-16-KiB", b'{"text": "' + b"a" * MAX_BODY + b'"}', 413, "too_large"),
    _param("3-MiB", b" " * (3 * 1024 * 1024), 413, "too_large"),
    _param("text-plain", b'{"text": "hi"}', 415, "unsupported_media_type", "text/plain"),
    _param("form", b"text=hi", 415, "unsupported_media_type",
           "application/x-www-form-urlencoded"),
    _param("multipart", b"--x\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi\r\n--x--",
           415, "unsupported_media_type", "multipart/form-data; boundary=x"),
    _param("broken-multipart", b"\xff garbage", 415, "unsupported_media_type",
           "multipart/form-data; boundary=x"),
    _param("no-content-type", b'{"text": "hi"}', 415, "unsupported_media_type", ""),
    _param("empty-without-content-type", b"", 415, "unsupported_media_type", ""),
    _param("json-patch", b'{"text": "hi"}', 415, "unsupported_media_type",
           "application/json-patch+json"),
]

# Values of the wrong JSON type for a string field.
NOT_STRINGS = [None, 0, 1.5, True, [], ["x"], {}, {"a": "b"}]
# Values of the wrong JSON type for a boolean field (0 and 1 are numbers, not booleans).
NOT_BOOLEANS = [None, 0, 1, "true", "false", "", [], {}, [True]]
# Values of the wrong JSON type for a whole-number field (True is not 1).
NOT_INTEGERS = [None, True, False, "3600", 3600.0, 3600.5, [], [3600], {}, {"n": 3600}]
# Not valid as any text: a lone surrogate (JSON's "\ud800") and NUL.
BROKEN_TEXT = ["\ud800", "a\udfffb", "a\x00b", "bell\x07"]
